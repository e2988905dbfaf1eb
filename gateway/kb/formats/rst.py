"""reStructuredText through docutils' document tree.

Sections build the heading path; paragraphs, literal blocks, list items, definitions and
table rows become blocks. Directives that read files or pass raw output (`include`, `raw`)
are disabled: an imported document must not pull in other files. Markup docutils does not
know (Sphinx roles and directives) is left out rather than failing the file.
"""

from __future__ import annotations

import io

from docutils import nodes
from docutils.core import publish_doctree
from docutils.utils import SystemMessage

from gateway.kb.documents import Outline, ParsedDocument, decode_utf8, title_from_name
from gateway.kb.errors import DocumentError

_SETTINGS = {
    "report_level": 5,  # quiet: no messages on standard error
    "halt_level": 5,  # never stop on a problem in the markup
    "warning_stream": io.StringIO(),
    "file_insertion_enabled": False,
    "raw_enabled": False,
    "input_encoding": "unicode",
    "syntax_highlight": "none",
}
_LITERAL = (nodes.literal_block, nodes.doctest_block, nodes.line_block)
_LEAVES = (nodes.paragraph, nodes.term, nodes.row, nodes.field_name, *_LITERAL)


def parse(name: str, data: bytes) -> ParsedDocument:
    source = decode_utf8(data)
    try:
        tree = publish_doctree(source, settings_overrides={**_SETTINGS})
    except SystemMessage as exc:
        raise DocumentError(f"not valid reStructuredText ({exc})") from None
    outline = Outline()
    title = tree.get("title") or ""
    _walk(tree, outline, 1)
    return outline.document(title or title_from_name(name))


def _walk(node: nodes.Node, outline: Outline, level: int) -> None:
    for child in node.children:
        if isinstance(child, nodes.system_message | nodes.comment | nodes.substitution_definition):
            continue
        if isinstance(child, nodes.title) and isinstance(node, nodes.section):
            outline.heading(level - 1, child.astext())
        elif isinstance(child, nodes.title | nodes.subtitle) and isinstance(node, nodes.document):
            continue
        elif isinstance(child, nodes.section):
            _walk(child, outline, level + 1)
            outline.leave(level)
        elif isinstance(child, _LEAVES):
            text = child.astext()
            outline.block(text if isinstance(child, _LITERAL) else " ".join(text.split()))
        elif isinstance(child, nodes.Element):
            _walk(child, outline, level)
