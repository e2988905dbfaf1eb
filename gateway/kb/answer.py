"""Answers from the knowledge base: the best one to three passages, trimmed, each cited.

`answer()` is what the `kb` tool and plain questions in direct channels call (CONTRACT 5a).
It searches the bot's collections and the person's extra ones, keeps the passages whose
similarity to the question reaches `[kb] min_score`, and formats them to fit the
platform's length. Below the threshold, or for a question that cannot be searched, it
returns `found=False` and a short reason: the tool says it found nothing, a plain question
gets the bot's fallback reply. `citations` are what to store with the outbound message.

The threshold is on the cosine of question and passage (WordLlama vectors). Measured on the
evaluation questions (tests/kb/*.jsonl) against off-topic ones (tests/kb/off-topic.txt),
the default 0.4 answers 92% / 94% of the answerable questions (Python / PostgreSQL docs)
and 4% / 8% of the off-topic ones (benchmarks/kb.py threshold; docs/knowledge-base.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gateway.kb.errors import CollectionNotFound, EmptyCollection, QueryError
from gateway.kb.passages import HEADING_SEPARATOR
from gateway.kb.search import Hit, KnowledgeBase
from store.database import Database

MAX_PASSAGES = 3
CLOSE_ENOUGH = 0.8  # a second or third passage scores at least this share of the best's
NOTHING_FOUND = "I found nothing about that in the knowledge base."
_ELLIPSIS = "…"


@dataclass(frozen=True)
class Citation:
    collection: str
    document: str  # the document's path in its collection
    title: str
    heading: str
    passage_id: str
    score: float
    url: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "collection": self.collection,
            "document": self.document,
            "title": self.title,
            "heading": self.heading,
            "passage_id": self.passage_id,
            "score": round(self.score, 4),
            "url": self.url,
        }


@dataclass(frozen=True)
class Answer:
    found: bool
    text: str  # the reply: passages with their sources, or NOTHING_FOUND
    citations: tuple[Citation, ...] = ()
    reason: str | None = None  # why nothing was found, for logs and the tool's reply


async def answer(
    kb: KnowledgeBase,
    db: Database,
    organization: str,
    collections: Sequence[str],
    query: str,
    max_length: int,
) -> Answer:
    """The best passages for `query` from `collections` (bot's and person's), at most
    `max_length` characters in all."""
    names = list(dict.fromkeys(collections))
    if not names:
        return Answer(False, NOTHING_FOUND, reason="no collections to search")
    try:
        hits = await kb.search(db, organization, names, query, limit=10)
    except (QueryError, CollectionNotFound, EmptyCollection) as exc:
        return Answer(False, NOTHING_FOUND, reason=str(exc))
    chosen = choose(hits, kb.config.min_score)
    if not chosen:
        return Answer(False, NOTHING_FOUND, reason="no passage is similar enough")
    return Answer(True, format_answer(chosen, max_length), tuple(cite(hit) for hit in chosen))


def relevance(hit: Hit) -> float:
    """How close a passage is to the question: its cosine, else (no vector) its rank score."""
    return hit.similarity if hit.similarity is not None else hit.score


def choose(hits: Sequence[Hit], min_score: float) -> list[Hit]:
    """The best hit and up to two more of nearly its score, all above the threshold."""
    good = [hit for hit in hits if relevance(hit) >= min_score]
    if not good:
        return []
    best = good[0].score
    return [hit for hit in good if hit.score >= CLOSE_ENOUGH * best][:MAX_PASSAGES]


def cite(hit: Hit) -> Citation:
    return Citation(
        hit.collection,
        hit.document,
        hit.title,
        hit.heading,
        str(hit.passage_id),
        relevance(hit),
        hit.url,
    )


def source_line(hit: Hit) -> str:
    where = HEADING_SEPARATOR.join(part for part in (hit.title, hit.heading) if part)
    return f"Source: {where} ({hit.url or hit.document})"


def format_answer(hits: Sequence[Hit], max_length: int) -> str:
    """Passages with their source lines, trimmed so that the whole fits `max_length`."""
    for count in range(len(hits), 0, -1):
        text = _format(hits[:count], max_length)
        if text is not None:
            return text
    return trim(source_line(hits[0]), max_length)


def _format(hits: Sequence[Hit], max_length: int) -> str | None:
    sources = [source_line(hit) for hit in hits]
    separators = 2 * (len(hits) - 1) + len(hits)  # blank lines between, newline before sources
    room = (max_length - sum(len(s) for s in sources) - separators) // len(hits)
    if room < 40:
        return None
    parts = [f"{trim(hit.text, room)}\n{source}" for hit, source in zip(hits, sources, strict=True)]
    return "\n\n".join(parts)


def trim(text: str, limit: int) -> str:
    """`text` cut to `limit` characters at a sentence or word end, with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: max(limit - 1, 0)]
    sentence = max(cut.rfind(". "), cut.rfind("? "), cut.rfind("! "))
    if sentence >= limit // 2:
        return (
            cut[: sentence + 1] + " " + _ELLIPSIS if sentence + 3 <= limit else cut[: sentence + 1]
        )
    space = cut.rfind(" ")
    return (cut[:space] if space > 0 else cut) + _ELLIPSIS
