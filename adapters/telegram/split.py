"""Split texts longer than Telegram's 4096 characters at paragraph, line or sentence ends.

Lengths are counted in UTF-16 code units, as Telegram counts them. A Markdown code block cut in
two is closed at the end of one part and reopened at the start of the next.
"""

from __future__ import annotations

import re

MAX_TEXT = 4096
_SENTENCE_END = re.compile(r"[.!?…。](?=\s)")
_FENCE_LINE = re.compile(r"^\s*```([\w+-]*)\s*$", re.M)
_FENCE_ROOM = 8  # room for a closing "\n```" and a reopening fence line


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = MAX_TEXT, markdown: bool = False) -> list[str]:
    """Parts of at most `limit` UTF-16 units each, in order, none empty."""
    parts: list[str] = []
    rest = text
    while utf16_len(rest) > limit:
        head, rest = _cut(rest, limit - (_FENCE_ROOM if markdown else 0))
        if markdown:
            head, rest = _balance_fence(head, rest)
        if head.strip():
            parts.append(head)
    if rest.strip() or not parts:
        parts.append(rest)
    return parts


def _cut(text: str, limit: int) -> tuple[str, str]:
    window = text[: _fitting_chars(text, limit)]
    cut = _best_cut(window)
    rest = text[cut:]
    # After a line break, indentation belongs to the next line; after a sentence it does not.
    rest = rest.lstrip("\n") if window[cut - 1] == "\n" else rest.lstrip()
    return window[:cut].rstrip(), rest


def _fitting_chars(text: str, limit: int) -> int:
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return index
    return len(text)


def _best_cut(window: str) -> int:
    floor = len(window) // 3  # never leave a tiny part when a cut further on exists
    for separator in ("\n\n", "\n"):
        at = window.rfind(separator)
        if at > floor:
            return at + len(separator)
    sentences = [m.end() for m in _SENTENCE_END.finditer(window) if m.end() > floor]
    if sentences:
        return sentences[-1]
    space = max(window.rfind(" "), window.rfind("\t"))
    return space + 1 if space > floor else len(window)


def _balance_fence(head: str, rest: str) -> tuple[str, str]:
    fences = _FENCE_LINE.findall(head)
    if len(fences) % 2 == 0:
        return head, rest
    return head + "\n```", f"```{fences[-1]}\n{rest}"
