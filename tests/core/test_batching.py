"""How the core forms batches: group commit under load, a short linger after an idle spell."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

from gateway.bus.base import Bus, Delivery, Failure, Message
from gateway.core.answers import Answerer
from gateway.core.consumer import CoreConsumer
from gateway.metrics import Metrics
from store.database import Database
from tests.support.pipeline import make_settings


def consumer(batch_size: int, batch_wait: str) -> CoreConsumer:
    settings = make_settings(
        "sqlite+aiosqlite://",
        "memory://",
        core={"batch_size": batch_size, "batch_wait": batch_wait},
    )
    bus, db = cast(Bus, None), cast(Database, None)  # batching touches neither
    answers = cast(Answerer, SimpleNamespace(owner="test-core", forget_takeovers=lambda: None))
    return CoreConsumer(bus, db, settings, {}, Metrics(), answers)


def deliveries(count: int) -> list[Delivery]:
    return [cast(Delivery, f"delivery-{n}") for n in range(count)]


async def put(core: CoreConsumer, items: list[Any]) -> None:
    for item in items:
        core._inbox_put(item)


async def test_a_backlog_goes_at_once_without_lingering() -> None:
    core = consumer(batch_size=100, batch_wait="1h")  # a linger would never end in the test
    waiting = deliveries(5)
    await put(core, waiting)
    assert await asyncio.wait_for(core._next_batch(), 30) == waiting


async def test_after_an_idle_spell_a_burst_is_gathered_into_one_batch() -> None:
    core = consumer(batch_size=100, batch_wait="300ms")
    burst = deliveries(3)

    async def trickle() -> None:
        for item in burst:
            await put(core, [item])
            await asyncio.sleep(0.02)

    feeding = asyncio.create_task(trickle())
    assert await core._next_batch() == burst
    await feeding


async def test_a_full_batch_ends_the_linger() -> None:
    core = consumer(batch_size=3, batch_wait="1h")  # a linger would never end in the test
    full = deliveries(4)

    async def arrive() -> None:
        await asyncio.sleep(0.01)
        await put(core, full)

    feeding = asyncio.create_task(arrive())
    assert await asyncio.wait_for(core._next_batch(), 30) == full[:3]  # no more than batch_size
    await feeding
    assert await core._next_batch() == full[3:]


async def test_nothing_arriving_gives_an_empty_batch_to_look_at_stopping() -> None:
    core = consumer(batch_size=10, batch_wait="5ms")
    assert await core._next_batch() == []


class _Delivery:
    def __init__(self) -> None:
        self.message = Message("botgate.events", "generic.helpdesk.message.created", b"{}", "m")
        self.attempt = 1
        self.settled = ""

    async def ack(self) -> None:
        self.settled = "acked"

    async def reject(self, *, requeue: bool) -> None:
        self.settled = "requeued" if requeue else "dropped"

    async def dead_letter(self, failure: Failure) -> None:
        self.settled = "dead"
