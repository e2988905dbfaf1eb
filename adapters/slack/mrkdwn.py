"""Markdown -> Slack mrkdwn (`*bold*`, `_italic_`, `~strike~`, `<url|text>`, `•` lists), from
the parsed tree (adapters/markdown.py): code spans and blocks keep their text, link targets
are never rewritten, tables become code blocks; `&`, `<` and `>` are escaped everywhere, as
Slack requires."""

from __future__ import annotations

from markdown_it.tree import SyntaxTreeNode

from adapters.markdown import Renderer, plain, plain_children


def escape(text: str) -> str:
    """Slack's three control characters as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class _Mrkdwn(Renderer):
    def mark(self, node: SyntaxTreeNode) -> str:
        kind = node.type
        if kind == "text":
            return escape(node.content)
        if kind in ("softbreak", "hardbreak"):
            return "\n"
        if kind == "code_inline":
            return f"`{escape(node.content)}`"
        if kind == "strong":
            return f"*{self.children(node)}*"
        if kind == "em":
            return f"_{self.children(node)}_"
        if kind == "s":
            return f"~{self.children(node)}~"
        if kind == "link":
            return f"<{escape(str(node.attrs['href']))}|{escape(plain_children(node))}>"
        if kind == "image":
            return f"<{escape(str(node.attrs['src']))}|{escape(plain(node))}>"
        return escape(plain(node))

    def heading(self, level: int, inline: SyntaxTreeNode) -> str:
        return f"*{escape(plain_children(inline))}*"

    def code(self, content: str, language: str) -> str:
        return f"```\n{escape(content)}```"

    def text(self, text: str) -> str:
        return escape(text)


_RENDERER = _Mrkdwn()


def to_mrkdwn(markdown: str) -> str:
    return _RENDERER.render(markdown)
