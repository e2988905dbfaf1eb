"""Semantic search: cosine similarity of the question's vector with every passage's, in numpy.

A collection's vectors are read from the database once into one float32 matrix and kept
while the collection's `revision` and model stay the same; any import or delete bumps the
revision, and the next search reads the matrix again. At 50,000 passages of 256 dimensions
the product is ~13 million multiply-adds: a few milliseconds, no vector server needed.

At 50,000 passages that product was most of a semantic search's time, for two reasons
measured in benchmarks/kb.py: OpenBLAS runs a matrix-vector product on all cores and spins
while it waits (twice the CPU time for the same product on a 2-core machine beside the event
loop), and the product is bound by memory bandwidth (51 MB read per question). So BLAS is
held to one thread, and a large collection is searched in two steps: WordLlama's vectors are
Matryoshka-trained (a prefix of the dimensions is itself an embedding), so the first
PREFIX dimensions rank every passage, and the best PREFILTER of them are ranked again with
all dimensions (the top 100 agree at 99 % with the exact ranking on both evaluation sets).
The matrix is kept as its two column blocks, so no row is stored twice.

Each document also gets a vector, the normalised mean of its passages': what the page as a
whole is about. A search gives gateway/kb/fusion.py two scores of documents: the cosine of
the best passage of the documents of the nearest passages, and that of the mean vector of
the nearest documents, as many of each as passages are asked for (the others count as the
last of them there).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sqlalchemy.ext.asyncio import AsyncSession
from threadpoolctl import threadpool_limits

from gateway.kb.embeddings import Vectors, from_bytes, normalize
from gateway.kb.fusion import Candidate
from store import kb as records

PREFIX = 128  # dimensions of the first, coarse ranking of a large collection
PREFILTER = 1000  # passages the coarse ranking keeps for the exact one
TWO_STEPS = 8 * PREFILTER  # collections with more passages are searched in two steps
# Up to this many passages a search runs in the event loop (about 2 ms at 50,000): handing
# it to a thread cost more than that, in CPU and under load in waiting for the thread
IN_LOOP = 100_000


@dataclass(frozen=True)
class _Matrix:
    revision: int
    model: str
    passages: tuple[Candidate, ...]
    head: Vectors  # the first PREFIX dimensions of each passage's vector (C order)
    tail: Vectors  # the rest
    documents: tuple[uuid.UUID, ...]
    centroids: Vectors
    rows: dict[uuid.UUID, int]  # passage id -> its row

    @property
    def dimensions(self) -> int:
        return int(self.head.shape[1] + self.tail.shape[1])

    def cosines(self, query: Vectors, rows: npt.NDArray[np.intp] | None = None) -> Vectors:
        """Cosine of `query` with every passage, or with those `rows`."""
        width = self.head.shape[1]
        head = self.head if rows is None else self.head[rows]
        tail = self.tail if rows is None else self.tail[rows]
        result: Vectors = head @ query[:width] + tail @ query[width:]
        return result


@dataclass(frozen=True)
class Nearest:
    passages: list[tuple[Candidate, float]]  # best first, with cosines
    best: dict[uuid.UUID, float]  # the documents of those passages: their best one's cosine
    mean: dict[uuid.UUID, float]  # the nearest documents by the cosine with their mean vector


class VectorCache:
    """The vectors of the collections searched lately, one matrix per collection."""

    def __init__(self, max_collections: int = 64) -> None:
        _one_blas_thread()
        self._matrices: dict[uuid.UUID, _Matrix] = {}
        self._locks: dict[uuid.UUID, asyncio.Lock] = {}
        self._max = max_collections

    async def load(self, session: AsyncSession, collection: records.Collection) -> None:
        """Have the collection's current vectors at hand (read them when they changed)."""
        await self._matrix(session, collection)

    def holds(self, collection: records.Collection) -> bool:
        """Whether the collection's vectors at its revision are in memory."""
        return _current(self._matrices.get(collection.id), collection)

    async def nearest(
        self, collections: Sequence[records.Collection], query: Vectors, limit: int
    ) -> Nearest:
        """The passages and documents most similar to `query` (a unit vector), over the
        collections `load` read; no database work (in a thread for very large collections)."""
        matrices = [self._matrices.get(collection.id) for collection in collections]
        usable = [
            m for m in matrices
            if m is not None and m.passages and m.dimensions == query.shape[-1]
        ]  # fmt: skip
        if not usable:
            return Nearest([], {}, {})
        if sum(len(m.passages) for m in usable) <= IN_LOOP:
            return _nearest_all(usable, query.reshape(-1), limit)
        return await asyncio.to_thread(_nearest_all, usable, query.reshape(-1), limit)

    async def similarities(
        self,
        session: AsyncSession,
        collection: records.Collection,
        passages: Sequence[uuid.UUID],
        query: Vectors,
    ) -> dict[uuid.UUID, float]:
        """Cosine of `query` with each of these passages that has a vector."""
        matrix = await self._matrix(session, collection)
        if matrix is None or not matrix.passages or matrix.dimensions != query.shape[-1]:
            return {}
        found = [p for p in passages if p in matrix.rows]
        rows = np.fromiter((matrix.rows[p] for p in found), dtype=np.intp, count=len(found))
        cosines = matrix.cosines(query.reshape(-1), rows)
        return {p: float(cosine) for p, cosine in zip(found, cosines, strict=True)}

    async def _matrix(
        self, session: AsyncSession, collection: records.Collection
    ) -> _Matrix | None:
        if collection.embedding_model is None:
            return None
        cached = self._matrices.get(collection.id)
        if _current(cached, collection):
            return cached
        async with self._locks.setdefault(collection.id, asyncio.Lock()):
            cached = self._matrices.get(collection.id)
            if _current(cached, collection):
                return cached
            rows = await records.passage_vectors(session, collection.id)
            matrix = await asyncio.to_thread(_build, collection, rows)
            if len(self._matrices) >= self._max:
                self._matrices.pop(next(iter(self._matrices)))
            self._matrices[collection.id] = matrix
            return matrix


