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
PER_DOCUMENT = 3  # a document's best passages that make its score in `by_passages`
POOLED = 1000  # best passages whose documents' sums make `by_passages`


@dataclass(frozen=True)
class _Index:
    revision: int
    postings: kb_search.Postings
    vocabulary: dict[str, int]  # term -> its position in postings.terms
    saturation: npt.NDArray[np.float32]  # k1 * (1 - b + b * length / average), by row
    documents: tuple[uuid.UUID, ...]  # distinct, by document number
    document_of: npt.NDArray[np.intp]  # each row's document number
    document_saturation: npt.NDArray[np.float32]  # as `saturation`, of whole documents

    def rank(self, stems: Sequence[str], limit: int) -> Ranked:
        """The passages and the documents holding any of the stems, best first."""
        postings = self.postings
        total, pages = len(postings.passage_ids), len(self.documents)
        scores = np.zeros(total, dtype=np.float32)
        page_scores = np.zeros(pages, dtype=np.float32)
        for stem in dict.fromkeys(stems):
            term = self.vocabulary.get(stem)
            if term is None:
                continue
            start, end = postings.offsets[term], postings.offsets[term + 1]
            rows, tf = postings.rows[start:end], postings.frequencies[start:end]
            scores[rows] += _bm25(tf, len(rows), total, self.saturation[rows])
            page_tf = np.bincount(self.document_of[rows], weights=tf, minlength=pages).astype(
                np.float32
            )
            held = np.flatnonzero(page_tf)
            page_scores[held] += _bm25(
                page_tf[held], len(held), pages, self.document_saturation[held]
            )
        passages = [
            (Candidate(postings.passage_ids[row], postings.document_ids[row]), float(scores[row]))
            for row in _best(scores, limit)
        ]
        documents = [self.documents[page] for page in _best(page_scores, limit)]
        best = _best(scores, POOLED)
        pooled = _top_sums(self.document_of[best], scores[best], len(self.documents))
        by_passages = [self.documents[page] for page in _best(pooled, limit)]
        return Ranked(passages, documents, by_passages)


@dataclass(frozen=True)
class Ranked:
    passages: list[tuple[Candidate, float]]  # best first, with their BM25 scores
    documents: list[uuid.UUID]  # best first, by BM25 of the whole document
    by_passages: list[uuid.UUID]  # best first, by the sum of their PER_DOCUMENT best passages


def _top_sums(
    pages: npt.NDArray[np.intp], scores: npt.NDArray[np.float32], total: int
) -> npt.NDArray[np.float32]:
    """Each document's sum of its PER_DOCUMENT best scores (`scores` best first)."""
    order = np.lexsort((-scores, pages))  # by document, each document's best first
    pages, scores = pages[order], scores[order]
    starts = np.flatnonzero(np.r_[True, pages[1:] != pages[:-1]])
    place = np.arange(len(pages)) - np.repeat(starts, np.diff(np.r_[starts, len(pages)]))
    keep = place < PER_DOCUMENT
    sums: npt.NDArray[np.float32] = np.bincount(
        pages[keep], weights=scores[keep], minlength=total
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
    document_lengths = np.bincount(document_of, weights=lengths, minlength=len(numbers))
    vocabulary = {term: position for position, term in enumerate(postings.terms)}
    return _Index(
        revision, postings, vocabulary, _saturation(lengths), tuple(numbers), document_of,
        _saturation(document_lengths.astype(np.float32)),
    )  # fmt: skip


def _merged(ranked: list[tuple[int, uuid.UUID]], limit: int) -> list[uuid.UUID]:
    ranked.sort(key=lambda pair: pair[0])
    return [document for _, document in ranked[:limit]]


class KeywordIndex:
    """The postings of the collections searched lately, and the stems of recent words."""

    def __init__(self, max_collections: int = 64) -> None:
        self._indexes: dict[uuid.UUID, _Index] = {}
        self._locks: dict[uuid.UUID, asyncio.Lock] = {}
        self._max = max_collections
        self._stems: dict[tuple[str, str], str] = {}

    async def search(
        self,
        session: AsyncSession,
        collections: Sequence[records.Collection],
        words: Sequence[str],
        limit: int,
    ) -> Rankings:
        """The best `limit` passages of the collections for the question's words, and two
        rankings of their documents (several collections: passages by score, documents
        by rank)."""
        passages: list[tuple[Candidate, float]] = []
        by_passages: list[tuple[int, uuid.UUID]] = []
        documents: list[tuple[int, uuid.UUID]] = []
        for collection in collections:
            index = await self._index(session, collection)
            stems = await self._stemmed(session, collection.language, words)
            ranked = index.rank(stems, limit)
            passages += ranked.passages
            by_passages += enumerate(ranked.by_passages)
            documents += enumerate(ranked.documents)
        passages.sort(key=lambda pair: -pair[1])
        return Rankings(
            [[candidate for candidate, _ in passages[:limit]]],
            [_merged(by_passages, limit), _merged(documents, limit)],
        )

    async def _stemmed(
        self, session: AsyncSession, language: str, words: Sequence[str]
    ) -> list[str]:
        new = [word for word in words if (language, word) not in self._stems]
        if new:
            if len(self._stems) + len(new) > STEMS_CACHED:
                self._stems.clear()
            found = await kb_search.stems(session, language, new)
            self._stems.update({(language, word): found.get(word, "") for word in new})
        return [stem for word in words if (stem := self._stems[(language, word)])]

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
