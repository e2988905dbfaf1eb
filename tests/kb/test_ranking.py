"""Keyword ranking (BM25 over postings, gateway/kb/keyword.py) and the fusion of rankings
(gateway/kb/fusion.py), on hand-made postings: no database."""

from __future__ import annotations

import uuid
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from gateway.kb.fusion import Candidate, Rankings, fuse
from gateway.kb.keyword import _index
from store.kb_search import SQLITE_TOKENIZER, Postings, _sqlite_postings

PAGES = [uuid.uuid4() for _ in range(3)]
PASSAGES = [uuid.uuid4() for _ in range(6)]
# passage row -> its page: page 0 holds rows 0-2, page 1 rows 3-4, page 2 row 5
PAGE_OF = [0, 0, 0, 1, 1, 2]


def _postings(terms: dict[str, list[tuple[int, float]]]) -> Postings:
    """Postings from {term: [(row, weighted frequency), ...]}; every row also holds four
    filler terms, so that the passages' lengths are alike."""
    lists = dict(terms) | {f"filler{i}": [(row, 1.0) for row in range(6)] for i in range(4)}
    offsets, rows, frequencies = [0], [], []
    for postings in lists.values():
        rows += [row for row, _ in postings]
        frequencies += [tf for _, tf in postings]
        offsets.append(len(rows))
    return Postings(
        PASSAGES, [PAGES[page] for page in PAGE_OF], list(lists),
        np.array(offsets, np.int64), np.array(rows, np.int32), np.array(frequencies, np.float32),
    )  # fmt: skip


def test_a_rare_term_outweighs_a_common_one_and_absent_stems_are_ignored() -> None:
    index = _index(1, _postings({"common": [(r, 1.0) for r in range(5)], "rare": [(5, 1.0)]}))
    ranked = index.rank(["common", "rare", "unknown"], 10)
    assert ranked.passages[0][0] == Candidate(PASSAGES[5], PAGES[2])
    assert len(ranked.passages) == 6
    assert max(ranked.documents, key=ranked.documents.__getitem__) == PAGES[2]
    assert index.rank(["unknown"], 10).passages == []
    assert index.rank(["unknown"], 10).documents == {}


def test_a_title_occurrence_counts_more_than_one_in_the_text() -> None:
    index = _index(1, _postings({"word": [(0, 1.0), (3, 5.0)]}))  # 5: in the title
    assert [c.passage for c, _ in index.rank(["word"], 10).passages] == [PASSAGES[3], PASSAGES[0]]


def test_a_page_with_several_matching_passages_beats_one_with_a_single_better_one() -> None:
    # page 0: three passages with the word once; page 1: one passage with it twice
    index = _index(1, _postings({"word": [(0, 1.0), (1, 1.0), (2, 1.0), (3, 2.0)]}))
    ranked = index.rank(["word"], 10)
    assert ranked.passages[0][0].passage == PASSAGES[3]
    assert ranked.documents[PAGES[0]] > ranked.documents[PAGES[1]]


def test_a_page_scores_its_best_passages_damped() -> None:
    """1, 1/2, 1/4, ... of its passages' BM25, best first: a second passage adds half."""
    index = _index(1, _postings({"word": [(0, 1.0), (1, 1.0), (5, 1.0)]}))
    ranked = index.rank(["word"], 10)
    single = ranked.documents[PAGES[2]]
    assert abs(ranked.documents[PAGES[0]] - 1.5 * single) < 1e-5


def test_limit_keeps_the_best() -> None:
    index = _index(1, _postings({"word": [(r, float(r + 1)) for r in range(6)]}))
    ranked = index.rank(["word"], 2)
    assert [c.passage for c, _ in ranked.passages] == [PASSAGES[5], PASSAGES[4]]


def _candidate(row: int) -> Candidate:
    return Candidate(PASSAGES[row], PAGES[PAGE_OF[row]])


def test_fusion_orders_documents_by_their_weighted_scores_and_passages_within_them() -> None:
    keyword = [_candidate(3), _candidate(0), _candidate(1)]
    semantic = [_candidate(1), _candidate(4)]
    # page 1 is best by keyword, page 0 by meaning, by more: page 0 comes first
    fused = fuse(
        Rankings(
            [keyword, semantic],
            keyword={PAGES[1]: 10.0, PAGES[0]: 8.0},
            best={PAGES[0]: 0.6, PAGES[1]: 0.3},
            mean={PAGES[0]: 0.5, PAGES[1]: 0.2, PAGES[2]: 0.9},
        )
    )
    order = [candidate.passage for candidate, _ in fused]
    assert order == [PASSAGES[1], PASSAGES[0], PASSAGES[3], PASSAGES[4]]
    scores = [score for _, score in fused]
    assert scores == sorted(scores, reverse=True)
    # page 0: 0.5 * 0.8 + 0.125 * 1 + 0.375 * 1 (page 2 is not found: it sets no maximum)
    assert abs(scores[0] - 0.9) < 1e-9
    assert all(0 < score <= 1 for score in scores)


def test_a_document_without_a_passage_found_is_not_returned() -> None:
    fused = fuse(Rankings([[_candidate(0)]], keyword={PAGES[2]: 5.0, PAGES[0]: 1.0}))
    assert [candidate.document for candidate, _ in fused] == [PAGES[0]]


def test_the_best_document_by_every_score_scores_one() -> None:
    fused = fuse(
        Rankings(
            [[_candidate(5), _candidate(0)]],
            keyword={PAGES[2]: 3.0, PAGES[0]: 1.0},
            best={PAGES[2]: 0.7},
            mean={PAGES[2]: 0.6, PAGES[0]: 0.1},
        )
    )
    assert fused[0] == (_candidate(5), 1.0)


def test_a_side_that_found_nothing_leaves_the_ranking_to_the_other() -> None:
    fused = fuse(Rankings([[_candidate(0), _candidate(3)]], keyword={PAGES[0]: 2.0, PAGES[1]: 4.0}))
    assert [(c.document, score) for c, score in fused] == [(PAGES[1], 1.0), (PAGES[0], 0.5)]


def test_questions_and_postings_are_tokenized_as_the_sqlite_index_is() -> None:
    migration = Path(__file__).parents[2] / "migrations" / "versions" / "0004_knowledge_base.py"
    assert f"tokenize='{SQLITE_TOKENIZER}'" in migration.read_text()


def test_sqlite_postings_weigh_title_heading_and_text_occurrences() -> None:
    texts = [
        SimpleNamespace(id=PASSAGES[0], document_id=PAGES[0], title="Refunds",
                        heading="Refunding a gift", text="A refund takes 14 days. Refunds!"),
        SimpleNamespace(id=PASSAGES[1], document_id=PAGES[1], title="Shipping",
                        heading="", text="Parcels are refunded when lost."),
    ]  # fmt: skip
    postings = _sqlite_postings(texts)  # type: ignore[arg-type]
    term = postings.terms.index("refund")
    start, end = postings.offsets[term], postings.offsets[term + 1]
    rows, frequencies = postings.rows[start:end], postings.frequencies[start:end]
    assert dict(zip(rows.tolist(), frequencies.tolist(), strict=True)) == {0: 5 + 3 + 1 + 1, 1: 1}
    assert "gift" in postings.terms
    assert postings.passage_ids == PASSAGES[:2]
