"""Cores sharing the shard queues, on the in-process bus and on RabbitMQ: they split the shards
between them and take over a stopped core's; events without a shard, or from an old layout,
are recorded all the same; a core with another shard count does not start beside them."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from dataclasses import replace
from typing import Any, cast

import pytest
from sqlalchemy import select

from gateway import app
from gateway.app import Runtime
from gateway.bus.base import Bus, Delivery, Handler, QueueStats, Subscription
from gateway.bus.factory import create_bus
from gateway.bus.topology import HEADER_SHARD, shard_of, shard_queue_name
from gateway.core.shards import ShardHolder, declare_topology
from gateway.errors import ConfigError
from gateway.publisher import event_message
from store.models import Message
from tests.support.events import inbound
from tests.support.pipeline import count_rows, eventually, make_settings, running

SHARDS = 4


def _held(core: Runtime) -> set[int]:
    assert core.core is not None
    return set(core.core.shards.held)


async def test_cores_split_the_shards_and_a_stopped_cores_move_to_the_other(
    backend: tuple[str, str],
) -> None:
    settings = make_settings(*backend, bus={"shards": SHARDS})
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(running(settings, "core", serve_http=False))
        assert _held(first) == set(range(SHARDS))  # alone: all of them
        async with running(settings, "core", serve_http=False) as second:

            async def split() -> bool:
                return len(_held(first)) == len(_held(second)) == SHARDS // 2

            await eventually(split, timeout=20)
            assert _held(first) | _held(second) == set(range(SHARDS))

        async def all_back() -> bool:
            return _held(first) == set(range(SHARDS))

        await eventually(all_back, timeout=20)


async def test_events_without_a_shard_or_stamped_for_another_count_are_recorded(
    backend: tuple[str, str],
) -> None:
    settings = make_settings(*backend, bus={"shards": SHARDS})
    async with running(settings, "core", serve_http=False) as core:
        bus = create_bus(settings.bus.url)
        await bus.connect()
        try:
            plain = event_message(inbound(1))
            headers = {k: v for k, v in plain.headers.items() if k != HEADER_SHARD}
            await bus.publish(replace(plain, headers=headers, model=None))
            await bus.publish(event_message(inbound(2), shards=SHARDS * 2))
            await bus.publish(event_message(inbound(3), shards=SHARDS))

            async def recorded() -> bool:
                return await count_rows(core, "messages") == 3

            await eventually(recorded, timeout=20)
        finally:
            await bus.close()


async def test_a_larger_old_layout_is_drained_into_the_new_shards(
    backend: tuple[str, str],
) -> None:
    settings = make_settings(*backend, bus={"shards": SHARDS})
    bus = create_bus(settings.bus.url)
    await bus.connect()
    try:
        # what a stopped 8-shard layout left: its queues, with events waiting in them
        await declare_topology(bus, 8)
        for n in range(10):
            await bus.publish(event_message(inbound(n, channel=f"room-{n}"), shards=8))
        assert sum([await bus.queue_depth(shard_queue_name(i)) for i in range(SHARDS, 8)])
        async with running(settings, "core", serve_http=False) as core:
            # and a process still stamping for 8 shards
            await bus.publish(event_message(inbound(10, channel="room-10"), shards=8))

            async def recorded() -> bool:
                return await count_rows(core, "messages") == 11

            await eventually(recorded, timeout=20)
        for index in range(SHARDS, 8):
            assert await bus.queue_depth(shard_queue_name(index)) == 0
    finally:
        await bus.close()


async def test_a_core_with_another_shard_count_does_not_start_beside_running_ones(
    backend: tuple[str, str],
) -> None:
    settings = make_settings(*backend, bus={"shards": SHARDS})
    other = make_settings(*backend, bus={"shards": SHARDS * 2})
    async with running(settings, "core", serve_http=False):
        with pytest.raises(ConfigError, match=r"^bus\.shards: .* running core\(s\) have 4"):
            async with running(other, "core", serve_http=False, migrate=False):
                pass


async def test_a_shard_handed_back_waits_for_the_batch_in_hand_and_keeps_order(
    backend: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race behind an out-of-order recording: a core handed a shard back while a batch of
    it was not yet committed, and the next holder started on the same events meanwhile."""
    settings = make_settings(*backend, bus={"shards": 2})
    room = next(f"room-{k}" for k in range(100) if shard_of(f"generic:helpdesk:room-{k}", 2) == 1)
    events = [inbound(n, channel=room) for n in range(3)]
    entered, gate = asyncio.Event(), asyncio.Event()
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(running(settings, "core", serve_http=False))
        assert first.core is not None
        record = first.core._record

        # Held on the event loop before the transaction: on SQLite the recording itself runs
        # on the database thread, where nothing may wait for the loop.
        async def held_up(items: list[Any]) -> Any:
            if any(item.event.id == events[0].id for item in items):
                entered.set()
                await gate.wait()
            return await record(items)

        monkeypatch.setattr(first.core, "_record", held_up)
        bus = create_bus(settings.bus.url)
        await bus.connect()
        stack.push_async_callback(bus.close)
        await bus.publish(event_message(events[0], shards=2))
        await asyncio.wait_for(entered.wait(), 10)  # the first event's batch is in hand
        for event in events[1:]:
            await bus.publish(event_message(event, shards=2))
        second = await stack.enter_async_context(
            running(settings, "core", serve_http=False, migrate=False)
        )

        async def handing_back() -> bool:
            return _held(first) == {0}

        await eventually(handing_back, timeout=10)
        await asyncio.sleep(2.5)  # the second core looks for free shards every second
        assert 1 not in _held(second)
        assert await count_rows(first, "messages") == 0
        gate.set()

        async def taken_over() -> bool:
            return _held(second) == {1} and await count_rows(first, "messages") == 3

        await eventually(taken_over, timeout=20)
        async with first.db.transaction() as db:
            query = select(Message.external_id).order_by(Message.id)
            assert list((await db.execute(query)).scalars()) == ["0", "1", "2"]


