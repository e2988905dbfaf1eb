"""Fusing keyword and semantic evidence into one ranking, at document level.

The evaluation, and a reader, judge pages, so documents are ranked, each by a weighted sum
(a convex combination) of three scores, each divided by its best value among the documents
found, so that each lies in 0..1 and the best document of each scores 1:

- keyword: the BM25 of a document's best passages, damped (gateway/kb/keyword.py);
- by meaning: the cosine of the question with the document's best passage, and with the
  mean vector of its passages (gateway/kb/semantic.py).

    score = KEYWORD * keyword + (1 - KEYWORD) * (BEST_PASSAGE * best + (1 - BEST_PASSAGE) * mean)

The weights were chosen by 4-fold cross-validation on the two evaluation sets (the Python
and PostgreSQL manuals' questions, on both databases), against reciprocal rank fusion with
weights; the held-out questions chose nothing (`python -m benchmarks.kb tune`,
docs/knowledge-base.md). Scores rather than ranks: reciprocal rank fusion of equals let
three weaker rankings outvote the strong keyword one on the PostgreSQL manual, and with
weights it did less well in the cross-validation than this. A semantic score missing for a
document (below the nearest CANDIDATES) counts as the lowest one found.

Documents come out in that order, each with its passages in the order of their own score
(the sum of 1 / (K + rank) over the passage rankings), so an answer's passages are the best
ones of the best page. A document is returned through its passages found.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

K = 60.0  # reciprocal rank constant that orders a document's passages
KEYWORD = 0.5  # the keyword score's weight; the semantic scores share the rest
BEST_PASSAGE = 0.25  # the best passage's share of the semantic weight, the mean vector's 0.75


@dataclass(frozen=True)
class Candidate:
    passage: uuid.UUID
    document: uuid.UUID


@dataclass(frozen=True)
class Rankings:
    """What one search found: passage rankings best first, and document scores."""

    passages: Sequence[Sequence[Candidate]]  # the passages a result may show
    keyword: Mapping[uuid.UUID, float] = field(default_factory=dict)  # damped BM25 sum
    best: Mapping[uuid.UUID, float] = field(default_factory=dict)  # best passage's cosine
    mean: Mapping[uuid.UUID, float] = field(default_factory=dict)  # mean vector's cosine


def weights(rankings: Rankings) -> tuple[float, float, float]:
    """The weights of the keyword, best-passage and mean-vector scores for what was found:
    a side that found nothing gives its weight to the other."""
    semantic = bool(rankings.best or rankings.mean)
    keyword = KEYWORD if rankings.keyword and semantic else float(bool(rankings.keyword))
    rest = 1.0 - keyword
    return keyword, rest * BEST_PASSAGE, rest * (1 - BEST_PASSAGE)


def fuse(rankings: Rankings) -> list[tuple[Candidate, float]]:
    """Passages best first, document by document, each with its document's score (0..1; 1:
    the best document by every score)."""
    passage_score: dict[uuid.UUID, float] = {}
    document_of: dict[uuid.UUID, uuid.UUID] = {}
    for ranking in rankings.passages:
        for rank, candidate in enumerate(ranking, start=1):
            passage_score[candidate.passage] = passage_score.get(candidate.passage, 0.0) + (
                1 / (K + rank)
            )
            document_of[candidate.passage] = candidate.document
    documents = list(dict.fromkeys(document_of.values()))
    document_score = dict.fromkeys(documents, 0.0)
    scores = ((rankings.keyword, 0.0), (rankings.best, None), (rankings.mean, None))
    for (found, floor), weight in zip(scores, weights(rankings), strict=True):
        if weight:
            for document, value in _scaled(found, documents, floor).items():
                document_score[document] += weight * value
    ordered = sorted(
        passage_score, key=lambda p: (-document_score[document_of[p]], -passage_score[p])
    )
    return [(Candidate(p, document_of[p]), document_score[document_of[p]]) for p in ordered]


def _scaled(
    scores: Mapping[uuid.UUID, float], documents: Sequence[uuid.UUID], floor: float | None
) -> dict[uuid.UUID, float]:
    """Each document's score divided by the best among `documents`. A document without one
    gets `floor` (BM25: 0, none of the words), or else the lowest score known (a cosine not
    computed, of a passage below those compared exactly, is below those that were)."""
    if not scores:
        return {}
    low = min(scores.values()) if floor is None else floor
    values = {document: scores.get(document, low) for document in documents}
    best = max(values.values(), default=0.0)
    return {d: value / best for d, value in values.items()} if best > 0 else {}
