"""Markdown -> Discord's Markdown, from the parsed tree (adapters/markdown.py): Discord draws
bold, italic, strikethrough, code, quotes, lists, masked links and headings of levels 1 to 3;
deeper headings become bold lines, tables code blocks, images links, and text that would read
as Markdown to Discord is escaped."""

from __future__ import annotations

from discord.utils import escape_markdown
from markdown_it.tree import SyntaxTreeNode

from adapters.markdown import Renderer, plain_children

_BROKEN_FENCE = "`\u200b``"  # a fence inside a code block, kept from closing it


class _DiscordMarkdown(Renderer):
    bullet = "-"
    wraps = {"strong": "**", "em": "*", "s": "~~"}

    def code_span(self, content: str) -> str:
        ticks = "``" if "`" in content else "`"
        return f"{ticks}{content}{ticks}"

    def link(self, url: str, label: str, image: bool = False) -> str:
        # <...> keeps Discord from unfurling a link; an image's link may show it
        return f"[{escape_markdown(label)}]({url if image else f'<{url}>'})"

    def heading(self, level: int, inline: SyntaxTreeNode) -> str:
        if level <= 3:
            return f"{'#' * level} {self.inline(inline)}"
        return f"**{escape_markdown(plain_children(inline))}**"

    def code(self, content: str, language: str) -> str:
        return f"```{language}\n{content.replace('```', _BROKEN_FENCE)}```"

    def text(self, text: str) -> str:
        return escape_markdown(text)


_RENDERER = _DiscordMarkdown()


def to_discord(markdown: str) -> str:
    return _RENDERER.render(markdown)
