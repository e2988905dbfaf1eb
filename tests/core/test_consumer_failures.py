"""The core under failure: a database outage loses nothing, and one bad event cannot hold up
the rest of its batch."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select, text

from gateway.core.dispatch import Dispatcher
from gateway.core.tools import Reply, ToolContext
from store.models import DeadLetter, Message
from tests.support.pipeline import (
    GenericClient,
    count_rows,
    eventually,
    make_settings,
    message,
    running,
)
from tests.support.tcp_proxy import TcpProxy


class Explodes:
    name = "explode"
    description = "fails every time"

    async def run(self, context: ToolContext, args: str) -> list[Reply]:
        raise RuntimeError("this tool is broken")


async def test_a_failing_event_is_dead_lettered_and_its_batch_mates_are_answered(
    tmp_path: Path, memory_url: str
) -> None:
    settings = make_settings(
        f"sqlite+aiosqlite:///{tmp_path / 'db'}",
        memory_url,
        bots=[
            {
                "name": "helpdesk",
                "tools": ["help", "explode"],
                "generic": {"secret": "test-secret-0123456789"},
            }
        ],
        core={"batch_wait": "200ms"},
        bus={"max_attempts": 3},
    )
    dispatcher = Dispatcher(settings.core, {"explode": Explodes()})
    async with running(settings, dispatcher=dispatcher) as runtime:
        client = GenericClient(runtime.http.url)
        answers = await asyncio.gather(
            client.post(message("/help", user="a"), wait=True),
            client.post(message("/explode", user="b")),
            client.post(message("/help", user="c"), wait=True),
        )
        await client.close()
        assert [len(answers[i][1]["replies"]) for i in (0, 2)] == [1, 1]

        async def dead() -> bool:  # the keeper moved it from botgate.dead to the store
            return await count_rows(runtime, "dead_letters") == 1

        await eventually(dead)
        async with runtime.db.transaction() as db:
            texts = set(
                (await db.execute(select(Message.text).where(Message.direction == "in"))).scalars()
            )
            letter = (await db.execute(select(DeadLetter))).scalar_one()
    assert texts == {"/help"}  # the broken one rolled back whole, the others committed
    assert (letter.error, letter.attempts) == ("RuntimeError", 3)
    assert letter.reason == "failed 3 times: RuntimeError: this tool is broken"


@pytest.mark.postgres
async def test_a_database_outage_holds_events_until_it_is_back(
    tmp_path: Path, postgres_url: str
) -> None:
    proxy = TcpProxy("127.0.0.1", 5432)
    async with proxy:
        settings = make_settings(proxy.url(postgres_url), "memory://outage")
        async with running(settings) as runtime:
            client = GenericClient(runtime.http.url)
            proxy.refuse()
            await proxy.drop()
            accepted = [
                await client.post(message(f"during outage {n}", event_id=f"o-{n}"))
                for n in range(5)
            ]
            assert [status for status, _ in accepted] == [202] * 5  # the bus took them
            await asyncio.sleep(1.5)
            proxy.accept()

            async def all_recorded() -> bool:
                try:
                    return await count_rows(runtime, "messages") == 10  # 5 in, 5 replies
                except Exception:
                    return False

            await eventually(all_recorded, 30)
            await client.close()
    assert runtime.metrics.processed.labels("recorded")._value.get() >= 5


@pytest.mark.postgres
async def test_the_core_gets_over_a_connection_the_server_ended_while_idle(
    postgres_url: str, memory_url: str
) -> None:
    """The core's pool does not ping before each batch: the batch meets the dead connection,
    fails as an outage, and is recorded again on a new one."""
    async with running(make_settings(postgres_url, memory_url)) as runtime:
        client = GenericClient(runtime.http.url)
        _, before = await client.post(message("/help", event_id="before"), wait=True)
        assert len(before["replies"]) == 1
        async with runtime.db.engine.connect() as admin:
            ended = await admin.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        assert ended >= 1  # the core's idle connection among them
        status, after = await client.post(message("/help", event_id="after"), wait=True)
        await client.close()
        assert status == 200
        assert len(after["replies"]) == 1

        async def all_recorded() -> bool:
            return await count_rows(runtime, "messages") == 4  # two in, two replies

        await eventually(all_recorded)
