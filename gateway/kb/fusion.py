"""Reciprocal rank fusion of the keyword and the semantic ranking, weighted.

RRF scores an item `weight / (k + rank)` in each ranking it appears in and adds them up: it
needs no calibration between BM25 scores and cosines. A small static embedding model is
weaker than BM25 on technical manuals, where questions name the very terms of the answer,
so its ranking counts for less (`semantic_weight`).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TypeVar

Key = TypeVar("Key", bound=Hashable)


def fuse(
    rankings: Sequence[tuple[Sequence[Key], float]], k: float = 60.0
) -> list[tuple[Key, float]]:
    """`rankings`: (items best first, weight). Items by fused score, best first; scores are
    scaled so that an item first in every ranking scores 1."""
    scores: dict[Key, float] = {}
    for items, weight in rankings:
        for rank, item in enumerate(items, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    best = sum(weight for _, weight in rankings) / (k + 1)
    ordered = sorted(scores.items(), key=lambda pair: -pair[1])
    return [(item, score / best) for item, score in ordered] if best else []
