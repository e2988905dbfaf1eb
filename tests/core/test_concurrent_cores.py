"""Several cores on one PostgreSQL and one RabbitMQ queue, racing to create the same platform
users, persons, channels and sessions: one row each, and no batch fails on the race."""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack

import pytest

from gateway.bus.factory import create_bus
from gateway.publisher import publish_event
from tests.support.events import inbound
from tests.support.pipeline import count_rows, eventually, make_settings, running

EVENTS, PEOPLE = 300, 12


@pytest.mark.postgres
@pytest.mark.rabbitmq
async def test_racing_cores_make_one_row_each_and_fail_no_batch(
    postgres_url: str, amqp_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(postgres_url, amqp_url, core={"batch_size": 20})
    caplog.set_level(logging.WARNING, logger="gateway.core")
    async with AsyncExitStack() as stack:
        cores = [
            await stack.enter_async_context(running(settings, "core", serve_http=False))
            for _ in range(3)
        ]
        bus = create_bus(amqp_url)
        await bus.connect()
        stack.push_async_callback(bus.close)

        async def shared() -> bool:  # the cores re-balance their shards as each one joins
            return all(core.core and core.core.shards.held for core in cores)

        await eventually(shared, timeout=30)
        for n in range(EVENTS):  # each person writes in each room: every core meets them all
            person, room = f"person-{n % PEOPLE}", f"room-{(n // PEOPLE) % PEOPLE}"
            await publish_event(bus, inbound(n, user=person, channel=room))

        async def all_recorded() -> bool:
            return await count_rows(cores[0], "messages") >= EVENTS

        await eventually(all_recorded, timeout=60)
        shares = [core.metrics.processed.labels("recorded")._value.get() for core in cores]
        counts = {
            table: await count_rows(cores[0], table)
            for table in ("platform_users", "users", "platform_channels", "user_sessions")
        }
    assert counts == {
        "platform_users": PEOPLE,
        "users": PEOPLE,
        "platform_channels": PEOPLE,
        "user_sessions": PEOPLE * PEOPLE,
    }
    assert all(shares), shares  # every core took part in the race
    failures = [r.getMessage() for r in caplog.records if r.name.startswith("gateway.core")]
    assert failures == []
