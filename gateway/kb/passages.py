"""Splitting a document into passages along its structure.

A passage never crosses a heading: the blocks under one heading path are packed, in order,
into passages of at most `max_chars` characters. A block longer than that is cut at sentence
ends (at word boundaries when a sentence alone is too long). A passage that continues a
section starts with the last sentence(s) of the one before, up to `overlap` characters, so
that a statement cut in two is still found whole in one of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import groupby

from gateway.kb.documents import ParsedDocument

HEADING_SEPARATOR = " > "
_SENTENCE_ENDS = (". ", "? ", "! ", ".\n", "?\n", "!\n", "\n\n")


@dataclass(frozen=True)
class Passage:
    title: str
    heading: str  # the heading path, outermost first
    text: str

    def embedding_text(self) -> str:
        """What the model embeds: the passage with the titles it sits under."""
        context = HEADING_SEPARATOR.join(part for part in (self.title, self.heading) if part)
        return f"{context}\n{self.text}"


def split(document: ParsedDocument, max_chars: int = 1000, overlap: int = 150) -> list[Passage]:
    passages = []
    for headings, blocks in groupby(document.blocks, key=lambda block: block.headings):
        if headings and headings[0] == document.title:
            headings = headings[1:]  # the page's own title heading: already in `title`
        heading = HEADING_SEPARATOR.join(headings)
        # pieces leave room for the overlap carried in front of them
        room = max(max_chars - overlap, max_chars // 2)
        pieces = (piece for block in blocks for piece in _pieces(block.text, room))
        for text in _pack(pieces, max_chars, overlap):
            passages.append(Passage(document.title, heading, text))
    return passages


def _pack(pieces: Iterator[str], max_chars: int, overlap: int) -> Iterator[str]:
    current = ""
    carried = ""  # the overlap at the start of `current`, not yet followed by new text
    for piece in pieces:
        if current and len(current) + 1 + len(piece) > max_chars:
            if current != carried:
                yield current
            carried = _tail(current, overlap)
            if len(carried) + 1 + len(piece) > max_chars:
                carried = ""
            current = carried
        current = f"{current}\n{piece}" if current else piece
    if current and current != carried:
        yield current


def _pieces(text: str, max_chars: int) -> Iterator[str]:
    """The block, or its sentences (or word runs) packed to at most `max_chars` each."""
    if len(text) <= max_chars:
        return iter([text])
    parts = (part for sentence in _sentences(text) for part in _words(sentence, max_chars))
    return _greedy(parts, max_chars)


def _sentences(text: str) -> Iterator[str]:
    # The next occurrence of each sentence end, searched again only once passed: linear time.
    next_end = {end: text.find(end) for end in _SENTENCE_ENDS}
    start = 0
    while start < len(text):
        for end, at in next_end.items():
            if 0 <= at < start:
                next_end[end] = text.find(end, start)
        ends = [at for at in next_end.values() if at >= 0]
        stop = min(ends) + 1 if ends else len(text)
        sentence = text[start:stop].strip()
        if sentence:
            yield sentence
        start = stop


def _words(sentence: str, max_chars: int) -> Iterator[str]:
    """The sentence, or its words packed to at most `max_chars` (a longer word is cut)."""
    if len(sentence) <= max_chars:
        return iter([sentence])
    words = (
        word[start : start + max_chars]
        for word in sentence.split()
        for start in range(0, len(word), max_chars)
    )
    return _greedy(words, max_chars)


def _greedy(parts: Iterable[str], max_chars: int) -> Iterator[str]:
    """Parts joined by spaces, as many to a piece as fit in `max_chars`."""
    current = ""
    for part in parts:
        if current and len(current) + 1 + len(part) > max_chars:
            yield current
            current = ""
        current = f"{current} {part}" if current else part
    if current:
        yield current


def _tail(text: str, overlap: int) -> str:
    """The last whole sentences of `text` within `overlap` characters (else its last words)."""
    if overlap <= 0:
        return ""
    sentences = list(_sentences(text[-overlap * 3 :]))
    tail = ""
    for sentence in reversed(sentences[1:]):  # the first may be cut by the slice
        candidate = f"{sentence} {tail}".strip()
        if len(candidate) > overlap:
            break
        tail = candidate
    if tail:
        return tail
    words = text[-overlap:].split()
    return " ".join(words[1:]) if len(words) > 1 else ""
