"""Keyword search: BM25F over a collection's postings, in numpy.

The postings (which passages hold each stemmed term, and how often in their title, heading
and text) are read from the database's full-text index once per collection revision
(store/kb_search.py) and kept like the vectors. BM25F (Robertson, Zaragoza and Taylor,
2004): a term's frequency in each field is normalised by that field's length against its
average, then weighted (title 5, heading 3, text 1) and summed into one frequency `tf`,
saturated once. That sum is computed when the index is built, so a question costs no
database work besides stemming its new words: each of its terms adds
`idf * tf * (k1 + 1) / (tf + k1)` to the passages holding it, over every passage of the
collection, not a pool. Pages are ranked the same way as one text each (a page's title
once, its headings and texts summed), from postings of pages built with the index.

The first version counted a title occurrence as 5 occurrences in one text normalised by
the passage's number of distinct terms: a long reference page's short title and headings
were then diluted by its text, and a passage with a long heading path gained on every
term of it (docs/knowledge-base.md has the figures of both).

Why not the databases' own ranking: FTS5's `bm25()` is fast but needed a pool of candidates
at 50,000 passages, and PostgreSQL has no BM25 at all (`ts_rank` has no inverse document
frequency), so it computed BM25 in SQL by unnesting the tsvectors of a pool: the slowest
part of a search (docs/knowledge-base.md has the figures). Here both databases give the
same ranking up to their stemmers, exact, in about a millisecond.
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


Floats32 = npt.NDArray[np.float32]
WEIGHTS = (kb_search.TITLE, kb_search.HEADING, kb_search.BODY)  # by field


@dataclass(frozen=True)
class _Index:
    revision: int
    postings: kb_search.Postings
    vocabulary: dict[str, int]  # term -> its position in postings.terms
    frequencies: npt.NDArray[np.float32]  # BM25F's normalised, weighted tf, by posting
    documents: tuple[uuid.UUID, ...]  # distinct, by document number
    document_of: npt.NDArray[np.intp]  # each row's document number
    pages: _Pages  # the postings of whole documents

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
            rows = postings.rows[start:end]
            scores[rows] += _bm25(self.frequencies[start:end], len(rows), total)
            start, end = self.pages.offsets[term], self.pages.offsets[term + 1]
            held = self.pages.pages[start:end]
            page_scores[held] += _bm25(self.pages.frequencies[start:end], len(held), pages)
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


def _bm25(tf: npt.NDArray[np.float32], held: int, total: int) -> npt.NDArray[np.float32]:
    idf = math.log((total - held + 0.5) / (held + 0.5) + 1.0)
    result: npt.NDArray[np.float32] = (idf * tf * (K1 + 1) / (tf + K1)).astype(np.float32)
    return result


def _best(scores: npt.NDArray[np.float32], limit: int) -> npt.NDArray[np.intp]:
    """The positions of the `limit` highest positive scores, best first."""
    held = np.flatnonzero(scores)
    if len(held) > limit:
        held = held[np.argpartition(-scores[held], limit - 1)[:limit]]
    return held[np.argsort(-scores[held], kind="stable")]


@dataclass(frozen=True)
class _Pages:
    """Postings of whole documents: term i's are [offsets[i], offsets[i + 1])."""

    offsets: npt.NDArray[np.int64]
    pages: npt.NDArray[np.intp]  # document numbers
    frequencies: npt.NDArray[np.float32]  # BM25F's tf, as `_Index.frequencies`


Floats = npt.NDArray[np.float64]


def _normalised(fields: Floats, lengths: Floats, of: npt.NDArray[np.integer]) -> Floats32:
    """BM25F's tf of each posting: the sum over fields of weight * tf / (1 - b + b * length /
    average), `fields` (postings x fields) the counts, `lengths` (items x fields) the
    fields' lengths, `of` each posting's item."""
    average = lengths.mean(axis=0) if len(lengths) else np.ones(kb_search.FIELDS)
    norm = 1 - B + B * lengths / np.where(average > 0, average, 1.0)
    tf: Floats32 = ((fields * np.array(WEIGHTS)) / norm[of]).sum(axis=1).astype(np.float32)
    return tf


def _summed(items: npt.NDArray[np.integer], counts: Floats, total: int) -> Floats:
    """Per item (0 .. total - 1), the sum of the `counts` (rows x fields) of its rows."""
    columns = [
        np.bincount(items, weights=counts[:, f], minlength=total) for f in range(kb_search.FIELDS)
    ]
    summed: Floats = np.stack(columns, axis=1).astype(np.float64)
    return summed


def _pages(
    postings: kb_search.Postings, document_of: npt.NDArray[np.intp], lengths: Floats
) -> _Pages:
    """Each document as one text: its passages' counts summed, but its title once (every
    passage repeats it)."""
    pages = max(int(document_of.max()) + 1 if len(document_of) else 0, 1)
    passages = np.maximum(np.bincount(document_of, minlength=pages), 1).astype(np.float64)
    term_of = np.repeat(np.arange(len(postings.terms)), np.diff(postings.offsets))
    keys, page_posting = np.unique(
        term_of * pages + document_of[postings.rows], return_inverse=True
    )
    page_of = (keys % pages).astype(np.intp)
    fields = _summed(page_posting, postings.fields.astype(np.float64), len(keys))
    fields[:, 0] /= passages[page_of]
    page_lengths = _summed(document_of, lengths, pages)
    page_lengths[:, 0] /= passages
    counts = np.bincount(keys // pages, minlength=len(postings.terms))
    return _Pages(
        np.concatenate(([0], np.cumsum(counts))).astype(np.int64),
        page_of,
        _normalised(fields, page_lengths, page_of),
    )


def _index(revision: int, postings: kb_search.Postings) -> _Index:
    fields = postings.fields.astype(np.float64)
    lengths = _summed(postings.rows, fields, len(postings.passage_ids))
    numbers: dict[uuid.UUID, int] = {}
    document_of = np.fromiter(
        (numbers.setdefault(d, len(numbers)) for d in postings.document_ids),
        dtype=np.intp,
        count=len(postings.document_ids),
    )
    vocabulary = {term: position for position, term in enumerate(postings.terms)}
    return _Index(
        revision, postings, vocabulary, _normalised(fields, lengths, postings.rows),
        tuple(numbers), document_of, _pages(postings, document_of, lengths),
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
