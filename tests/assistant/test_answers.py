"""The assistant answers plain messages through the whole pipeline, against the OpenAI
emulator, on SQLite + the in-process bus and on PostgreSQL + RabbitMQ."""

from __future__ import annotations

import logging

import pytest

from botgate.testing.openai import OpenAIEmulator
from tests.assistant.support import answered, assistant_bot, gateway, texts
from tests.support.pipeline import message


async def test_a_plain_message_is_answered_by_the_model(
    backend: tuple[str, str], openai_emulator: OpenAIEmulator
) -> None:
    openai_emulator.reply("Refunds take **14 days**.")
    async with gateway(backend, openai_emulator) as (_, client):
        status, body = await client.post(message("how long do refunds take?"), wait=True)
    assert status == 200
    assert texts(body) == ["Refunds take **14 days**."]
    [request] = openai_emulator.calls("chat.completions")
    assert request.headers["Authorization"] == f"Bearer {openai_emulator.api_key}"
    assert request.body["model"] == openai_emulator.model
    assert request.stream is False  # the generic platform shows whole answers only
    assert request.last_user == "how long do refunds take?"
    assert request.messages[0]["role"] == "system"


async def test_commands_go_to_their_tools_and_never_reach_the_model(
    backend: tuple[str, str], openai_emulator: OpenAIEmulator
) -> None:
    async with gateway(backend, openai_emulator) as (_, client):
        _, help_ = await client.post(message("/help"), wait=True)
        _, unknown = await client.post(message("/nonsense"), wait=True)
    assert texts(help_)[0].startswith("Here is what I can do")
    assert texts(unknown) == ["Sorry, I don't know that yet. Type /help to see what I can do."]
    assert openai_emulator.calls("chat.completions") == []


async def test_the_request_carries_system_prompt_notes_and_history(
    backend: tuple[str, str], openai_emulator: OpenAIEmulator
) -> None:
    bot = assistant_bot(openai_emulator, system_prompt="You are Ada, the helpdesk.",
                        max_history=2)
    openai_emulator.reply("First answer.")
    openai_emulator.reply("Second answer.")
    openai_emulator.reply("Third answer.")
    async with gateway(backend, openai_emulator, bot=bot) as (runtime, client):
        for count, text in enumerate(["/remember I prefer short answers", "first question",
                                      "second question", "third question"], 1):
            await client.post(message(text), wait=True)
            await answered(runtime, count)
    first, _, third = openai_emulator.calls("chat.completions")
    assert "You are Ada, the helpdesk." in third.system
    assert "I prefer short answers" in third.system
    assert "<notes>" in third.system
    said = [(m["role"], m["content"]) for m in third.messages[1:]]
    assert said == [  # max_history = 2: the two messages before this one
        ("user", "second question"),
        ("assistant", "Second answer."),
        ("user", "third question"),
    ]
    assert first.messages[-1] == {"role": "user", "content": "first question"}


async def test_a_failing_model_gets_an_apology_and_the_next_message_works(
    backend: tuple[str, str], openai_emulator: OpenAIEmulator
) -> None:
    openai_emulator.fail(500)
    openai_emulator.garbage()
    openai_emulator.stall()
    openai_emulator.reply("Back again.")
    apology = "Sorry, I cannot answer right now. Please try again in a moment."
    async with gateway(backend, openai_emulator) as (runtime, client):
        _, failed = await client.post(message("one"), wait=True)
        _, garbage = await client.post(message("two"), wait=True)
        _, stalled = await client.post(message("three"), wait=True)
        _, fine = await client.post(message("four"), wait=True)
        metrics = runtime.metrics.render().decode()
    assert texts(failed) == texts(garbage) == texts(stalled) == [apology]
    assert texts(fine) == ["Back again."]
    for outcome in ("error", "garbage", "timeout", "ok"):
        assert (
            f'botgate_assistant_requests_total{{bot="helpdesk",model="{openai_emulator.model}",'
            f'outcome="{outcome}"}} 1.0'
        ) in metrics


async def test_the_api_key_is_never_logged_nor_stored_in_plain_text(
    backend: tuple[str, str],
    openai_emulator: OpenAIEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    openai_emulator.fail(401, f"Incorrect API key provided: {openai_emulator.api_key}")
    caplog.set_level(logging.DEBUG)
    async with gateway(backend, openai_emulator) as (runtime, client):
        _, body = await client.post(message("hello"), wait=True)
        async with runtime.db.transaction() as db:
            from sqlalchemy import text

            rows = (await db.execute(text("SELECT value FROM bot_configuration"))).all()
    assert texts(body) == ["Sorry, I cannot answer right now. Please try again in a moment."]
    key = openai_emulator.api_key
    assert key is not None
    assert key not in caplog.text
    assert "Incorrect API key provided: ***" in caplog.text
    stored = " ".join(str(row[0]) for row in rows)
    assert "credentials" in stored
    assert key not in stored
