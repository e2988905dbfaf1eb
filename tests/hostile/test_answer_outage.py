"""The core's answer is ready while RabbitMQ is really down (the connection cut by a proxy,
between the event's commit and the answer's publish): the core keeps the answer, publishes it
once the broker is back, and the bot's callback gets it exactly once."""

from __future__ import annotations

import asyncio
import logging

import pytest

from gateway import codec
from gateway.bus.topology import shard_queue_name
from gateway.tools.base import Reply, ToolCall
from gateway.tools.builtin.base import BuiltinTool
from tests.support.pipeline import (
    GENERIC_SECRET,
    CallbackReceiver,
    GenericClient,
    count_rows,
    eventually,
    make_settings,
    message,
    running,
)
from tests.support.tcp_proxy import TcpProxy


class _Gate:
    """Holds the tool's answer until the test has cut the broker's connection."""

    started: asyncio.Event
    opened: asyncio.Event


GATE = _Gate()


class Gated(BuiltinTool):
    name = "gated"
    description = "answers once the test opens the gate"

    async def run(self, call: ToolCall) -> list[Reply]:
        GATE.started.set()
        await GATE.opened.wait()
        return [Reply("through the gate", format="plain")]


@pytest.mark.rabbitmq
async def test_an_answer_ready_while_rabbitmq_is_down_is_published_once_it_is_back(
    sqlite_url: str, amqp_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="gateway.core.answers")
    GATE.started, GATE.opened = asyncio.Event(), asyncio.Event()
    async with TcpProxy.to(amqp_url) as proxy, CallbackReceiver() as callback:
        bot = {
            "name": "helpdesk",
            "tools": ["help", "gated"],
            "generic": {"secret": GENERIC_SECRET, "callback_url": callback.url},
        }
        settings = make_settings(
            sqlite_url,
            proxy.url(amqp_url),
            bots=[bot],
            tools={"gated": {"kind": "python", "entry": f"{__name__}:Gated"}},
            bus={"reconnect_interval": "100ms", "publish_timeout": "1s"},
        )
        async with running(settings) as runtime:
            client = GenericClient(runtime.http.url)
            status, _ = await client.post(message("/gated"))
            await client.close()
            await asyncio.wait_for(GATE.started.wait(), 30)  # recorded; the answer is owed
            proxy.refuse()
            await proxy.drop()
            GATE.opened.set()  # the answer is ready and the broker is gone

            async def tried_while_down() -> bool:
                return any("cannot publish the answer" in r.getMessage() for r in caplog.records)

            await eventually(tried_while_down)
            arrived_while_down = len(callback.requests)
            proxy.accept()
            await asyncio.wait_for(callback.delivered.wait(), 30)

            async def answer_recorded() -> bool:
                return await count_rows(runtime, "messages") == 2

            await eventually(answer_recorded)
            shards = range(runtime.settings.bus.shards)
            pending = sum([await runtime.bus.queue_depth(shard_queue_name(i)) for i in shards])
            assert await runtime.bus.has_queue(shard_queue_name(0))  # the depths were real
    assert status == 202
    assert arrived_while_down == 0
    answers = [codec.loads(body) for _, body in callback.requests]
    assert [answer["text"] for answer in answers] == ["through the gate"]  # once
    assert pending == 0
