"""Fusing the rankings into one, at document level.

Reciprocal rank fusion (RRF): an item scores `1 / (k + rank)` in each ranking it appears in;
the scores add up. It needs no calibration between BM25 scores and cosines.

The evaluation, and a reader, judge pages, so the rankings are fused as rankings of
documents, four of them in a search: by keyword, documents by the sum of their best
passages' BM25 and by BM25 of the whole page (gateway/kb/keyword.py); by meaning, documents
by their best passage's cosine and by the cosine with the mean vector of their passages
(gateway/kb/semantic.py). Every ranking counts the same: a weight per ranking would be a
setting chosen on the evaluation sets. The documents come out in the order of their fused
score, each with its passages in the order of their own fused score (the sum over the
passage rankings), so an answer's passages are the best ones of the best page.

The first version fused passages, gave a document the sum of its three best passages'
fused scores, and weighted the rankings with weights chosen on the evaluation sets: it
favoured long pages with many middling passages, and on questions written afterwards it
fell below keyword search (docs/knowledge-base.md has the figures of both).
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
class Rankings:
    """What one search found, each ranking best first."""

    passages: Sequence[Sequence[Candidate]]  # the passages a result may show
    documents: Sequence[Sequence[uuid.UUID]]  # the document rankings fused


def fuse(rankings: Rankings) -> list[tuple[Candidate, float]]:
    """Passages best first, document by document, each with its document's score scaled to
    0..1 (1: first in every document ranking)."""
    passage_score: dict[uuid.UUID, float] = {}
    document_of: dict[uuid.UUID, uuid.UUID] = {}
    for ranking in rankings.passages:
        for rank, candidate in enumerate(ranking, start=1):
            passage_score[candidate.passage] = passage_score.get(candidate.passage, 0.0) + (
                1 / (K + rank)
            )
            document_of[candidate.passage] = candidate.document
    document_score = dict.fromkeys(document_of.values(), 0.0)
    for documents in rankings.documents:  # (a document is returned through its passages)
        for rank, document in enumerate(documents, start=1):
            if document in document_score:
                document_score[document] += 1 / (K + rank)
    best = len(rankings.documents) / (K + 1) or 1.0
    ordered = sorted(
        passage_score, key=lambda p: (-document_score[document_of[p]], -passage_score[p])
    )
    return [(Candidate(p, document_of[p]), document_score[document_of[p]] / best) for p in ordered]


def by_best_passage(ranking: Sequence[Candidate]) -> list[uuid.UUID]:
    """The documents of a passage ranking, each at the place of its best passage."""
    return list(dict.fromkeys(candidate.document for candidate in ranking))
