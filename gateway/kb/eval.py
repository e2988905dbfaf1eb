"""Retrieval quality of a collection against questions whose answering documents are known.

The file holds one JSON object per line: `{"query": "...", "documents": ["<path>", ...]}`.
Document level: a question's ranking is the distinct documents of its passages, best first.
`recall_at_k`: the share of questions with a relevant document in their top k.
`mrr`: the mean of 1 / rank of the first relevant document within the top k (0 when none is).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from gateway.kb.errors import KbError, QueryError
from gateway.kb.search import CANDIDATES, KnowledgeBase, Mode
from store.database import Database


@dataclass(frozen=True)
class Case:
    query: str
    documents: frozenset[str]


@dataclass(frozen=True)
class Outcome:
    case: Case
    ranking: tuple[str, ...]  # distinct documents, best first

    def rank(self, k: int) -> int | None:
        """1-based rank of the first relevant document within the top k."""
        for rank, document in enumerate(self.ranking[:k], start=1):
            if document in self.case.documents:
                return rank
        return None


@dataclass(frozen=True)
class Evaluation:
    k: int
    outcomes: tuple[Outcome, ...]

    @property
    def recall_at_k(self) -> float:
        found = sum(1 for outcome in self.outcomes if outcome.rank(self.k) is not None)
        return found / len(self.outcomes) if self.outcomes else 0.0

    @property
    def mrr(self) -> float:
        ranks = [outcome.rank(self.k) for outcome in self.outcomes]
        total = sum(1 / rank for rank in ranks if rank is not None)
        return total / len(self.outcomes) if self.outcomes else 0.0

    def summary(self) -> dict[str, object]:
        return {
            "queries": len(self.outcomes),
            "k": self.k,
            "recall_at_k": round(self.recall_at_k, 4),
            "mrr": round(self.mrr, 4),
        }


def load_cases(path: Path) -> list[Case]:
    """The questions of an evaluation file; KbError naming the line of a bad one."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise KbError(f"cannot read {path}: {exc}") from None
    cases = [_case(path, number, line) for number, line in enumerate(lines, 1) if line.strip()]
    if not cases:
        raise KbError(f"{path} holds no questions (one JSON object per line)")
    return cases


def _case(path: Path, number: int, line: str) -> Case:
    try:
        item = orjson.loads(line)
        query, documents = item["query"], item["documents"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        raise KbError(
            f'{path}:{number}: expected {{"query": "...", "documents": ["<path>", ...]}}'
        ) from None
    if not isinstance(query, str) or not isinstance(documents, list) or not documents:
        raise KbError(f"{path}:{number}: query must be text and documents a non-empty list")
    return Case(query, frozenset(str(document) for document in documents))


async def evaluate(
    kb: KnowledgeBase,
    db: Database,
    organization: str,
    collection: str,
    cases: Sequence[Case],
    *,
    k: int = 5,
    mode: Mode = "fused",
) -> Evaluation:
    outcomes = []
    for case in cases:
        try:
            hits = await kb.search(
                db, organization, [collection], case.query, limit=CANDIDATES, mode=mode
            )
        except QueryError:
            hits = []
        ranking = tuple(dict.fromkeys(hit.document for hit in hits))
        outcomes.append(Outcome(case, ranking))
    return Evaluation(k, tuple(outcomes))
