"""Markdown (CommonMark with tables) through markdown-it-py's token stream.

Headings build the heading path; paragraphs, list items, code blocks and table rows become
blocks. A YAML front matter's `title:` is the title, else the first level-1 heading, else
the file name.
"""

from __future__ import annotations

from markdown_it import MarkdownIt
from markdown_it.token import Token

from gateway.kb.documents import Outline, ParsedDocument, decode_utf8, title_from_name

_BLOCK_INLINE = {"paragraph_open", "th_open", "td_open"}


def parse(name: str, data: bytes) -> ParsedDocument:
    source, front_title = _front_matter(decode_utf8(data))
    tokens = MarkdownIt("commonmark").enable("table").parse(source)
    outline = Outline()
    first_h1 = _walk(tokens, outline)
    return outline.document(front_title or first_h1 or title_from_name(name))


def _walk(tokens: list[Token], outline: Outline) -> str | None:
    first_h1: str | None = None
    for index, token in enumerate(tokens):
        if token.type == "heading_open":
            text = inline_text(tokens[index + 1])
            level = int(token.tag[1])
            if level == 1 and first_h1 is None:
                first_h1 = text
            outline.heading(level, text)
        elif token.type in {"fence", "code_block"}:
            outline.block(token.content)
        elif token.type == "html_block":
            outline.block(_html_text(token.content))
        elif token.type == "inline" and tokens[index - 1].type in _BLOCK_INLINE:
            outline.inline(inline_text(token) + " ")
        elif token.type in {"paragraph_close", "tr_close"}:
            outline.flush()
    return first_h1


def inline_text(token: Token) -> str:
    """The visible text of an inline token: link and emphasis markup left out."""
    parts: list[str] = []
    for child in token.children or []:
        if child.type in {"text", "code_inline", "html_inline"}:
            parts.append(child.content if child.type != "html_inline" else "")
        elif child.type in {"softbreak", "hardbreak"}:
            parts.append(" ")
        elif child.type == "image":
            parts.append(child.content)
    return "".join(parts).strip()


def _html_text(source: str) -> str:
    from selectolax.lexbor import LexborHTMLParser

    return LexborHTMLParser(source).text(separator=" ") or ""


def _front_matter(text: str) -> tuple[str, str | None]:
    """Split off a leading `---` ... `---` block; its `title:` line, if any."""
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return text, None
    for end in range(1, len(lines)):
        if lines[end].strip() in {"---", "..."}:
            title = next(
                (
                    line.split(":", 1)[1].strip().strip("\"'")
                    for line in lines[1:end]
                    if line.lower().startswith("title:")
                ),
                None,
            )
            return "\n".join(lines[end + 1 :]), title or None
    return text, None
