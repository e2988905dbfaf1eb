"""One parser per file format, chosen by the file's suffix.

Each takes the file's name and bytes and returns a `ParsedDocument`, or raises
`DocumentError` with the reason. Parsers are synchronous and CPU-bound: callers run them in
a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.kb.documents import ParsedDocument
from gateway.kb.errors import DocumentError
from gateway.kb.formats import html, markdown, pdf, rst, text

Parser = Callable[[str, bytes], ParsedDocument]

PARSERS: dict[str, tuple[str, Parser]] = {
    ".md": ("markdown", markdown.parse),
    ".markdown": ("markdown", markdown.parse),
    ".txt": ("text", text.parse),
    ".text": ("text", text.parse),
    ".html": ("html", html.parse),
    ".htm": ("html", html.parse),
    ".xhtml": ("html", html.parse),
    ".rst": ("restructuredtext", rst.parse),
    ".rest": ("restructuredtext", rst.parse),
    ".pdf": ("pdf", pdf.parse),
}


def format_of(name: str) -> str | None:
    """The format of a file name (`markdown`, `html`...), or None when it is not supported."""
    entry = PARSERS.get(_suffix(name))
    return entry[0] if entry else None


def parse(name: str, data: bytes) -> ParsedDocument:
    entry = PARSERS.get(_suffix(name))
    if entry is None:
        supported = ", ".join(sorted(PARSERS))
        raise DocumentError(f"unsupported file type; botgate reads {supported}")
    kind, parser = entry
    try:
        document = parser(name, data)
    except RecursionError:
        raise DocumentError(f"{kind} nested too deeply to read") from None
    return ParsedDocument(document.title, document.blocks, {"format": kind, **document.metadata})


def _suffix(name: str) -> str:
    base = name.rsplit("/", 1)[-1]
    return "." + base.rsplit(".", 1)[-1].lower() if "." in base else ""
