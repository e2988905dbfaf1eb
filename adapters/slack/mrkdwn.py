"""Markdown -> Slack mrkdwn (`*bold*`, `_italic_`, `~strike~`, `<url|text>`, `•` lists), from
the parsed tree (adapters/markdown.py): code spans and blocks keep their text, link targets
are never rewritten, tables become code blocks; `&`, `<` and `>` are escaped everywhere, as
Slack requires."""

from __future__ import annotations

from markdown_it.tree import SyntaxTreeNode

from adapters.markdown import Renderer, plain_children


def escape(text: str) -> str:
    """Slack's three control characters as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class _Mrkdwn(Renderer):
    wraps = {"strong": "*", "em": "_", "s": "~"}

    def code_span(self, content: str) -> str:
        return f"`{escape(content)}`"

    def link(self, url: str, label: str, image: bool = False) -> str:
        return f"<{escape(url)}|{escape(label)}>"

    def heading(self, level: int, inline: SyntaxTreeNode) -> str:
        return f"*{escape(plain_children(inline))}*"

    def code(self, content: str, language: str) -> str:
        return f"```\n{escape(content)}```"

    def text(self, text: str) -> str:
        return escape(text)


_RENDERER = _Mrkdwn()


def to_mrkdwn(markdown: str) -> str:
    return _RENDERER.render(markdown)
