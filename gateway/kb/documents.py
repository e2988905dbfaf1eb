"""What every format parser produces: a title and blocks of text under their headings."""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field

from gateway.kb.errors import DocumentError, EmptyDocument


@dataclass(frozen=True)
class Block:
    """A paragraph-like piece of text and the heading path it sits under (outermost first)."""

    headings: tuple[str, ...]
    text: str


@dataclass(frozen=True)
class ParsedDocument:
    title: str
    blocks: tuple[Block, ...]
    metadata: dict[str, object] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "\n\n".join(block.text for block in self.blocks)


class Outline:
    """Collects blocks while a parser walks a document: a heading stack and inline text."""

    def __init__(self) -> None:
        self._stack: list[tuple[int, str]] = []  # (level, heading)
        self._inline: list[str] = []
        self.blocks: list[Block] = []

    def heading(self, level: int, text: str) -> None:
        self.flush()
        text = " ".join(text.split())
        if not text:
            return
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        self._stack.append((level, text))

    def leave(self, level: int) -> None:
        """Close the headings at `level` and deeper (a section or a definition ended)."""
        self.flush()
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()

    def inline(self, text: str) -> None:
        self._inline.append(text)

    def flush(self) -> None:
        """End the current block of inline text."""
        if self._inline:
            self.block(" ".join("".join(self._inline).split()))
            self._inline.clear()

    def block(self, text: str) -> None:
        text = text.strip()
        if text:
            self.blocks.append(Block(tuple(h for _, h in self._stack), text))

    def document(self, title: str, **metadata: object) -> ParsedDocument:
        self.flush()
        if not self.blocks:
            raise EmptyDocument("no text to import")
        return ParsedDocument(title or "Untitled", tuple(self.blocks), dict(metadata))


def decode_utf8(data: bytes) -> str:
    """The text of a UTF-8 file (a byte-order mark is dropped); DocumentError otherwise."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "convert it to UTF-8 first, e.g. with iconv"
        ) from None


def known_encoding(name: str) -> str | None:
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def title_from_name(name: str) -> str:
    """`refund-policy.md` -> `refund policy`: a title for files that carry none."""
    stem = name.rsplit("/", 1)[-1].split(".", 1)[0]
    return " ".join(stem.replace("_", " ").replace("-", " ").split()) or name