def _current(cached: _Matrix | None, collection: records.Collection) -> bool:
    return (
        cached is not None
        and cached.revision == collection.revision
        and cached.model == collection.embedding_model
    )


def _build(
    collection: records.Collection, rows: Sequence[tuple[uuid.UUID, uuid.UUID, bytes]]
) -> _Matrix:
    assert collection.embedding_model is not None
    passages = tuple(Candidate(passage, document) for passage, document, _ in rows)
    if not rows:
        empty = np.zeros((0, 0), dtype=np.float32)
        return _Matrix(
            collection.revision, collection.embedding_model, (), empty, empty, (), empty, {}
        )
    vectors = from_bytes([blob for _, _, blob in rows], len(rows[0][2]) // 2)
    documents = tuple(dict.fromkeys(document for _, document, _ in rows))
    index = {document: i for i, document in enumerate(documents)}
    sums = np.zeros((len(documents), vectors.shape[1]), dtype=np.float32)
    np.add.at(sums, np.fromiter((index[d] for _, d, _ in rows), dtype=np.int64), vectors)
    return _Matrix(
        collection.revision,
        collection.embedding_model,
        passages,
        np.ascontiguousarray(vectors[:, :PREFIX]),
        np.ascontiguousarray(vectors[:, PREFIX:]),
        documents,
        normalize(sums),
        {candidate.passage: row for row, candidate in enumerate(passages)},
    )


def _nearest_all(matrices: Sequence[_Matrix], query: Vectors, limit: int) -> Nearest:
    passages: list[tuple[Candidate, float]] = []
    means: list[tuple[uuid.UUID, float]] = []
    for matrix in matrices:
        found, mean = _nearest(matrix, query, limit)
        passages += found
        means += mean
    passages = sorted(passages, key=lambda pair: -pair[1])[:limit]
    best: dict[uuid.UUID, float] = {}
    for candidate, cosine in passages:
        best.setdefault(candidate.document, cosine)
    return Nearest(passages, best, dict(sorted(means, key=lambda pair: -pair[1])[:limit]))


def _nearest(
    matrix: _Matrix, query: Vectors, limit: int
) -> tuple[list[tuple[Candidate, float]], list[tuple[uuid.UUID, float]]]:
    """The `limit` passages nearest the query (in two steps in a large collection), and the
    `limit` documents whose mean vectors are."""
    if len(matrix.passages) > TWO_STEPS and matrix.head.shape[1] == PREFIX:
        coarse = matrix.head @ query[:PREFIX]
        rows = np.argpartition(-coarse, PREFILTER - 1)[:PREFILTER]
        exact = [(int(rows[i]), score) for i, score in _top(matrix.cosines(query, rows), limit)]
    else:
        exact = _top(matrix.cosines(query), limit)
    passages = [(matrix.passages[i], score) for i, score in exact]
    return passages, [(matrix.documents[i], s) for i, s in _top(matrix.centroids @ query, limit)]


def _top(scores: Vectors, limit: int) -> list[tuple[int, float]]:
    count = min(limit, len(scores))
    if count == 0:
        return []
    best = np.argpartition(-scores, count - 1)[:count]
    best = best[np.argsort(-scores[best])]
    return [(int(i), float(scores[i])) for i in best]


_blas_limited = False


def _one_blas_thread() -> None:
    """Hold BLAS to one thread in this process, once (see the module's notes)."""
    global _blas_limited
    if not _blas_limited:
        threadpool_limits(limits=1, user_api="blas")
        _blas_limited = True
