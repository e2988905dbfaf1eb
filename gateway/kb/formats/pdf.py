"""PDF: the text layer, page by page (pypdf). The outline (bookmarks), when there is one,
names the section of each page; the page number is always in the heading.

A PDF without a text layer (a scan) is refused with what to do: run OCR first.
"""

from __future__ import annotations

import io
import logging
from typing import Any

from pypdf import PdfReader
from pypdf.errors import PdfReadError, PyPdfError

from gateway.kb.documents import Outline, ParsedDocument, title_from_name
from gateway.kb.errors import DocumentError
from gateway.kb.formats.text import paragraphs

# pypdf logs every repairable defect of a file at WARNING; the import reports what matters.
logging.getLogger("pypdf").setLevel(logging.ERROR)


def parse(name: str, data: bytes) -> ParsedDocument:
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError("the PDF is encrypted with a password; save a copy without it")
        pages = [page.extract_text() or "" for page in reader.pages]
        sections = _sections(reader)
        meta_title = (reader.metadata.title if reader.metadata else None) or ""
    except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError) as exc:
        raise DocumentError(f"not a readable PDF ({exc})") from None
    if not any(page.strip() for page in pages):
        raise DocumentError(
            "the PDF has no text layer (a scan?); run OCR first, e.g. `ocrmypdf in.pdf out.pdf`"
        )
    outline = Outline()
    for number, page_text in enumerate(pages, start=1):
        section = sections.get(number)
        outline.heading(1, f"{section}, page {number}" if section else f"page {number}")
        for paragraph in paragraphs(page_text):
            outline.block(paragraph)
    return outline.document(meta_title.strip() or title_from_name(name), pages=len(pages))


def _sections(reader: PdfReader) -> dict[int, str]:
    """Page number -> title of the outline entry that page falls under."""
    starts: list[tuple[int, str]] = []
    _flatten(reader, reader.outline, starts)
    if not starts:
        return {}
    starts.sort()
    sections: dict[int, str] = {}
    for number in range(1, len(reader.pages) + 1):
        current = [title for start, title in starts if start <= number]
        if current:
            sections[number] = current[-1]
    return sections


def _flatten(reader: PdfReader, entries: Any, into: list[tuple[int, str]]) -> None:
    for entry in entries:
        if isinstance(entry, list):
            _flatten(reader, entry, into)
            continue
        page = reader.get_destination_page_number(entry)
        title = " ".join(str(entry.title or "").split())
        if page is not None and page >= 0 and title:
            into.append((page + 1, title))
