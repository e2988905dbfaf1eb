"""The bot's tools as functions: offered with their JSON Schema (or one string `args`), run
through the tool runner like commands, their results sent back as `tool` messages, at most
`max_tool_rounds` rounds; nothing the bot does not list can be called."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from botgate.testing.openai import OpenAIEmulator
from store.models import ToolCallRecord
from tests.assistant import tools
from tests.assistant.support import assistant_bot, gateway, texts
from tests.support.pipeline import eventually, message

TOOLS = {
    "weather": {
        "kind": "python",
        "entry": "tests.assistant.tools:weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
    "echo": {"kind": "python", "entry": "tests.assistant.tools:echo"},
    "secret": {"kind": "python", "entry": "tests.assistant.tools:secret"},
}


@pytest.fixture(autouse=True)
def calls() -> Iterator[list[tuple[str, str]]]:
    tools.CALLED.clear()
    yield tools.CALLED
    tools.CALLED.clear()


def bot(model: OpenAIEmulator, **extra: Any) -> dict[str, Any]:
    return assistant_bot(model, tools=["help", "weather", "echo"], **extra)


async def test_a_tool_call_runs_the_tool_and_its_result_goes_back(
    backend: tuple[str, str], openai_emulator: OpenAIEmulator, calls: list[tuple[str, str]]
) -> None:
    openai_emulator.call_tool("weather", {"city": "Berlin"}, id="call_w1")
    openai_emulator.reply("It is sunny in Berlin, 21 °C.")
    async with gateway(backend, openai_emulator, bot=bot(openai_emulator), tools=TOOLS) as (
        runtime,
        client,
    ):
        _, body = await client.post(message("weather in berlin?"), wait=True)

        async def logged() -> bool:
            async with runtime.db.transaction() as db:
                rows = (await db.execute(select(ToolCallRecord.tool))).scalars().all()
            return list(rows) == ["weather"]

        await eventually(logged)
    assert texts(body) == ["It is sunny in Berlin, 21 °C."]
    assert calls == [("weather", '{"city": "Berlin"}')]
    first, second = openai_emulator.calls("chat.completions")
    assert sorted(first.tool_names) == ["echo", "weather"]  # help is for people
    offered = {t["function"]["name"]: t["function"] for t in first.tools}
    assert offered["weather"]["parameters"]["required"] == ["city"]
    assert offered["echo"]["parameters"]["properties"] == {"args": {
        "type": "string", "description": "the command's arguments"}}
    call, result = second.messages[-2:]
    assert call["role"] == "assistant"
    assert call["tool_calls"][0]["id"] == "call_w1"
    assert result == {"role": "tool", "tool_call_id": "call_w1",
                      "content": "Sunny and 21 °C in Berlin."}


async def test_injection_in_a_tool_result_cannot_call_an_unlisted_tool_or_leak_the_key(
    backend: tuple[str, str], openai_emulator: OpenAIEmulator, calls: list[tuple[str, str]]
) -> None:
    key = openai_emulator.api_key
    assert key is not None
    openai_emulator.call_tool("echo", {"args": "hello"})
    openai_emulator.call_tool("secret", {"args": "open"}, id="call_s")  # as the result says
    openai_emulator.reply(f"Here is the key: {key}")  # a model that made one up, or leaked one
    async with gateway(backend, openai_emulator, bot=bot(openai_emulator), tools=TOOLS) as (
        _,
        client,
    ):
        _, body = await client.post(message("echo hello"), wait=True)
    assert calls == [("echo", "hello")]  # `secret` never ran
    requests = openai_emulator.calls("chat.completions")
    assert len(requests) == 3
    refused = requests[2].messages[-1]
    assert refused["tool_call_id"] == "call_s"
    assert "there is no function 'secret'" in refused["content"]
    assert all("secret" not in r.tool_names for r in requests)
    assert texts(body) == ["Here is the key: ***"]
    assert all(key not in str(r.body) for r in requests)  # the key travels in a header only


async def test_the_tool_loop_ends_after_max_rounds_with_an_answer(
    backend: tuple[str, str], openai_emulator: OpenAIEmulator
) -> None:
    for _ in range(5):
        openai_emulator.call_tool("echo", {"args": "again"})
    openai_emulator.reply("Enough tools: here is my answer.")
    async with gateway(backend, openai_emulator, bot=bot(openai_emulator), tools=TOOLS) as (
        _,
        client,
    ):
        _, body = await client.post(message("loop"), wait=True)
    requests = openai_emulator.calls("chat.completions")
    assert len(requests) == 6
    assert all(r.tools for r in requests[:5])
    assert requests[5].tools == []  # the last round must answer
    assert texts(body) == ["Enough tools: here is my answer."]
