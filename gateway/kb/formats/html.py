"""HTML: the page's main content, through the lexbor parser (selectolax).

Main content: the page's `<main>` (or `role="main"`, or `<article>`), else its body, less
what pages use for navigation and chrome: navigation, banner and footer landmarks,
`<nav>`, `<aside>`, scripts and forms, and elements whose class or id names a navigation
bar, sidebar, breadcrumb, menu, footer or table of contents. Headings (and definition terms
that carry an id, as API references write their entries) build the heading path;
paragraphs, list items, table rows and preformatted text become blocks.
"""

from __future__ import annotations

from selectolax.lexbor import LexborHTMLParser, LexborNode

from gateway.kb.documents import (
    Outline,
    ParsedDocument,
    decode_utf8,
    known_encoding,
    title_from_name,
)
from gateway.kb.errors import EmptyDocument

_REMOVED = (
    "script, style, noscript, template, svg, canvas, iframe, object, form, button, select,"
    " nav, aside, body > header, body > footer, [role=navigation], [role=banner],"
    " [role=contentinfo], [role=search], [role=complementary], [hidden], [aria-hidden=true],"
    " a.headerlink"
)
_CHROME_WORDS = frozenset(
    {
        "nav", "navbar", "navheader", "navfooter", "navigation", "sidebar", "sphinxsidebar",
        "breadcrumb", "breadcrumbs", "menu", "footer", "cookie", "cookies", "skip-link",
        "toc", "toctree-wrapper",
    }
)  # fmt: skip
_HEADINGS = {f"h{level}": level for level in range(1, 7)}
_BLOCKS = frozenset(
    {
        "address", "article", "blockquote", "caption", "dd", "details", "div", "dl", "dt",
        "fieldset", "figcaption", "figure", "footer", "header", "hgroup", "hr", "li", "main",
        "ol", "p", "section", "summary", "table", "tbody", "td", "tfoot", "th", "thead", "ul",
    }
)  # fmt: skip
_TERM_LEVEL = 10  # definition terms with an id nest below every <hN>


def parse(name: str, data: bytes) -> ParsedDocument:
    page = LexborHTMLParser(_decode(data))
    title_node = page.css_first("title")
    page_title = " ".join((title_node.text() if title_node else "").split())
    root = page.css_first("main, [role=main], article") or page.body
    if root is None:
        raise EmptyDocument("no text to import")
    _strip_chrome(root)
    h1 = root.css_first("h1")
    title = " ".join(h1.text().split()) if h1 is not None else ""
    outline = Outline()
    _walk(root, outline, 0)
    return outline.document(title or page_title or title_from_name(name))


def _decode(data: bytes) -> str:
    """UTF-8, or the encoding the page declares in a `<meta>` tag."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        declared = _declared_encoding(data[:4096].decode("latin-1"))
        if declared is None:
            decode_utf8(data)  # raises with the offending byte
        return data.decode(declared or "utf-8", errors="replace")


def _declared_encoding(head: str) -> str | None:
    page = LexborHTMLParser(head)
    meta = page.css_first("meta[charset]")
    if meta is not None:
        return known_encoding(meta.attributes.get("charset") or "")
    for meta in page.css("meta[http-equiv]"):
        content = (meta.attributes.get("content") or "").lower()
        if "charset=" in content:
            return known_encoding(content.split("charset=", 1)[1].strip(" ;\"'"))
    return None


def _strip_chrome(root: LexborNode) -> None:
    for node in root.css(_REMOVED):
        node.decompose()
    for node in root.css("[class], [id]"):
        words = f"{node.attributes.get('class') or ''} {node.attributes.get('id') or ''}"
        if _CHROME_WORDS.intersection(words.lower().split()):
            node.decompose()


def _walk(node: LexborNode, outline: Outline, lists: int) -> None:
    for child in node.iter(include_text=True):
        tag = child.tag
        if tag == "-text":
            outline.inline(child.text(deep=False))
        elif tag in _HEADINGS:
            outline.heading(_HEADINGS[tag], child.text())
        elif tag == "pre":
            outline.flush()
            outline.block(child.text())
        elif tag == "tr":
            outline.flush()
            outline.block(" | ".join(_cells(child)))
        elif tag == "dt" and child.attributes.get("id"):
            outline.heading(_TERM_LEVEL + lists, child.text())
        elif tag == "dl":
            outline.flush()
            _walk(child, outline, lists + 1)
            outline.leave(_TERM_LEVEL + lists + 1)
        elif tag == "br":
            outline.inline(" ")
        elif tag in _BLOCKS:
            outline.flush()
            _walk(child, outline, lists)
            outline.flush()
        elif tag is not None and not tag.startswith("-"):
            _walk(child, outline, lists)


def _cells(row: LexborNode) -> list[str]:
    cells = (cell for cell in row.iter() if cell.tag in {"td", "th"})
    return [" ".join(cell.text(separator=" ").split()) for cell in cells]
