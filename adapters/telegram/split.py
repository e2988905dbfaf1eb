"""Where to cut texts longer than Telegram's 4096 characters: at paragraph, line or sentence
ends, else at a space, else anywhere. Lengths are counted in UTF-16 code units, as Telegram
counts them (an emoji outside the BMP is two)."""

from __future__ import annotations

import re

MAX_TEXT = 4096
_SENTENCE_END = re.compile(r"[.!?…。](?=\s)")


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def utf16_offsets(text: str) -> list[int]:
    """The UTF-16 offset of every index of `text` (and of its end)."""
    offsets = [0] * (len(text) + 1)
    for index, char in enumerate(text):
        offsets[index + 1] = offsets[index] + (2 if ord(char) > 0xFFFF else 1)
    return offsets


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Parts of at most `limit` UTF-16 units each, in order, none empty (one for "")."""
    return [text[start:end] for start, end in cut_points(text, limit)] or [text]


def cut_points(text: str, limit: int = MAX_TEXT) -> list[tuple[int, int]]:
    """(start, end) of each part; white space at the cuts is left out."""
    ranges: list[tuple[int, int]] = []
    start = 0
    while start < len(text):
        rest = text[start:]
        fitting = _fitting_chars(rest, limit)
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
