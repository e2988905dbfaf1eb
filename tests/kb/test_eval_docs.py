"""Retrieval quality on two real manuals: the Python documentation (python3-doc) and the
PostgreSQL manual (postgresql-doc-15), with the questions of tests/kb/*.jsonl.

The documents come from Debian's packages (tests/kb/debian-docs.sh installs them; CI runs
it). Every page is imported except index pages that are lists of links (the Python
`genindex*`, `py-modindex`, `search` pages and `_sources`; PostgreSQL's `bookindex`).
"""

from __future__ import annotations

import glob
from pathlib import Path

import pytest

from gateway.kb.eval import evaluate, load_cases
from gateway.kb.importer import Importer
from gateway.kb.search import KnowledgeBase
from store.database import Database

HERE = Path(__file__).parent
MANUALS = {
    "python": (
        "/usr/share/doc/python3.*/html",
        ("_*", "genindex*", "search.html", "py-modindex.html"),
        HERE / "python-doc.jsonl",
    ),
    "postgres": (
        "/usr/share/doc/postgresql-doc-15/html",
        ("bookindex.html",),
        HERE / "postgresql-doc.jsonl",
    ),
}
# Questions written before the ranking of docs/knowledge-base.md was changed, and not used
# to choose anything: a check that the changes were not fitted to the sets above.
HELD_OUT = {
    "python": HERE / "python-doc-heldout.jsonl",
    "postgres": HERE / "postgresql-doc-heldout.jsonl",
}
# The targets: recall@5 0.85 and MRR 0.75 (reached: Python 0.94 / 0.759-0.760,
# PostgreSQL 0.92 / 0.795-0.798 on the two databases; docs/knowledge-base.md has the figures).
MIN_RECALL = 0.85
MIN_MRR = 0.75
MIN_HELD_OUT_RECALL = 0.75


def _folder(pattern: str) -> Path:
    found = sorted({str(Path(path).resolve()) for path in glob.glob(pattern)})
    if not found:
        pytest.fail(f"no {pattern}: run `bash tests/kb/debian-docs.sh` (as root) first")
    return Path(found[0])


@pytest.mark.parametrize("manual", sorted(MANUALS))
async def test_fused_search_meets_the_floors_and_beats_keyword_search(
    kb: KnowledgeBase, db: Database, manual: str
) -> None:
    pattern, exclude, questions = MANUALS[manual]
    importer = Importer(kb, db, "default", manual)
    await importer.prepare()
    report = await importer.run([_folder(pattern)], exclude=exclude)
    assert report.failed == []
    cases = load_cases(questions)
    assert len(cases) >= 40
    keyword = await evaluate(kb, db, "default", manual, cases, k=5, mode="keyword")
    fused = await evaluate(kb, db, "default", manual, cases, k=5)
    assert fused.recall_at_k >= MIN_RECALL, fused.summary()
    assert fused.mrr >= MIN_MRR, fused.summary()
    assert fused.recall_at_k >= keyword.recall_at_k, (fused.summary(), keyword.summary())
    assert fused.mrr >= keyword.mrr, (fused.summary(), keyword.summary())
    held_out = load_cases(HELD_OUT[manual])
    assert len(held_out) >= 20
    keyword = await evaluate(kb, db, "default", manual, held_out, k=5, mode="keyword")
    fused = await evaluate(kb, db, "default", manual, held_out, k=5)
    assert fused.recall_at_k >= MIN_HELD_OUT_RECALL, fused.summary()
    assert fused.recall_at_k >= keyword.recall_at_k, (fused.summary(), keyword.summary())
    assert fused.mrr >= keyword.mrr, (fused.summary(), keyword.summary())
