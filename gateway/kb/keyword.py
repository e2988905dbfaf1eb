"""Keyword search: BM25 over a collection's postings, in numpy.

The postings (which passages hold each stemmed term, and how often: a title occurrence
counts 5, a heading 3, the text 1) are read from the database's full-text index once per
collection revision (store/kb_search.py) and kept like the vectors. A question then costs
no database work besides stemming its new words: each of its terms adds
`idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / average))` to the passages holding
it, over every passage of the collection, not a pool.

Why not the databases' own ranking: FTS5's `bm25()` is fast but needed a pool of candidates
at 50,000 passages, and PostgreSQL has no BM25 at all (`ts_rank` has no inverse document
frequency), so it computed BM25 in SQL by unnesting the tsvectors of a pool: the slowest
part of a search (docs/knowledge-base.md has the figures). Here both databases give the
same ranking up to their stemmers, exact, in about a millisecond.

The length of a passage is its number of distinct terms (PostgreSQL's `length(tsvector)`).
A document's score is the BM25 of its BEST_PASSAGES best passages among the POOLED best,
damped (gateway/kb/fusion.py weighs it against the semantic scores).
"""

from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.kb.fusion import Candidate, Rankings
from store import kb as records
from store import kb_search

K1 = 1.2  # BM25's usual constants
B = 0.75
STEMS_CACHED = 20_000
BEST_PASSAGES = 5  # a document's best passages that make its score
DAMPING = 0.5  # the weight of each next one: 1, 1/2, 1/4, ...
POOLED = 1000  # best passages whose documents are scored


@dataclass(frozen=True)
class _Index:
    revision: int
    postings: kb_search.Postings
    vocabulary: dict[str, int]  # term -> its position in postings.terms
    saturation: npt.NDArray[np.float32]  # k1 * (1 - b + b * length / average), by row
    documents: tuple[uuid.UUID, ...]  # distinct, by document number
    document_of: npt.NDArray[np.intp]  # each row's document number

    def rank(self, stems: Sequence[str], limit: int) -> Ranked:
        """The passages holding any of the stems, best first, and their documents' scores."""
        postings = self.postings
        total = len(postings.passage_ids)
        scores = np.zeros(total, dtype=np.float32)
        for stem in dict.fromkeys(stems):
            term = self.vocabulary.get(stem)
            if term is None:
                continue
            start, end = postings.offsets[term], postings.offsets[term + 1]
            rows, tf = postings.rows[start:end], postings.frequencies[start:end]
            scores[rows] += _bm25(tf, len(rows), total, self.saturation[rows])
        best = _best(scores, max(limit, POOLED))
        passages = [
            (Candidate(postings.passage_ids[row], postings.document_ids[row]), score)
            for row, score in zip(best[:limit].tolist(), scores[best[:limit]].tolist(), strict=True)
        ]
        pooled = best[:POOLED]
        sums = _damped_sums(self.document_of[pooled], scores[pooled], len(self.documents))
        held = np.flatnonzero(sums)
        pages = map(self.documents.__getitem__, held.tolist())
        return Ranked(passages, dict(zip(pages, sums[held].tolist(), strict=True)))


@dataclass(frozen=True)
class Ranked:
    passages: list[tuple[Candidate, float]]  # best first, with their BM25 scores
    documents: dict[uuid.UUID, float]  # the damped sum of their best passages' BM25


def _damped_sums(
    pages: npt.NDArray[np.intp], scores: npt.NDArray[np.float32], total: int
) -> npt.NDArray[np.float32]:
    """Each document's BEST_PASSAGES best scores, weighted 1, DAMPING, DAMPING^2, ... and
    summed (`scores` best first). A page that answers a question usually does so in several
    passages, but a long page's many middling ones should not outweigh a short page's best."""
    order = np.lexsort((-scores, pages))  # by document, each document's best first
    pages, scores = pages[order], scores[order]
    starts = np.flatnonzero(np.r_[True, pages[1:] != pages[:-1]])
    place = np.arange(len(pages)) - np.repeat(starts, np.diff(np.r_[starts, len(pages)]))
    keep = place < BEST_PASSAGES
    weighted = scores[keep] * DAMPING ** place[keep].astype(np.float32)
    sums: npt.NDArray[np.float32] = np.bincount(
        pages[keep], weights=weighted, minlength=total
    ).astype(np.float32)
    return sums