class _SlowToConsume:
    """A bus whose consumes return late, as under load: their first deliveries are in the
    consumer's inbox (and may be in a batch) before the claim has finished."""

    def __init__(self, bus: Bus) -> None:
        self._bus = bus

    def __getattr__(self, name: str) -> Any:
        return getattr(self._bus, name)

    async def consume(
        self, queue: str, handler: Handler, *, prefetch: int, exclusive: bool = False
    ) -> Subscription:
        subscription = await self._bus.consume(
            queue, handler, prefetch=prefetch, exclusive=exclusive
        )
        await asyncio.sleep(0.5)
        return subscription


async def test_events_waiting_in_a_shard_when_a_core_claims_it_are_recorded_in_order(
    backend: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first deliveries of a claim belong to it as much as the later ones."""
    settings = make_settings(*backend, bus={"shards": 2, "prefetch": 10}, core={"batch_size": 5})
    bus = create_bus(settings.bus.url)
    await bus.connect()
    try:
        await declare_topology(bus, 2)
        for n in range(30):
            await bus.publish(event_message(inbound(n, channel="room"), shards=2))
        monkeypatch.setattr(app, "create_bus", lambda *a, **k: _SlowToConsume(create_bus(*a, **k)))
        async with running(settings, "core", serve_http=False) as core:

            async def recorded() -> bool:
                return await count_rows(core, "messages") == 30

            await eventually(recorded, timeout=20)
            async with core.db.transaction() as db:
                query = select(Message.external_id).order_by(Message.id)
                assert list((await db.execute(query)).scalars()) == [str(n) for n in range(30)]
    finally:
        await bus.close()


class _DropsCancels:
    """A bus whose queue inspection answers although its caller was cancelled meanwhile, as
    `asyncio.wait_for` does on Python 3.11 when the answer arrives in the loop pass of the
    cancel (aiormq bounds its calls with it): the answer is returned, the cancel is lost."""

    def __init__(self, bus: Bus) -> None:
        self._bus = bus
        self.dropping = True
        self.inspecting = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._bus, name)

    async def queue_stats(self, name: str) -> QueueStats | None:
        self.inspecting.set()
        try:
            await asyncio.sleep(0.05)  # the broker's answer on its way
        except asyncio.CancelledError:
            if not self.dropping:
                raise
        return await self._bus.queue_stats(name)


async def test_a_stop_ends_the_balancing_even_if_a_broker_call_loses_the_cancel(
    memory_url: str,
) -> None:
    """A stop that only cancelled the balancing loop and awaited it waited for good when the
    cancel was lost: the loop went on re-balancing (a gateway hung on stop after an outage)."""
    bus = _DropsCancels(create_bus(memory_url))
    await bus.connect()
    holder = ShardHolder(
        cast(Bus, bus), SHARDS, intake=_ignore, reroute=_ignore, prefetch=10, interval=0.01
    )
    try:
        await holder.start()
        bus.inspecting.clear()
        await bus.inspecting.wait()  # the balancing loop is inside an inspection
        stopping = asyncio.create_task(holder.stop())
        done, _ = await asyncio.wait([stopping], timeout=5)  # waits; cancels nothing
        assert stopping in done, "the stop is still waiting for the balancing loop"
        assert not holder.held
    finally:
        bus.dropping = False  # whatever still runs can be cancelled now
        if holder._task is not None:
            holder._task.cancel()
        await holder.stop()
        await bus.close()


def _ignore(delivery: Delivery) -> None:
    return None
