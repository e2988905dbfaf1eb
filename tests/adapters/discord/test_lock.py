"""One gateway per bot: the in-process lock, and PostgreSQL's advisory lock with takeover."""

from __future__ import annotations

import asyncio

import pytest

from adapters.discord import DiscordAdapter
from adapters.discord.lock import AdvisoryLock, LocalLock, gateway_lock, lock_key
from botgate.testing.discord import DiscordEmulator
from tests.adapters.discord.conftest import World, settings_for
from tests.support.fake_context import FakeContext


async def never_within(awaitable: asyncio.Task[None], seconds: float = 0.3) -> None:
    done, _ = await asyncio.wait({awaitable}, timeout=seconds)
    assert not done, "the lock was taken twice"


async def test_the_local_lock_has_one_holder_per_bot() -> None:
    first, second, other = LocalLock("a", 0.01), LocalLock("a", 0.01), LocalLock("b", 0.01)
    await first.acquire()
    await other.acquire()  # another bot is independent
    waiting = asyncio.create_task(second.acquire())
    await never_within(waiting)
    await first.release()
    await asyncio.wait_for(waiting, 1)
    await second.release()
    await other.release()


def test_the_database_decides_which_lock() -> None:
    assert isinstance(gateway_lock("sqlite+aiosqlite:///x.db", "a", 1, 1), LocalLock)
    lock = gateway_lock("postgresql+asyncpg://u:p@db:5432/botgate", "helpdesk", 1, 1)
    assert isinstance(lock, AdvisoryLock)
    assert lock.dsn == "postgresql://u:p@db:5432/botgate"
    assert lock.key == lock_key("helpdesk") != lock_key("helpdesk2")
    assert -(2**63) <= lock.key < 2**63


@pytest.mark.postgres
async def test_the_advisory_lock_is_taken_over_when_its_holder_dies(postgres_url: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    dsn = "postgresql://" + postgres_url.split("://", 1)[1]
    holder, standby = (AdvisoryLock(dsn, lock_key("t"), 0.05, 0.1) for _ in range(2))
    await holder.acquire()
    waiting = asyncio.create_task(standby.acquire())
    await never_within(waiting)
    pid = holder._conn.get_server_pid()
    admin = await asyncpg.connect(dsn)
    try:
        await admin.fetchval("SELECT pg_terminate_backend($1)", pid)  # the holder's process "dies"
    finally:
        await admin.close()
    await asyncio.wait_for(holder.lost(), 2)
    await asyncio.wait_for(waiting, 2)
    await holder.release()
    await standby.release()


@pytest.mark.postgres
async def test_a_released_advisory_lock_is_free_again(postgres_url: str) -> None:
    dsn = "postgresql://" + postgres_url.split("://", 1)[1]
    first, second = (AdvisoryLock(dsn, lock_key("r"), 0.05, 0.1) for _ in range(2))
    await first.acquire()
    await first.release()
    await asyncio.wait_for(second.acquire(), 1)
    await second.release()


@pytest.mark.postgres
async def test_the_gateway_moves_to_the_standby_process(
    postgres_url: str, emulator: DiscordEmulator, world: World
) -> None:
    """Two adapters as two processes on one PostgreSQL: the holder's lock connection dies."""
    import asyncpg

    settings = settings_for(emulator, database_url=postgres_url)
    first, second = (DiscordAdapter(settings.bots[0], settings) for _ in range(2))
    first_context = FakeContext(settings)
    second_context = FakeContext(settings, states=first_context.states)  # one database
    await first.start(first_context)
    await emulator.wait_for_session(1)
    await second.start(second_context)
    try:
        await asyncio.sleep(0.3)
        assert len(emulator.ops(2)) == 1
        assert len(emulator.requests_to("PUT", r"/applications/\d+/commands")) == 1
        assert first.runner is not None
        lock = first.runner.lock
        assert isinstance(lock, AdvisoryLock)
        admin = await asyncpg.connect(lock.dsn)
        try:
            await admin.fetchval("SELECT pg_terminate_backend($1)", lock._conn.get_server_pid())
        finally:
            await admin.close()
        await emulator.wait_for_session(2)
        old = first.runner.client
        assert old is not None
        async with asyncio.timeout(2):
            while True:  # the old holder closes its gateway as soon as it knows
                if old.is_closed():
                    break
                await asyncio.sleep(0.01)
        await emulator.post_user_message(world.channel["id"], world.alice, "after the takeover")
        await second_context.wait_for(lambda e: len(e) >= 1)
        await asyncio.sleep(0.2)
        assert first_context.events == []
    finally:
        await first.stop()
        await second.stop()
