"""Keyword ranking (BM25 over postings, gateway/kb/keyword.py) and the fusion of rankings
(gateway/kb/fusion.py), on hand-made postings: no database."""

from __future__ import annotations

import uuid
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from gateway.kb.fusion import Candidate, Rankings, by_best_passage, fuse
from gateway.kb.keyword import _index
from store.kb_search import SQLITE_TOKENIZER, Postings, _sqlite_postings

PAGES = [uuid.uuid4() for _ in range(3)]
PASSAGES = [uuid.uuid4() for _ in range(6)]
# passage row -> its page: page 0 holds rows 0-2, page 1 rows 3-4, page 2 row 5
PAGE_OF = [0, 0, 0, 1, 1, 2]


Counts = tuple[int, int, int]  # a posting's occurrences in the title, heading and text


def _postings(terms: dict[str, list[tuple[int, Counts]]], filler: int = 4) -> Postings:
    """Postings from {term: [(row, counts), ...]}; every row also holds a filler term in its
    title and heading and `filler` in its text, so that the passages' lengths are alike."""
    fillers = {f"filler{i}": [(row, (0, 0, 1)) for row in range(6)] for i in range(filler)}
    lists = dict(terms) | fillers | {"titled": [(row, (1, 1, 0)) for row in range(6)]}
    offsets, rows, fields = [0], [], []
    for postings in lists.values():
        rows += [row for row, _ in postings]
        fields += [counts for _, counts in postings]
        offsets.append(len(rows))
    return Postings(
        PASSAGES, [PAGES[page] for page in PAGE_OF], list(lists),
        np.array(offsets, np.int64), np.array(rows, np.int32), np.array(fields, np.uint16),
    )  # fmt: skip


def _text(count: int) -> Counts:
    return (0, 0, count)


def test_a_rare_term_outweighs_a_common_one_and_absent_stems_are_ignored() -> None:
    index = _index(
        1, _postings({"common": [(r, _text(1)) for r in range(5)], "rare": [(5, _text(1))]})
    )
    ranked = index.rank(["common", "rare", "unknown"], 10)
    assert ranked.passages[0][0] == Candidate(PASSAGES[5], PAGES[2])
    assert len(ranked.passages) == 6
    assert index.rank(["unknown"], 10).passages == []


def test_a_title_occurrence_counts_more_than_one_in_the_text() -> None:
    index = _index(1, _postings({"word": [(0, _text(1)), (3, (1, 0, 0))]}))
    assert [c.passage for c, _ in index.rank(["word"], 10).passages] == [PASSAGES[3], PASSAGES[0]]


def test_a_long_text_does_not_dilute_the_title() -> None:
    """BM25F: each field is normalised by its own length, so a title occurrence scores the
    same in a passage with a long text as in one with a short text (one text of weighted
    occurrences, as before, ranked the long passage lower)."""
    short = _postings({"word": [(0, (1, 0, 0)), (3, (1, 0, 0))]})
    long_text = _postings({"word": [(0, (1, 0, 0)), (3, (1, 0, 0))], "long": [(3, _text(40))]})
    for postings in (short, long_text):
        scores = dict(_index(1, postings).rank(["word"], 10).passages)
        assert scores[Candidate(PASSAGES[0], PAGES[0])] == scores[Candidate(PASSAGES[3], PAGES[1])]
    scores = dict(
        _index(1, _postings({"word": [(0, _text(1)), (3, _text(1))], "long": [(3, _text(40))]}))
        .rank(["word"], 10)
        .passages
    )
    assert scores[Candidate(PASSAGES[0], PAGES[0])] > scores[Candidate(PASSAGES[3], PAGES[1])]


def test_a_page_title_counts_once_however_many_passages_repeat_it() -> None:
    # page 0's three passages all repeat a title word; page 2's single passage has it too
    index = _index(1, _postings({"word": [(0, (1, 0, 0)), (1, (1, 0, 0)), (2, (1, 0, 0)),
                                          (5, (1, 0, 0))]}))  # fmt: skip
    page = index.pages
    term = index.vocabulary["word"]
    start, end = page.offsets[term], page.offsets[term + 1]
    frequency = dict(zip(page.pages[start:end].tolist(), page.frequencies[start:end].tolist(),
                         strict=True))  # fmt: skip
    held = {index.documents[number]: tf for number, tf in frequency.items()}
    assert set(held) == {PAGES[0], PAGES[2]}
    # the same title: once in each page's title field, which its own length normalises
    assert held[PAGES[0]] == held[PAGES[2]]


def test_a_page_with_several_matching_passages_beats_one_with_a_single_better_one() -> None:
    # page 0: three passages with the word once; page 1: one passage with it twice
    index = _index(
        1, _postings({"word": [(0, _text(1)), (1, _text(1)), (2, _text(1)), (3, _text(2))]})
    )
    ranked = index.rank(["word"], 10)
    assert ranked.passages[0][0].passage == PASSAGES[3]
    assert ranked.by_passages == [PAGES[0], PAGES[1]]


def test_limit_keeps_the_best() -> None:
    index = _index(1, _postings({"word": [(r, _text(r + 1)) for r in range(6)]}))
    ranked = index.rank(["word"], 2)
    assert [c.passage for c, _ in ranked.passages] == [PASSAGES[5], PASSAGES[4]]
    assert len(ranked.documents) == 2


def _candidate(row: int) -> Candidate:
    return Candidate(PASSAGES[row], PAGES[PAGE_OF[row]])


def test_fusion_orders_documents_by_their_fused_rank_and_passages_within_them() -> None:
    keyword = [_candidate(3), _candidate(0), _candidate(1)]
    semantic = [_candidate(1), _candidate(4)]
    documents = [[PAGES[0], PAGES[1]], [PAGES[0]]]  # page 0 is first in both
    fused = fuse(Rankings([keyword, semantic], [by_best_passage(keyword), *documents]))
    order = [candidate.passage for candidate, _ in fused]
    # page 0 (first, first, first; second by best passage) before page 1
    assert order == [PASSAGES[1], PASSAGES[0], PASSAGES[3], PASSAGES[4]]
    scores = [score for _, score in fused]
    assert scores == sorted(scores, reverse=True)
    assert all(0 < score <= 1 for score in scores)


def test_a_document_without_a_passage_found_is_not_returned() -> None:
    fused = fuse(Rankings([[_candidate(0)]], [[PAGES[2], PAGES[0]]]))
    assert [candidate.document for candidate, _ in fused] == [PAGES[0]]


def test_first_in_every_document_ranking_scores_one() -> None:
    fused = fuse(Rankings([[_candidate(5)]], [[PAGES[2]], [PAGES[2]]]))
    assert fused[0][1] == 1.0


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
    rows, fields = postings.rows[start:end], postings.fields[start:end]
    # (title, heading, text) occurrences: "Refunds"; "Refunding"; "refund", "Refunds"
    assert dict(zip(rows.tolist(), map(tuple, fields.tolist()), strict=True)) == {
        0: (1, 1, 2),
        1: (0, 0, 1),
    }
    assert "gift" in postings.terms
    assert postings.passage_ids == PASSAGES[:2]
