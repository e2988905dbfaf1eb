"""Budgets, an unreachable model at start, and a conversation longer than the context."""

from __future__ import annotations

import socket

import aiohttp

from botgate.testing.openai import OpenAIEmulator
from tests.assistant.support import answered, assistant_bot, gateway, texts
from tests.support.pipeline import message


async def test_requests_per_minute_per_person(
    backend: tuple[str, str], openai_emulator: OpenAIEmulator
) -> None:
    bot = assistant_bot(openai_emulator, requests_per_minute=2)
    async with gateway(backend, openai_emulator, bot=bot) as (_, client):
        answers = [texts((await client.post(message(f"q{i}"), wait=True))[1]) for i in range(3)]
        _, other = await client.post(message("mine", user="u-99"), wait=True)
    assert answers[:2] == [["You said: q0"], ["You said: q1"]]
    assert answers[2] == ["You are writing faster than I can think: please wait a minute."]
    assert texts(other) == ["You said: mine"]  # another person has a minute of their own
    assert len(openai_emulator.calls("chat.completions")) == 3


async def test_tokens_per_day_per_bot(
    backend: tuple[str, str], openai_emulator: OpenAIEmulator
) -> None:
    bot = assistant_bot(openai_emulator, tokens_per_day=100)
    openai_emulator.reply("A long answer.", tokens=150)
    async with gateway(backend, openai_emulator, bot=bot) as (runtime, client):
        _, first = await client.post(message("one"), wait=True)
        _, second = await client.post(message("two", user="u-2"), wait=True)
        metrics = runtime.metrics.render().decode()
    assert texts(first) == ["A long answer."]
    assert texts(second) == [
        "I have used up today's thinking for this bot; I answer again tomorrow."
    ]
    assert len(openai_emulator.calls("chat.completions")) == 1
    assert 'direction="out",model="botgate-test-model"} 150.0' in metrics


async def test_an_unreachable_model_at_start_is_a_readiness_detail_not_a_crash(
    backend: tuple[str, str], openai_emulator: OpenAIEmulator
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once the probe is closed
    bot = assistant_bot(openai_emulator, base_url=f"http://127.0.0.1:{port}/v1")
    async with gateway(backend, openai_emulator, bot=bot) as (runtime, client):
        _, body = await client.post(message("hello?"), wait=True)
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{runtime.http.url}/readyz") as response,
        ):
            status, ready = response.status, await response.json()
    assert texts(body) == ["Sorry, I cannot answer right now. Please try again in a moment."]
    assert status == 200
    assert ready["ready"] is True
    assert ready["details"]["assistant.helpdesk"].startswith("error: ClientConnectorError")


async def test_a_conversation_over_the_context_is_trimmed_from_the_oldest(
    backend: tuple[str, str], openai_emulator: OpenAIEmulator
) -> None:
    bot = assistant_bot(openai_emulator, context_tokens=600, max_tokens=100, max_history=50)
    async with gateway(backend, openai_emulator, bot=bot) as (runtime, client):
        for index in range(8):
            await client.post(message(f"message {index} " + "words " * 60), wait=True)
            await answered(runtime, index + 1)
        _, body = await client.post(message("the last one"), wait=True)
    assert texts(body) == ["You said: the last one"]
    last = openai_emulator.calls("chat.completions")[-1]
    contents = [str(m["content"]) for m in last.messages[1:]]
    assert contents[-1] == "the last one"
    assert 2 <= len(contents) < 17  # some history kept, the oldest dropped
    assert not any(c.startswith("message 0 ") for c in contents)
    assert sum(len(c) for c in contents) // 4 < 600
