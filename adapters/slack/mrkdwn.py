"""Markdown -> Slack mrkdwn (`*bold*`, `_italic_`, `~strike~`, `<url|text>`, `•` lists).

Code spans and blocks, and link targets, are set aside first so that no rule rewrites them;
`&`, `<` and `>` are escaped everywhere, as Slack requires, except a leading `>` (a quote).
"""

from __future__ import annotations

import re

_CODE = re.compile(r"```.*?```|`[^`\n]+`", re.S)
_LINK = re.compile(r"!?\[([^\]\n]+)\]\((\S+?)\)")
_HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", re.M)
_BULLET = re.compile(r"^([ \t]*)[-*+][ \t]+", re.M)
_QUOTE = re.compile(r"^([ \t]*)&gt;", re.M)
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*|__(?=\S)(.+?)(?<=\S)__", re.S)
_ITALIC = re.compile(r"(?<![\w*])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![\w*])")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_STAR = "\x01"  # a bold marker, kept apart from italic `*` until the end


def escape(text: str) -> str:
    """Slack's three control characters as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_mrkdwn(markdown: str) -> str:
    kept: list[str] = []

    def keep(text: str) -> str:
        kept.append(text)
        return f"\x00{len(kept) - 1}\x00"

    text = _CODE.sub(lambda m: keep(escape(m[0])), markdown)
    text = _LINK.sub(lambda m: keep(f"<{escape(m[2])}|{escape(m[1])}>"), text)
    text = _QUOTE.sub(r"\1>", escape(text))
    text = _HEADING.sub(lambda m: f"{_STAR}{m[1]}{_STAR}", text)
    text = _BULLET.sub(r"\1• ", text)
    text = _BOLD.sub(lambda m: f"{_STAR}{m[1] or m[2]}{_STAR}", text)
    text = _ITALIC.sub(r"_\1_", text)
    text = _STRIKE.sub(r"~\1~", text).replace(_STAR, "*")
    return re.sub(r"\x00(\d+)\x00", lambda m: kept[int(m[1])], text)
