"""Plain text: paragraphs are separated by blank lines; the file name is the title."""

from __future__ import annotations

from gateway.kb.documents import Outline, ParsedDocument, decode_utf8, title_from_name


def parse(name: str, data: bytes) -> ParsedDocument:
    outline = Outline()
    for paragraph in paragraphs(decode_utf8(data)):
        outline.block(paragraph)
    return outline.document(title_from_name(name))


def paragraphs(text: str) -> list[str]:
    """Blank-line separated paragraphs, each with its lines joined."""
    found: list[str] = []
    current: list[str] = []
    for line in text.splitlines():
        if line.strip():
            current.append(line.strip())
        elif current:
            found.append(" ".join(current))
            current = []
    if current:
        found.append(" ".join(current))
    return found
