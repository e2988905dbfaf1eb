"""Text as Telegram reads it: MarkdownV2 and HTML parsed into plain text and entities, the
command and mention entities it marks in what users write, UTF-16 lengths, and the Bot API's
own 400 answers for text it refuses."""

from __future__ import annotations

import html
import re
from typing import Any

Json = dict[str, Any]
MAX_TEXT = 4096
MAX_CAPTION = 1024


class ApiError(Exception):
    """A Bot API error answer: `error_code` and Telegram's own `description`."""

    def __init__(self, error_code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.retry_after = retry_after

    def body(self) -> Json:
        body: Json = {"ok": False, "error_code": self.error_code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


def formatted_text(params: Json) -> tuple[str, list[Json]]:
    """A message's `text` with its `parse_mode` or `entities`, as Telegram stores it."""
    text = params.get("text")
    if not isinstance(text, str) or not text.strip():
        raise bad("message text is empty")
    text, entities = _parsed(text, params, "entities")
    if not text:
        raise bad("message text is empty")
    if utf16_len(text) > MAX_TEXT:
        raise bad("message is too long")
    return text, entities


def formatted_caption(params: Json) -> tuple[str, list[Json]]:
    """A media message's `caption` (may be empty) with its `parse_mode` or `caption_entities`."""
    caption = params.get("caption")
    if not isinstance(caption, str) or not caption.strip():
        return "", []
    caption, entities = _parsed(caption, params, "caption_entities")
    if utf16_len(caption) > MAX_CAPTION:
        raise bad("message caption is too long")
    return caption, entities


def _parsed(text: str, params: Json, entities_key: str) -> tuple[str, list[Json]]:
    mode = str(params.get("parse_mode") or "").lower()
    if mode == "markdownv2":
        text, entities = parse_markdown_v2(text)
    elif mode == "html":
        text, entities = _strip_html(text), []
    else:
        given = params.get(entities_key)
        entities = given if isinstance(given, list) else []
    return _trimmed(text, entities)


def _trimmed(text: str, entities: list[Json]) -> tuple[str, list[Json]]:
    """Telegram drops white space around a text; entities move and shrink with it."""
    lead = utf16_len(text) - utf16_len(text.lstrip())
    trimmed = text.strip()
    size = utf16_len(trimmed)
    kept = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, size)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return trimmed, kept


def _strip_html(text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


_COMMAND = re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")
_MENTION = re.compile(r"(?<![\w@])@[A-Za-z0-9_]{4,32}")


def message_entities(text: str) -> list[Json]:
    """The `bot_command` and `mention` entities Telegram marks in a text it receives."""
    found = [("bot_command", m) for m in _COMMAND.finditer(text)]
    found += [("mention", m) for m in _MENTION.finditer(text)]
    found.sort(key=lambda item: item[1].start())
    return [
        {"offset": utf16_len(text[: m.start()]), "length": utf16_len(m[0]), "type": kind}
        for kind, m in found
    ]


# MarkdownV2, parsed as Telegram parses it

_RESERVED = set("_*[]()~`>#+-=|{}.!")
_STYLE_MARKERS = (
    ("||", "spoiler"),
    ("__", "underline"),
    ("*", "bold"),
    ("_", "italic"),
    ("~", "strikethrough"),
)


class _MarkdownV2:
    def __init__(self, text: str) -> None:
        self.text = text
        self.index = 0
        self.out: list[str] = []
        self.offset = 0  # UTF-16 units written so far
        self.entities: list[Json] = []
        self.open: list[tuple[str, int, int]] = []  # (type, offset, byte position of the marker)

    def parse(self) -> tuple[str, list[Json]]:
        while self.index < len(self.text):
            self.step()
        self.close_quote()
        if self.open:
            kind, _, position = self.open[-1]
            raise bad(
                f"can't parse entities: Can't find end of {kind.title()} entity "
                f"at byte offset {position}"
            )
        return "".join(self.out), sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))

    def emit(self, text: str) -> None:
        self.out.append(text)
        self.offset += utf16_len(text)

    def byte_position(self) -> int:
        return len(self.text[: self.index].encode())

    def step(self) -> None:
        text, char = self.text, self.text[self.index]
        if char == "\\":
            self.escaped()
        elif text.startswith("```", self.index):
            self.pre()
        elif char == "`":
            self.code()
        elif char == ">" and self.at_line_start():
            self.open_quote()
        elif char == "\n":
            self.close_quote()
            self.emit(char)
            self.index += 1
        elif char == "[":
            self.open.append(("text_link", self.offset, self.byte_position()))
            self.index += 1
        elif char == "]":
            self.link_end()
        else:
            self.style_or_char(char)

    def escaped(self) -> None:
        following = self.text[self.index + 1 : self.index + 2]
        if not following or not 0 < ord(following) < 127:
            raise bad(
                "can't parse entities: Character '\\' is reserved "
                "and must be escaped with the preceding '\\'"
            )
        self.emit(following)
        self.index += 2

    def style_or_char(self, char: str) -> None:
        for marker, kind in _STYLE_MARKERS:
            if self.text.startswith(marker, self.index):
                self.toggle(kind)
                self.index += len(marker)
                return
        if char in _RESERVED:
            raise bad(
                f"can't parse entities: Character '{char}' is reserved and must be escaped "
                "with the preceding '\\'"
            )
        self.emit(char)
        self.index += 1

    def toggle(self, kind: str) -> None:
        if self.open and self.open[-1][0] == kind:
            _, start, _ = self.open.pop()
            self.add(kind, start)
        elif any(entry[0] == kind for entry in self.open):
            raise bad(f"can't parse entities: Can't find end of {kind.title()} entity")
        else:
            self.open.append((kind, self.offset, self.byte_position()))

    def add(self, kind: str, start: int, **extra: Any) -> None:
        if self.offset > start:
            self.entities.append(
                {"offset": start, "length": self.offset - start, "type": kind, **extra}
            )

    def literal_until(self, end: str) -> str:
        """Text up to `end`, where only '\\' escapes (code, pre, link URLs)."""
        chars: list[str] = []
        while self.index < len(self.text):
            if self.text.startswith(end, self.index):
                self.index += len(end)
                return "".join(chars)
            step = 2 if self.text[self.index] == "\\" and self.index + 1 < len(self.text) else 1
            chars.append(self.text[self.index + step - 1])
            self.index += step
        raise bad(
            "can't parse entities: Can't find end of the entity starting "
            f"at byte offset {self.byte_position()}"
        )

    def code(self) -> None:
        start = self.offset
        self.index += 1
        self.emit(self.literal_until("`"))
        self.add("code", start)

    def pre(self) -> None:
        start = self.offset
        self.index += 3
        body = self.literal_until("```")
        first, newline, rest = body.partition("\n")
        language = first.strip() if newline and first.strip() and " " not in first.strip() else None
        code = rest if language is not None or (newline and not first.strip()) else body
        self.emit(code.removesuffix("\n"))  # the line break before the closing fence
        self.add("pre", start, **({"language": language} if language else {}))

    def link_end(self) -> None:
        if (
            not self.open
            or self.open[-1][0] != "text_link"
            or not self.text.startswith("](", self.index)
        ):
            raise bad(
                "can't parse entities: Character ']' is reserved "
                "and must be escaped with the preceding '\\'"
            )
        _, start, _ = self.open.pop()
        self.index += 2
        url = self.literal_until(")")
        self.add("text_link", start, url=url)

    def at_line_start(self) -> bool:
        return self.index == 0 or self.text[self.index - 1] == "\n"

    def open_quote(self) -> None:
        self.open.append(("blockquote", self.offset, self.byte_position()))
        self.index += 1

    def close_quote(self) -> None:
        if self.open and self.open[-1][0] == "blockquote":
            _, start, _ = self.open.pop()
            self.add("blockquote", start)


def parse_markdown_v2(text: str) -> tuple[str, list[Json]]:
    """Plain text and entities of a MarkdownV2 text, or ApiError 400 as Telegram answers."""
    return _MarkdownV2(text).parse()
