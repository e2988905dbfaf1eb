"""Exactly once towards the platform: an action the platform accepted is in the send ledger
before it is acknowledged, so the same action again (an answer given again after a crash, or
a redelivery) is not sent a second time. SQLite + memory and PostgreSQL + RabbitMQ."""

from __future__ import annotations

import asyncio

from gateway.bus.factory import create_bus
from gateway.bus.topology import HEADER_REPUBLISHED
from gateway.events import Action
from gateway.ids import new_id
from gateway.publisher import action_message
from tests.support.pipeline import (
    CallbackReceiver,
    count_rows,
    eventually,
    generic_bot,
    make_settings,
    running,
)


async def test_an_action_sent_again_is_not_sent_twice(backend: tuple[str, str]) -> None:
    async with CallbackReceiver() as receiver:
        bot = generic_bot("helpdesk", callback_url=receiver.url)
        async with running(make_settings(*backend, bots=[bot])) as runtime:
            bus = create_bus(backend[1])
            await bus.connect()
            action = Action(
                id=new_id(),
                type="message.send",
                platform="generic",
                bot="helpdesk",
                channel_id="room-1",
                text="once only",
            )
            await bus.publish(action_message(action))
            await asyncio.wait_for(receiver.delivered.wait(), 10)
            await eventually(lambda: _rows(runtime, "sent_actions", 1))
            await bus.publish(action_message(action, headers={HEADER_REPUBLISHED: "1"}))  # again
            fresh = action.model_copy(update={"id": new_id(), "text": "next"})
            await bus.publish(action_message(fresh))  # a later action of the same chat
            await eventually(lambda: _rows(runtime, "sent_actions", 2))
            await eventually(lambda: _rows(runtime, "messages", 2))
            await bus.close()
            duplicates = runtime.metrics.actions.labels("generic", "duplicate")._value.get()
            outbound = await count_rows(runtime, "messages")
    texts = [body for _, body in receiver.requests]
    assert [b"once only" in t for t in texts] == [True, False]  # sent once, then the next
    assert duplicates == 1
    assert outbound == 2  # message.sent recorded once for each


async def _rows(runtime: object, table: str, count: int) -> bool:
    return await count_rows(runtime, table) >= count  # type: ignore[arg-type]
