"""Where to cut a text longer than a platform's limit: at paragraph, line or sentence ends,
else at a space, else anywhere. Lengths are counted as the platform counts them: Telegram in
UTF-16 code units (an emoji outside the BMP is two), Slack and Discord in characters. A code
block cut in two is closed at the end of one part and reopened at the start of the next."""

from __future__ import annotations

import re

MAX_TEXT = 4096  # Telegram's
_SENTENCE_END = re.compile(r"[.!?…。](?=\s)")
_FENCE_LINE = re.compile(r"^\s*```([\w+-]*)\s*$", re.M)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def utf16_offsets(text: str) -> list[int]:
    """The UTF-16 offset of every index of `text` (and of its end)."""
    offsets = [0] * (len(text) + 1)
    for index, char in enumerate(text):
        offsets[index + 1] = offsets[index] + (2 if ord(char) > 0xFFFF else 1)
    return offsets


def split_text(text: str, limit: int = MAX_TEXT, *, utf16: bool = True) -> list[str]:
    """Parts of at most `limit` units each, in order, none empty (one for "")."""
    return [text[start:end] for start, end in cut_points(text, limit, utf16=utf16)] or [text]


def split_markdown(text: str, limit: int) -> list[str]:
    """Rendered Markdown (Slack's, Discord's) in parts of at most `limit` characters, a code
    block cut in two closed and reopened."""
    room = 24  # a closing "\n```" and a reopening fence line with its language
    parts = split_text(text, limit - room, utf16=False) if len(text) > limit else [text]
    balanced: list[str] = []
    carried = ""
    for part in parts:
        part = carried + part
        fences = _FENCE_LINE.findall(part)
        carried = ""
        if len(fences) % 2:
            part, carried = part + "\n```", f"```{fences[-1]}\n"
        balanced.append(part)
    return balanced


def cut_points(text: str, limit: int = MAX_TEXT, *, utf16: bool = True) -> list[tuple[int, int]]:
    """(start, end) of each part; white space at the cuts is left out."""
    ranges: list[tuple[int, int]] = []
    start = 0
    while start < len(text):
        rest = text[start:]
        fitting = _fitting_chars(rest, limit) if utf16 else min(len(rest), limit)
        cut = len(rest) if fitting == len(rest) else _best_cut(rest[:fitting])
        end = start + cut
        stop = end
        while stop > start and text[stop - 1].isspace():
            stop -= 1
        if stop > start:
            ranges.append((start, stop))
        # After a line break, indentation belongs to the next line; after a sentence it does not.
        start = _next_start(text, end, after_line=text[end - 1] == "\n")
    return ranges


def _next_start(text: str, index: int, after_line: bool) -> int:
    skipped = "\n" if after_line else " \t\n"
    while index < len(text) and text[index] in skipped:
        index += 1
    return index


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
