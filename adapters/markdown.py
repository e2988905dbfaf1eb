"""Markdown as models and bots write it (CommonMark with tables and strikethrough), parsed by
a real parser (markdown-it-py) into a tree that each platform renders its own way
(adapters/slack/mrkdwn.py, adapters/discord/markdown.py). Raw HTML is shown as text.

`Renderer` walks the blocks (paragraphs, headings, lists nested to any depth, quotes, code,
tables) and leaves the inline marks and the text escapes to the platform."""

from __future__ import annotations

from collections.abc import Sequence

from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

_PARSER = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


def parse(markdown: str) -> SyntaxTreeNode:
    return SyntaxTreeNode(_PARSER.parse(markdown))


def plain(node: SyntaxTreeNode) -> str:
    """The text of `node` without any marks (for link labels, headings, table cells)."""
    if node.type in ("text", "code_inline", "html_inline"):
        return node.content
    if node.type in ("softbreak", "hardbreak"):
        return " "
    if node.type == "image":
        return plain_children(node) or str(node.attrs.get("alt") or "")
    return plain_children(node)


def plain_children(node: SyntaxTreeNode) -> str:
    return "".join(plain(child) for child in node.children)


class Renderer:
    """Blocks to text; subclasses say how marks are written (`wraps`), and render text, code,
    links and headings."""

    bullet = "•"
    indent = "  "
    wraps: dict[str, str] = {}  # strong, em, s: what goes on both sides

    def render(self, markdown: str) -> str:
        return "\n\n".join(self.blocks(parse(markdown).children)).strip("\n")

    def blocks(self, nodes: Sequence[SyntaxTreeNode]) -> list[str]:
        return [text for node in nodes if (text := self.block(node))]

    def block(self, node: SyntaxTreeNode) -> str:
        kind = node.type
        if kind == "paragraph":
            return self.inline(node.children[0]) if node.children else ""
        if kind == "heading":
            return self.heading(int(node.tag[1]), node.children[0] if node.children else node)
        if kind in ("bullet_list", "ordered_list"):
            return self.list(node)
        if kind == "blockquote":
            inner = "\n".join(self.blocks(node.children))
            return "\n".join(self.quote(line) for line in inner.split("\n"))
        if kind in ("fence", "code_block"):
            return self.code(node.content, node.info.strip() if kind == "fence" else "")
        if kind == "table":
            return self.code(_table_text(node), "")
        if kind == "hr":
            return "———"
        return self.text(node.content)  # html_block and the like: shown as written

    def list(self, node: SyntaxTreeNode) -> str:
        start = int(node.attrs.get("start") or 1)
        lines = []
        for number, item in enumerate(node.children, start):
            marker = f"{number}." if node.type == "ordered_list" else self.bullet
            inner = "\n".join(self.blocks(item.children)).split("\n")
            lines.append(f"{marker} {inner[0]}")
            lines += [f"{self.indent}{line}" if line else line for line in inner[1:]]
        return "\n".join(lines)

    def inline(self, node: SyntaxTreeNode) -> str:
        return "".join(self.mark(child) for child in node.children)

    def children(self, node: SyntaxTreeNode) -> str:
        return "".join(self.mark(child) for child in node.children)

    def mark(self, node: SyntaxTreeNode) -> str:
        kind = node.type
        if kind == "text":
            return self.text(node.content)
        if kind in ("softbreak", "hardbreak"):
            return "\n"
        if kind == "code_inline":
            return self.code_span(node.content)
        if kind in self.wraps:
            return f"{self.wraps[kind]}{self.children(node)}{self.wraps[kind]}"
        if kind == "link":
            return self.link(str(node.attrs["href"]), plain_children(node))
        if kind == "image":
            return self.link(str(node.attrs["src"]), plain(node), image=True)
        return self.text(plain(node))

    # to override

    def code_span(self, content: str) -> str:
        raise NotImplementedError

    def link(self, url: str, label: str, image: bool = False) -> str:
        raise NotImplementedError

    def heading(self, level: int, inline: SyntaxTreeNode) -> str:
        raise NotImplementedError

    def code(self, content: str, language: str) -> str:
        raise NotImplementedError

    def quote(self, line: str) -> str:
        return f"> {line}" if line else ">"

    def text(self, text: str) -> str:
        return text


def _table_text(node: SyntaxTreeNode) -> str:
    """A table as aligned columns of plain text (no chat platform draws tables)."""
    rows = [
        [plain_children(cell).strip() for cell in row.children]
        for section in node.children
        for row in section.children
    ]
    widths = [max(len(row[i]) if i < len(row) else 0 for row in rows) for i in range(len(rows[0]))]
    lines = [" | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip()
             for row in rows]
    lines.insert(1, "-+-".join("-" * width for width in widths))
    return "\n".join(lines) + "\n"
