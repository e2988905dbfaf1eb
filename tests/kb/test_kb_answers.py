"""The knowledge base answering through the whole pipeline, on SQLite + memory and PostgreSQL +
RabbitMQ: the `kb` tool and a plain question in a direct channel answer with cited passages,
the citations are stored with the outbound message, and what the knowledge base does not know
gets "nothing found" (the tool) or the fallback reply (a plain question)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from gateway.kb.answer import NOTHING_FOUND
from gateway.kb.importer import Importer
from store.models import Message
from tests.kb.conftest import write_handbook
from tests.support.pipeline import (
    GenericClient,
    eventually,
    generic_bot,
    make_settings,
    message,
    running,
)

FALLBACK = "Sorry, I don't know that yet. Type /help to see what I can do."


async def test_the_kb_tool_and_plain_questions_answer_with_citations(
    backend: tuple[str, str], tmp_path: Path
) -> None:
    bot = generic_bot("helpdesk") | {
        "organization": "acme",
        "kb": ["handbook"],
        "tools": ["help", "kb"],
    }
    async with running(make_settings(*backend, bots=[bot])) as runtime:
        importer = Importer(runtime.kb, runtime.db, "acme", "handbook")
        await importer.prepare()
        await importer.run([write_handbook(tmp_path / "handbook")])
        client = GenericClient(runtime.http.url)

        async def ask(text: str) -> str:
            status, body = await client.post(message(text), wait=True)
            assert status == 200
            return str(body["replies"][0]["text"])

        tool = await ask("/kb how long do refunds take")
        plain = await ask("When will I get my refund?")
        unknown_tool = await ask("/kb the recipe for carbonara with guanciale")
        unknown_plain = await ask("what is the capital of Mongolia")
        await client.close()

        async def cited() -> bool:
            async with runtime.db.transaction() as db:
                rows = (
                    (await db.execute(select(Message.citations).where(Message.direction == "out")))
                    .scalars()
                    .all()
                )
            return len([r for r in rows if r]) == 2

        await eventually(cited)
        async with runtime.db.transaction() as db:
            stored = (
                await db.execute(
                    select(Message.text, Message.citations).where(Message.direction == "out")
                )
            ).all()
    for answer in (tool, plain):
        assert "14 days" in answer
        assert "Source: Refund policy" in answer
        assert "refunds.md" in answer
    assert unknown_tool == NOTHING_FOUND
    assert unknown_plain == FALLBACK
    cited_answers = [c for t, c in stored if c]
    assert len(cited_answers) == 2  # the tool's and the plain question's
    citations = cited_answers[0]
    assert citations[0]["document"] == "refunds.md"
    assert citations[0]["collection"] == "handbook"
    assert citations[0]["title"] == "Refund policy"
    assert citations[0]["score"] > 0.4
