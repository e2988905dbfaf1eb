"""The bot's Markdown as HTML the page may insert: markdown-it-py (a real CommonMark parser)
with raw HTML off, so `<img onerror=...>` in a reply is escaped and shown as text; images are
shown as links (no request leaves the page by itself); links open in a new tab without the
page's window. The page shows the visitor's own words as text, never as HTML."""

from __future__ import annotations

from collections.abc import Sequence

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

_SAFE_SCHEMES = ("http://", "https://", "mailto:")
_REL = "noopener noreferrer nofollow"


def _validate_link(url: str) -> bool:
    return url.strip().lower().startswith(_SAFE_SCHEMES) or url.startswith(("/", "#"))


def _link_open(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    tokens[idx].attrSet("target", "_blank")
    tokens[idx].attrSet("rel", _REL)
    return self.renderToken(tokens, idx, options, env)


def _image(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    """An image as a plain link to it, named by its alt text (its address when it has none)."""
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    label = self.renderInlineAsText(token.children or [], options, env) or src
    return f'<a href="{escape(src)}" target="_blank" rel="{_REL}">{escape(label)}</a>'


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "breaks": True})
    md.enable(["table", "strikethrough"])
    md.validateLink = _validate_link  # type: ignore[method-assign]
    md.add_render_rule("link_open", _link_open)
    md.add_render_rule("image", _image)
    return md


_MD = _parser()


def to_html(markdown: str, text_format: str = "markdown") -> str:
    """Safe HTML of a bot message; `plain` text is escaped and keeps its line breaks."""
    if text_format != "markdown":
        return "<p>" + escape(markdown).replace("\n", "<br>\n") + "</p>"
    return str(_MD.render(markdown))


def escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )
