"""Tools run after the commit, one conversation at a time and conversations side by side: a
slow tool holds up no other conversation, and in its own conversation what was said after it
is answered after it."""

from __future__ import annotations

import asyncio

from gateway import codec
from tests.support.pipeline import (
    CallbackReceiver,
    GenericClient,
    eventually,
    generic_bot,
    make_settings,
    message,
    running,
)
from tests.tools.support import GATE


async def test_a_slow_tool_delays_only_its_own_conversation_and_order_holds_there(
    backend: tuple[str, str],
) -> None:
    GATE["open"] = asyncio.Event()
    async with CallbackReceiver() as receiver:
        bot = generic_bot("helpdesk", callback_url=receiver.url) | {"tools": ["help", "slow"]}
        tools = {"slow": {"kind": "python", "entry": "tests.tools.support:gated", "timeout": "60s"}}
        async with running(make_settings(*backend, bots=[bot], tools=tools)) as runtime:
            client = GenericClient(runtime.http.url)
            assert (await client.post(message("/slow", channel="a", user="a")))[0] == 202
            assert (await client.post(message("/help", channel="a", user="a")))[0] == 202
            status, other = await client.post(message("/help", channel="b", user="b"), wait=True)
            assert status == 200  # answered while the slow tool still holds conversation a
            assert "/help" in other["replies"][0]["text"]
            assert not GATE["open"].is_set()

            GATE["open"].set()

            async def both_answered() -> bool:
                return len(_texts(receiver, "a")) == 2

            await eventually(both_answered)
            await client.close()
    first, second = _texts(receiver, "a")
    assert first == "slow answer to nothing"
    assert "/help" in second  # said after /slow, answered after it


def _texts(receiver: CallbackReceiver, channel: str) -> list[str]:
    bodies = [codec.loads(body) for _, body in receiver.requests]
    return [b["text"] for b in bodies if b["channel_id"] == channel]
