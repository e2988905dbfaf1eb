"""Files in the emulated Bot API: uploads taken from multipart requests, and the media objects
(`PhotoSize`, `Document`, `Video`, ...) Telegram answers with, holding the fields the SDKs
require."""

from __future__ import annotations

import itertools
import mimetypes
from dataclasses import dataclass
from typing import Any

Json = dict[str, Any]

# sendX method -> the parameter holding the file, which is also the message's field.
MEDIA_METHODS = {
    "sendphoto": "photo",
    "senddocument": "document",
    "sendvideo": "video",
    "sendaudio": "audio",
    "sendvoice": "voice",
    "sendanimation": "animation",
    "sendsticker": "sticker",
}
# The kinds sendMediaGroup takes.
GROUP_KINDS = {"photo", "video", "document", "audio"}
# Width, height and duration Telegram reports; the emulator does not decode the file.
_SIZE = {"width": 640, "height": 480}
_EXTRA: dict[str, Json] = {
    "video": {**_SIZE, "duration": 1},
    "animation": {**_SIZE, "duration": 1},
    "audio": {"duration": 1},
    "voice": {"duration": 1},
    "sticker": {"type": "regular", "width": 512, "height": 512, "is_animated": False,
                "is_video": False},
}
_FOLDER = {"photo": "photos", "sticker": "stickers", "voice": "voice", "audio": "music"}


@dataclass(frozen=True)
class Upload:
    """A file the bot uploaded in a multipart request."""

    filename: str
    content_type: str
    content: bytes


class FileStore:
    """The files the emulated Telegram knows: `file_id` -> (File object, content, name)."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[Json, bytes]] = {}
        self.names: dict[str, str] = {}
        self._ids = itertools.count(1)

    def add(self, file_id: str, content: bytes, file_path: str, name: str = "") -> Json:
        info: Json = {
            "file_id": file_id,
            "file_unique_id": f"u{abs(hash(file_id)) % 10**10}",
            "file_size": len(content),
            "file_path": file_path,
        }
        self.files[file_id] = (info, content)
        self.names[file_id] = name or file_path.rsplit("/", 1)[-1]
        return info

    def new(self, kind: str, upload: Upload) -> Json:
        """Store an upload; its File object."""
        number = next(self._ids)
        file_id = f"{kind[:2].upper()}AgAC{number:08d}emulated"
        extension = mimetypes.guess_extension(upload.content_type) or ""
        path = f"{_FOLDER.get(kind, kind + 's')}/file_{number}{extension}"
        return self.add(file_id, upload.content, path, upload.filename)

    def media(self, kind: str, info: Json, upload: Upload | None) -> Json | list[Json]:
        """The message field for a file of `kind`: a list of sizes for a photo."""
        base = {k: info[k] for k in ("file_id", "file_unique_id", "file_size")}
        if kind == "photo":
            thumb = {**base, "file_unique_id": base["file_unique_id"] + "s", "width": 90,
                     "height": 67}
            return [thumb, {**base, **_SIZE}]
        media: Json = {**base, **_EXTRA.get(kind, {})}
        if kind in {"document", "video", "audio", "animation"}:
            media["file_name"] = self.names.get(info["file_id"], "file")
            media["mime_type"] = (
                upload.content_type if upload else "application/octet-stream"
            )
        return media
