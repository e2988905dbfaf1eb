"""Markdown -> Discord's Markdown, from the parsed tree (adapters/markdown.py): Discord draws
bold, italic, strikethrough, code, quotes, lists, masked links and headings of levels 1 to 3;
deeper headings become bold lines, tables code blocks, images links, and text that would read
as Markdown to Discord is escaped."""

from __future__ import annotations

from discord.utils import escape_markdown
from markdown_it.tree import SyntaxTreeNode

from adapters.markdown import Renderer, plain, plain_children


class _DiscordMarkdown(Renderer):
    bullet = "-"

    def mark(self, node: SyntaxTreeNode) -> str:
        kind = node.type
        if kind == "text":
            return escape_markdown(node.content)
        if kind in ("softbreak", "hardbreak"):
            return "\n"
        if kind == "code_inline":
            ticks = "``" if "`" in node.content else "`"
            return f"{ticks}{node.content}{ticks}"
        if kind == "strong":
            return f"**{self.children(node)}**"
        if kind == "em":
            return f"*{self.children(node)}*"
        if kind == "s":
            return f"~~{self.children(node)}~~"
        if kind == "link":
            return f"[{escape_markdown(plain_children(node))}](<{node.attrs['href']}>)"
        if kind == "image":
            return f"[{escape_markdown(plain(node))}]({node.attrs['src']})"
        return escape_markdown(plain(node))

    def heading(self, level: int, inline: SyntaxTreeNode) -> str:
        if level <= 3:
            return f"{'#' * level} {self.inline(inline)}"
        return f"**{escape_markdown(plain_children(inline))}**"

    def code(self, content: str, language: str) -> str:
        return f"```{language}\n{content.replace('```', '`​``')}```"

    def text(self, text: str) -> str:
        return escape_markdown(text)


_RENDERER = _DiscordMarkdown()


def to_discord(markdown: str) -> str:
    return _RENDERER.render(markdown)
