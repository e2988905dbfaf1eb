"""How the fusion's weights were chosen: 4-fold cross-validation on the evaluation sets.

    python -m benchmarks.kb tune --database-url URL [--database-url URL2]

On each database given (the collections `python` and `postgres` imported as in
docs/knowledge-base.md), every question's documents found are scored once: keyword (the
damped sum of a document's best passages' BM25, for three ways of summing them), best
passage's cosine, mean vector's cosine (gateway/kb/fusion.py). Two families of fusion are
then compared on the evaluation sets alone (`python-doc.jsonl`, `postgresql-doc.jsonl`):

- `convex`: KEYWORD * keyword + (1 - KEYWORD) * (share * best + (1 - share) * mean), each
  score divided by its best among the documents found (what search does);
- `rrf`: reciprocal rank fusion (k 60) of the three rankings, with weights.

For each fold, the setting with the best mean MRR (plus a tenth of the mean recall@5) over
the other three folds of every (database, manual) pair is taken and scored on the fold; the
out-of-fold figures estimate what a setting chosen this way does on unseen questions. The
setting chosen on all the evaluation questions is then scored on the held-out sets, which
choose nothing. Prints one JSON object.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from gateway.kb import fusion, keyword
from gateway.kb.errors import QueryError
from gateway.kb.eval import Case, load_cases
from gateway.kb.query import query_terms
from gateway.kb.search import CANDIDATES, KnowledgeBase
from store import kb as records
from store.database import Database

HERE = Path(__file__).resolve().parent.parent / "tests" / "kb"
TRAIN = {"python": "python-doc.jsonl", "postgres": "postgresql-doc.jsonl"}
HELD_OUT = {"python": "python-doc-heldout.jsonl", "postgres": "postgresql-doc-heldout.jsonl"}
FOLDS = 4
# ways of summing a document's best passages' BM25: (passages, damping)
SUMS = {"sum of 3": (3, 1.0), "damped 0.5": (5, 0.5), "damped 0.7": (5, 0.7)}
Scores = npt.NDArray[np.float64]
Key = tuple[str, str]  # (database, question file)


@dataclass(frozen=True)
class _Question:
    relevant: npt.NDArray[np.bool_]  # by document found
    keyword: dict[str, Scores]  # by way of summing: each document's scaled score
    best: Scores
    mean: Scores

    def outcome(self, score: Scores) -> tuple[int, float]:
        """(1 when a relevant document is in the top 5, else 0; its reciprocal rank)."""
        for rank, place in enumerate(np.argsort(-score, kind="stable")[:5], start=1):
            if self.relevant[place]:
                return 1, 1 / rank
        return 0, 0.0


@dataclass(frozen=True)
class _Setting:
    label: str
    score: Callable[[_Question], Scores]


def _convex(summing: str, weight: float, share: float) -> _Setting:
    def score(q: _Question) -> Scores:
        semantic = share * q.best + (1 - share) * q.mean
        result: Scores = weight * q.keyword[summing] + (1 - weight) * semantic
        return result

    return _Setting(f"convex {summing}, keyword {weight}, best passage {share}", score)


def _rrf(summing: str, weights: tuple[float, float, float]) -> _Setting:
    def score(q: _Question) -> Scores:
        total = np.zeros(len(q.relevant))
        for values, weight in zip((q.keyword[summing], q.best, q.mean), weights, strict=True):
            order = np.argsort(-values, kind="stable")[:CANDIDATES]
            total[order] += weight / (fusion.K + np.arange(1, len(order) + 1))
        return total

    return _Setting(f"rrf {summing}, weights {weights}", score)


def _settings(family: str) -> Iterator[_Setting]:
    for summing in SUMS:
        if family == "convex":
            for weight, share in itertools.product(
                (0.3, 0.4, 0.5, 0.6, 0.7), (0.0, 0.25, 0.5, 0.75, 1.0)
            ):
                yield _convex(summing, weight, share)
        else:
            for weights in itertools.product((1, 1.5, 2, 3), (0, 0.5, 1), (0.5, 1, 1.5, 2)):
                yield _rrf(summing, (float(weights[0]), float(weights[1]), float(weights[2])))


async def _questions(
    db: Database, kb: KnowledgeBase, collection: records.Collection, cases: Sequence[Case]
) -> list[_Question]:
    async with db.transaction() as session:
        stored = await records.stored_documents(session, collection.id)
    paths = {document.id: path for path, document in stored.items()}
    found = []
    for case in cases:
        try:
            terms = query_terms(case.query, kb.config.language, kb.config.max_query_chars)
        except QueryError:
            continue
        found.append(await _question(db, kb, collection, terms, case, paths))
    return found


async def _question(
    db: Database,
    kb: KnowledgeBase,
    collection: records.Collection,
    terms: Sequence[str],
    case: Case,
    paths: dict[uuid.UUID, str],
) -> _Question:
    vector = (await kb.embedder.embed([case.query]))[0]
    sums = {}
    async with db.transaction() as session:
        for label, (passages, damping) in SUMS.items():
            keyword.BEST_PASSAGES, keyword.DAMPING = passages, damping
            sums[label] = await kb.keywords.search(session, [collection], terms, CANDIDATES)
        await kb.vectors.load(session, collection)
    keyword.BEST_PASSAGES, keyword.DAMPING = SUMS["damped 0.5"]
    near = await kb.vectors.nearest([collection], vector, CANDIDATES)
    found = [c.document for ranking in next(iter(sums.values())).passages for c in ranking]
    documents = list(dict.fromkeys([*found, *(c.document for c, _ in near.passages)]))

    def scaled(scores: dict[uuid.UUID, float], floor: float | None) -> Scores:
        values = fusion._scaled(scores, documents, floor)
        return np.array([values.get(d, 0.0) for d in documents])

    return _Question(
        np.array([paths[d] in case.documents for d in documents]),
        {label: scaled(dict(r.keyword), 0.0) for label, r in sums.items()},
        scaled(near.best, None),
        scaled(near.mean, None),
    )


def _outcomes(
    setting: _Setting, data: dict[Key, list[_Question]]
) -> dict[Key, list[tuple[int, float]]]:
    return {key: [q.outcome(setting.score(q)) for q in qs] for key, qs in data.items()}


def _cell(outcomes: Sequence[tuple[int, float]]) -> list[float]:
    count = len(outcomes) or 1
    return [
        round(sum(o[0] for o in outcomes) / count, 3),
        round(sum(o[1] for o in outcomes) / count, 3),
    ]


def _objective(outcomes: dict[Key, list[tuple[int, float]]], keep: Callable[[int], bool]) -> float:
    cells = [_cell([o for i, o in enumerate(v) if keep(i)]) for v in outcomes.values()]
    return float(
        np.mean([mrr for _, mrr in cells]) + 0.1 * np.mean([recall for recall, _ in cells])
    )


def _outside(fold: int) -> Callable[[int], bool]:
    return lambda i: i % FOLDS != fold


def _family(
    family: str, train: dict[Key, list[_Question]], held: dict[Key, list[_Question]]
) -> dict[str, Any]:
    settings = list(_settings(family))
    scored = [(s, _outcomes(s, train)) for s in settings]
    out_of_fold: dict[Key, list[tuple[int, float]]] = {key: [] for key in train}
    chosen = []
    for fold in range(FOLDS):
        setting, outcomes = max(scored, key=lambda pair: _objective(pair[1], _outside(fold)))
        chosen.append(setting.label)
        for key, values in outcomes.items():
            out_of_fold[key] += [o for i, o in enumerate(values) if i % FOLDS == fold]
    final, outcomes = max(scored, key=lambda pair: _objective(pair[1], lambda i: True))
    return {
        "settings": len(settings),
        "chosen_per_fold": chosen,
        "out_of_fold": {" ".join(k): _cell(v) for k, v in out_of_fold.items()},
        "chosen": final.label,
        "evaluation_sets": {" ".join(k): _cell(v) for k, v in outcomes.items()},
        "held_out": {" ".join(k): _cell(v) for k, v in _outcomes(final, held).items()},
    }


async def run_tune(dbs: Sequence[Database], kb: KnowledgeBase) -> dict[str, Any]:
    train: dict[Key, list[_Question]] = {}
    held: dict[Key, list[_Question]] = {}
    for db in dbs:
        for name in TRAIN:
            async with db.transaction() as session:
                collection = await records.collection(session, "default", name)
            if collection is None:
                continue  # import it (botgate kb import) to measure it
            for files, into in ((TRAIN, train), (HELD_OUT, held)):
                cases = load_cases(HERE / files[name])
                into[(db.dialect, files[name])] = await _questions(db, kb, collection, cases)
    return {family: _family(family, train, held) for family in ("convex", "rrf")}
