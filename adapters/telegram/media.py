"""Files on a Telegram message as botgate attachments (file id, name, mime type, size)."""

from __future__ import annotations

from adapters.telegram.wire import File, Message, Sticker
from gateway.events import Attachment

# An animation (GIF) also arrives as a `document`: listed first, the document is then skipped.
_FILE_KINDS = ("animation", "document", "audio", "video", "voice", "video_note")


def attachments(message: Message) -> list[Attachment]:
    found: list[Attachment] = []
    if message.photo:
        found.append(_photo(message.photo[-1]))  # the largest size
    for kind in _FILE_KINDS:
        media: File | None = getattr(message, kind)
        if media is None or (kind == "document" and message.animation is not None):
            continue
        found.append(
            Attachment(
                kind=kind,
                id=media.file_id,
                name=media.file_name,
                mime_type=media.mime_type,
                size=media.file_size,
            )
        )
    if message.sticker is not None:
        found.append(_sticker(message.sticker))
    return found


def _photo(photo: File) -> Attachment:
    return Attachment(kind="photo", id=photo.file_id, mime_type="image/jpeg", size=photo.file_size)


def _sticker(sticker: Sticker) -> Attachment:
    if sticker.is_video:
        mime = "video/webm"
    elif sticker.is_animated:
        mime = "application/x-tgsticker"
    else:
        mime = "image/webp"
    return Attachment(
        kind="sticker",
        id=sticker.file_id,
        name=sticker.emoji,
        mime_type=mime,
        size=sticker.file_size,
    )