def _bm25(
    tf: npt.NDArray[np.floating], held: int, total: int, saturation: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    idf = math.log((total - held + 0.5) / (held + 0.5) + 1.0)
    result: npt.NDArray[np.float32] = (idf * tf * (K1 + 1) / (tf + saturation)).astype(np.float32)
    return result


def _best(scores: npt.NDArray[np.float32], limit: int) -> npt.NDArray[np.intp]:
    """The positions of the `limit` highest positive scores, best first."""
    held = np.flatnonzero(scores)
    if len(held) > limit:
        held = held[np.argpartition(-scores[held], limit - 1)[:limit]]
    return held[np.argsort(-scores[held], kind="stable")]


def _saturation(lengths: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    average = float(lengths.mean()) if len(lengths) and lengths.mean() > 0 else 1.0
    return (K1 * (1 - B + B * lengths / average)).astype(np.float32)


def _index(revision: int, postings: kb_search.Postings) -> _Index:
    lengths = np.bincount(postings.rows, minlength=len(postings.passage_ids)).astype(np.float32)
    numbers: dict[uuid.UUID, int] = {}
    document_of = np.fromiter(
        (numbers.setdefault(d, len(numbers)) for d in postings.document_ids),
        dtype=np.intp,
        count=len(postings.document_ids),
    )
    vocabulary = {term: position for position, term in enumerate(postings.terms)}
    return _Index(
        revision, postings, vocabulary, _saturation(lengths), tuple(numbers), document_of
    )


class KeywordIndex:
    """The postings of the collections searched lately, and the stems of recent words."""

    def __init__(self, max_collections: int = 64) -> None:
        self._indexes: dict[uuid.UUID, _Index] = {}
        self._locks: dict[uuid.UUID, asyncio.Lock] = {}
        self._max = max_collections
        self._stems: dict[tuple[str, str, str], str] = {}  # (database, language, word)

    async def search(
        self,
        session: AsyncSession,
        collections: Sequence[records.Collection],
        words: Sequence[str],
        limit: int,
    ) -> Rankings:
        """The best `limit` passages of the collections for the question's words, and the
        keyword scores of the documents of the best POOLED passages (of each collection)."""
        passages: list[tuple[Candidate, float]] = []
        documents: dict[uuid.UUID, float] = {}
        for collection in collections:
            index = await self._index(session, collection)
            stems = await self._stemmed(session, collection.language, words)
            ranked = index.rank(stems, limit)
            passages += ranked.passages
            documents |= ranked.documents
        passages.sort(key=lambda pair: -pair[1])
        return Rankings([[candidate for candidate, _ in passages[:limit]]], keyword=documents)

    def holds(self, collection: records.Collection) -> bool:
        """Whether the collection's postings at its revision are in memory."""
        cached = self._indexes.get(collection.id)
        return cached is not None and cached.revision == collection.revision

    async def _stemmed(
        self, session: AsyncSession, language: str, words: Sequence[str]
    ) -> list[str]:
        # (SQLite's Porter stemmer and PostgreSQL's Snowball one differ a little)
        database = session.get_bind().dialect.name
        new = [word for word in words if (database, language, word) not in self._stems]
        if new:
            if len(self._stems) + len(new) > STEMS_CACHED:
                self._stems.clear()
            found = await kb_search.stems(session, language, new)
            self._stems.update({(database, language, w): found.get(w, "") for w in new})
        return [stem for word in words if (stem := self._stems[(database, language, word)])]

    async def _index(self, session: AsyncSession, collection: records.Collection) -> _Index:
        cached = self._indexes.get(collection.id)
        if cached is not None and cached.revision == collection.revision:
            return cached
        async with self._locks.setdefault(collection.id, asyncio.Lock()):
            cached = self._indexes.get(collection.id)
            if cached is not None and cached.revision == collection.revision:
                return cached
            postings = await kb_search.postings(session, collection.id)
            index = await asyncio.to_thread(_index, collection.revision, postings)
            if len(self._indexes) >= self._max:
                self._indexes.pop(next(iter(self._indexes)))
            self._indexes[collection.id] = index
            return index
