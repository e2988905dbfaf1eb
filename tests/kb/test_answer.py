"""Answers: the best passages trimmed to the platform's length, cited; nothing below the
threshold; a person's extra collections."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from gateway.config import KbConfig
from gateway.kb.answer import NOTHING_FOUND, answer, trim
from gateway.kb.search import KnowledgeBase
from store import kb as records
from store.database import Database
from store.models import User
from tests.kb.conftest import import_folder, write_handbook


@pytest.fixture
async def handbook(kb: KnowledgeBase, db: Database, tmp_path: Path) -> Database:
    folder = write_handbook(tmp_path / "docs")
    await import_folder(kb, db, folder, base_url="https://help.example.com")
    return db


async def test_an_answer_cites_its_passages(kb: KnowledgeBase, handbook: Database) -> None:
    result = await answer(
        kb, handbook, "acme", ["handbook"], "can I get my money back for a gift card?", 1000
    )
    assert result.found
    first = result.citations[0]
    assert (first.document, first.title, first.heading) == (
        "refunds.md", "Refund policy", "Refunds > Exceptions"
    )  # fmt: skip
    assert first.url == "https://help.example.com/refunds.md"
    assert 1 <= len(result.citations) <= 3
    assert result.text.startswith("Gift cards and downloadable software cannot be refunded.")
    assert "Source: Refund policy > Refunds > Exceptions (https://help.example.com/refunds.md)" in (
        result.text
    )
    uuid.UUID(first.passage_id)
    assert first.as_dict()["score"] == round(first.score, 4)
    assert first.score >= kb.config.min_score


async def test_an_answer_fits_the_length_given(kb: KnowledgeBase, handbook: Database) -> None:
    for limit in (120, 200, 400, 4096):
        result = await answer(kb, handbook, "acme", ["handbook"], "refunds gift cards", limit)
        assert result.found
        assert len(result.text) <= limit
        assert "Source:" in result.text


async def test_a_question_the_documents_do_not_cover_finds_nothing(
    kb: KnowledgeBase, handbook: Database
) -> None:
    result = await answer(
        kb, handbook, "acme", ["handbook"], "how do I bake banana bread without eggs", 1000
    )
    assert (result.found, result.text, result.citations) == (False, NOTHING_FOUND, ())
    assert result.reason == "no passage is similar enough"


async def test_the_threshold_is_configurable(embedder: object, handbook: Database) -> None:
    question = "how do I bake banana bread without eggs"
    async with KnowledgeBase(KbConfig(min_score=0.0), embedder) as lenient:  # type: ignore[arg-type]
        assert (await answer(lenient, handbook, "acme", ["handbook"], question, 500)).found
    async with KnowledgeBase(KbConfig(min_score=1.0), embedder) as strict:  # type: ignore[arg-type]
        result = await answer(strict, handbook, "acme", ["handbook"], "gift card refunds", 500)
    assert not result.found


async def test_bad_questions_and_missing_collections_find_nothing(
    kb: KnowledgeBase, handbook: Database
) -> None:
    cases = {
        "the of and": "only stop words",
        "x" * 5000: "too long",
    }
    for question, reason in cases.items():
        result = await answer(kb, handbook, "acme", ["handbook"], question, 500)
        assert not result.found
        assert reason in (result.reason or "")
    missing = await answer(kb, handbook, "acme", ["nope"], "refunds", 500)
    assert not missing.found
    assert "no collection" in (missing.reason or "")
    none = await answer(kb, handbook, "acme", [], "refunds", 500)
    assert not none.found


async def test_a_persons_extra_collections(
    kb: KnowledgeBase, handbook: Database, tmp_path: Path
) -> None:
    extra = tmp_path / "vip"
    extra.mkdir()
    (extra / "lounge.md").write_text(
        "# Lounge\n\nThe VIP lounge opens at six in the morning at every airport terminal.\n"
    )
    await import_folder(kb, handbook, extra, "vip")
    async with handbook.transaction() as session:
        person = User(name="alice")
        session.add(person)
        await session.flush()
        vip = await records.collection(session, "acme", "vip")
        assert vip is not None
        assert await records.add_user_collection(session, person.id, vip.id) is True
        assert await records.add_user_collection(session, person.id, vip.id) is False
        names = await records.user_collections(session, person.id, "acme")
        assert await records.user_collections(session, person.id, "other") == []
    assert names == ["vip"]
    question = "when does the vip lounge open"
    without = await answer(kb, handbook, "acme", ["handbook"], question, 500)
    with_extra = await answer(kb, handbook, "acme", ["handbook", *names], question, 500)
    assert not any(c.collection == "vip" for c in without.citations)
    assert with_extra.citations[0].collection == "vip"
    async with handbook.transaction() as session:
        assert await records.remove_user_collection(session, person.id, vip.id) is True
        assert await records.remove_user_collection(session, person.id, vip.id) is False
        assert await records.user_collections(session, person.id, "acme") == []


def test_trim_cuts_at_a_sentence_or_word_end() -> None:
    text = "First sentence here. Second sentence is longer than the first one."
    assert trim(text, 200) == text
    assert trim(text, 30) == "First sentence here. …"
    assert trim("one two three four five six", 12) == "one two…"
    assert len(trim("x" * 100, 10)) <= 10
