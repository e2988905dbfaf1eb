"""Semantic search: cosine similarity of the question's vector with every passage's, in numpy.

A collection's vectors are read from the database once into one float32 matrix and kept
while the collection's `revision` and model stay the same; any import or delete bumps the
revision, and the next search reads the matrix again. At 50,000 passages of 256 dimensions
the product is ~13 million multiply-adds: a few milliseconds, no vector server needed.

Each document also gets a vector, the normalised mean of its passages': what the page as a
whole is about (the document ranking of gateway/kb/fusion.py).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.kb.embeddings import Vectors, from_bytes, normalize
from gateway.kb.fusion import Candidate
from store import kb as records


@dataclass(frozen=True)
class _Matrix:
    revision: int
    model: str
    passages: tuple[Candidate, ...]
    vectors: Vectors
    documents: tuple[uuid.UUID, ...]
    centroids: Vectors
    rows: dict[uuid.UUID, int]  # passage id -> its row in `vectors`


@dataclass(frozen=True)
class Nearest:
    passages: list[tuple[Candidate, float]]  # best first, with cosines
    documents: list[tuple[uuid.UUID, float]]


class VectorCache:
    """The vectors of the collections searched lately, one matrix per collection."""

    def __init__(self, max_collections: int = 64) -> None:
        self._matrices: dict[uuid.UUID, _Matrix] = {}
        self._locks: dict[uuid.UUID, asyncio.Lock] = {}
        self._max = max_collections

    async def load(self, session: AsyncSession, collection: records.Collection) -> None:
        """Have the collection's current vectors at hand (read them when they changed)."""
        await self._matrix(session, collection)

    async def nearest(
        self, collections: Sequence[records.Collection], query: Vectors, limit: int
    ) -> Nearest:
        """The passages and documents most similar to `query` (a unit vector), over the
        collections `load` read; no database work, so it may run beside other queries."""
        matrices = [self._matrices.get(collection.id) for collection in collections]
        usable = [
            m for m in matrices
            if m is not None and m.passages and m.vectors.shape[1] == query.shape[-1]
        ]  # fmt: skip
        if not usable:
            return Nearest([], [])
        found = await asyncio.to_thread(_nearest_all, usable, query.reshape(-1), limit)
        return found

    async def similarities(
        self,
        session: AsyncSession,
        collection: records.Collection,
        passages: Sequence[uuid.UUID],
        query: Vectors,
    ) -> dict[uuid.UUID, float]:
        """Cosine of `query` with each of these passages that has a vector."""
        matrix = await self._matrix(session, collection)
        if matrix is None or not matrix.passages or matrix.vectors.shape[1] != query.shape[-1]:
            return {}
        rows = {p: matrix.rows[p] for p in passages if p in matrix.rows}
        return {p: float(matrix.vectors[row] @ query.reshape(-1)) for p, row in rows.items()}

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
        return _Matrix(collection.revision, collection.embedding_model, (), empty, (), empty, {})
    vectors = from_bytes([blob for _, _, blob in rows], len(rows[0][2]) // 2)
    documents = tuple(dict.fromkeys(document for _, document, _ in rows))
    index = {document: i for i, document in enumerate(documents)}
    sums = np.zeros((len(documents), vectors.shape[1]), dtype=np.float32)
    np.add.at(sums, np.fromiter((index[d] for _, d, _ in rows), dtype=np.int64), vectors)
    return _Matrix(
        collection.revision,
        collection.embedding_model,
        passages,
        vectors,
        documents,
        normalize(sums),
        {candidate.passage: row for row, candidate in enumerate(passages)},
    )


def _nearest_all(matrices: Sequence[_Matrix], query: Vectors, limit: int) -> Nearest:
    passages: list[tuple[Candidate, float]] = []
    documents: list[tuple[uuid.UUID, float]] = []
    for matrix in matrices:
        found = _nearest(matrix, query, limit)
        passages += found.passages
        documents += found.documents
    passages.sort(key=lambda pair: -pair[1])
    documents.sort(key=lambda pair: -pair[1])
    return Nearest(passages[:limit], documents[:limit])


def _nearest(matrix: _Matrix, query: Vectors, limit: int) -> Nearest:
    passages = [(matrix.passages[i], score) for i, score in _top(matrix.vectors @ query, limit)]
    documents = [(matrix.documents[i], score) for i, score in _top(matrix.centroids @ query, limit)]
    return Nearest(passages, documents)


def _top(scores: Vectors, limit: int) -> list[tuple[int, float]]:
    count = min(limit, len(scores))
    if count == 0:
        return []
    best = np.argpartition(-scores, count - 1)[:count]
    best = best[np.argsort(-scores[best])]
    return [(int(i), float(scores[i])) for i in best]
