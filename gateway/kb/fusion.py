"""Fusing the rankings into one, at passage and document level.

Reciprocal rank fusion (RRF): an item scores `weight / (k + rank)` in each ranking it appears
in; the scores add up. It needs no calibration between BM25 scores and cosines.

Passages alone are a noisy signal of what a page is about, so documents count too: a
document scores the sum of its best `per_document` passage scores, plus its rank in the
document ranking (question vs. the mean vector of the document's passages). A passage's
final score is its document's score plus its own, so the passages of the document that
matches best come first, and a strong passage of another document can still come between.

Passage-level RRF alone (the first version) fell short of what the document level adds on
the evaluation sets; the figures per mode and database are in docs/knowledge-base.md.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

K = 60.0


@dataclass(frozen=True)
class Candidate:
    passage: uuid.UUID
    document: uuid.UUID


@dataclass(frozen=True)
class Weights:
    keyword: float = 1.0
    semantic: float = 1.0
    document: float = 1.0
    keyword_document: float = 1.0
    per_document: int = 3


def fuse(
    keyword: Sequence[Candidate],
    semantic: Sequence[Candidate],
    documents: Sequence[uuid.UUID],
    weights: Weights = Weights(),
    keyword_documents: Sequence[uuid.UUID] = (),
) -> list[tuple[Candidate, float]]:
    """Passages best first, with scores scaled to 0..1 (1: first in every ranking)."""
    passage_score: dict[uuid.UUID, float] = {}
    document_of: dict[uuid.UUID, uuid.UUID] = {}
    for ranking, weight in ((keyword, weights.keyword), (semantic, weights.semantic)):
        for rank, candidate in enumerate(ranking, start=1):
            passage_score[candidate.passage] = passage_score.get(candidate.passage, 0.0) + (
                weight / (K + rank)
            )
            document_of[candidate.passage] = candidate.document
    document_score = _documents(
        passage_score, document_of, documents, keyword_documents, weights
    )
    total = {p: document_score[document_of[p]] + s for p, s in passage_score.items()}
    best = _best_possible(weights)
    ordered = sorted(total.items(), key=lambda pair: -pair[1])
    return [(Candidate(p, document_of[p]), score / best) for p, score in ordered]


def _documents(
    passage_score: dict[uuid.UUID, float],
    document_of: dict[uuid.UUID, uuid.UUID],
    documents: Sequence[uuid.UUID],
    keyword_documents: Sequence[uuid.UUID],
    weights: Weights,
) -> dict[uuid.UUID, float]:
    scores: dict[uuid.UUID, list[float]] = {}
    for passage, score in passage_score.items():
        scores.setdefault(document_of[passage], []).append(score)
    result = {
        document: sum(sorted(values, reverse=True)[: weights.per_document])
        for document, values in scores.items()
    }
    rankings = ((documents, weights.document), (keyword_documents, weights.keyword_document))
    for ranking, weight in rankings:
        for rank, document in enumerate(ranking, start=1):
            if document in result:  # a document counts through its passages found
                result[document] += weight / (K + rank)
    return result


def _best_possible(weights: Weights) -> float:
    passage = (weights.keyword + weights.semantic) / (K + 1)
    documents = (weights.document + weights.keyword_document) / (K + 1)
    return (weights.per_document + 1) * passage + documents or 1.0
