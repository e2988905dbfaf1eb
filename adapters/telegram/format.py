"""Markdown (what bots write) -> Telegram MarkdownV2 (what Telegram parses).

Every character MarkdownV2 reserves is escaped outside the markup we emit, so any input text is
accepted by Telegram; markers without a partner stay literal text instead of breaking the parse.
"""

from __future__ import annotations

import re

_RESERVED = re.compile(r"([_*\[\]()~`>#+\-=|{}.!\\])")
_INLINE = re.compile(
    r"(?P<tick>`+)(?P<code>.+?)(?P=tick)"
    r"|\[(?P<label>[^\]\n]+)\]\((?P<url>[^()\s]+)\)"
    r"|\*\*(?P<bold>\S(?:.*?\S)?)\*\*"
    r"|__(?P<bold2>\S(?:.*?\S)?)__"
    r"|~~(?P<strike>\S(?:.*?\S)?)~~"
    r"|\*(?P<italic>[^*\s](?:[^*]*[^*\s])?)\*"
    r"|(?<![\w\\])_(?P<italic2>[^_\s](?:[^_]*[^_\s])?)_(?!\w)",
    re.S,
)
_FENCE = re.compile(r"^\s*```\s*([\w+-]*)\s*$")
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^(\s*)[-*+]\s+(.*)$")
_QUOTE = re.compile(r"^>\s?(.*)$")


def escape(text: str) -> str:
    """Plain text made safe for MarkdownV2."""
    return _RESERVED.sub(r"\\\1", text)


def escape_code(text: str) -> str:
    return text.replace("\\", "\\\\").replace("`", "\\`")


def escape_url(url: str) -> str:
    return url.replace("\\", "\\\\").replace(")", "\\)")


def to_markdown_v2(markdown: str) -> str:
    """Render a Markdown text as Telegram MarkdownV2."""
    lines = markdown.split("\n")
    out: list[str] = []
    index = 0
    while index < len(lines):
        fence = _FENCE.match(lines[index])
        if fence:
            end = _fence_end(lines, index + 1)
            out.append(_code_block(fence[1], lines[index + 1 : end]))
            index = end + 1
        else:
            out.append(_line(lines[index]))
            index += 1
    return "\n".join(out)


def _fence_end(lines: list[str], start: int) -> int:
    for index in range(start, len(lines)):
        if lines[index].strip().startswith("```"):
            return index
    return len(lines)


def _code_block(language: str, body: list[str]) -> str:
    return f"```{language}\n" + escape_code("\n".join(body)) + "\n```"


def _line(line: str) -> str:
    if heading := _HEADING.match(line):
        plain = re.sub(r"\*\*(.+?)\*\*|__(.+?)__", lambda m: m[1] or m[2], heading[1])
        return f"*{inline(plain)}*" if plain else ""
    if bullet := _BULLET.match(line):
        return f"{bullet[1]}• {inline(bullet[2])}"
    if quote := _QUOTE.match(line):
        return f">{inline(quote[1])}"
    return inline(line)


def inline(text: str, active: frozenset[str] = frozenset()) -> str:
    """Render the inline markup of one line; everything else is escaped."""
    out: list[str] = []
    position = 0
    for match in _INLINE.finditer(text):
        out.append(escape(text[position : match.start()]))
        out.append(_markup(match, active))
        position = match.end()
    out.append(escape(text[position:]))
    return "".join(out)


def _markup(match: re.Match[str], active: frozenset[str]) -> str:
    if match["code"] is not None:
        return f"`{escape_code(match['code'])}`"
    if match["label"] is not None:
        return _styled("[", f"]({escape_url(match['url'])})", match["label"], active)
    if match["bold"] is not None or match["bold2"] is not None:
        return _styled("*", "*", match["bold"] or match["bold2"], active)
    if match["strike"] is not None:
        return _styled("~", "~", match["strike"], active)
    return _styled("_", "_", match["italic"] or match["italic2"], active)


def _styled(opener: str, closer: str, body: str, active: frozenset[str]) -> str:
    # MarkdownV2 cannot nest an entity in itself (nor links in links): keep the inner text plain.
    if opener in active:
        return inline(body, active)
    return opener + inline(body, active | {opener}) + closer
