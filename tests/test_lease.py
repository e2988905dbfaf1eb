"""Leases in the database (one poller per bot): one holder at a time, a dead holder's lease
taken over once it expired, a released one at once. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from adapters.base import while_held
from gateway.config import DatabaseConfig
from gateway.lease import Lease
from store import sending
from store.database import Database

TTL, RETRY = 0.6, 0.05


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(DatabaseConfig(url=database_url))
    try:
        await database.migrate()
        yield database
    finally:
        await database.close()


def lease(db: Database, holder: str, name: str = "telegram.poll.helpdesk") -> Lease:
    return Lease(db, name, holder, TTL, RETRY)


async def holders(db: Database) -> dict[str, str]:
    async with db.transaction() as session:
        return {name: holder for name, holder, _ in await sending.leases(session)}


async def test_one_holder_at_a_time_and_a_release_hands_over_at_once(db: Database) -> None:
    first, second, other = lease(db, "a"), lease(db, "b"), lease(db, "b", "telegram.poll.other")
    await first.acquire()
    await other.acquire()  # another bot's lease is independent
    keeping = asyncio.create_task(first.lost())  # renews it
    waiting = asyncio.create_task(second.acquire())
    done, _ = await asyncio.wait({waiting}, timeout=TTL * 2)
    assert not done
    assert await holders(db) == {"telegram.poll.helpdesk": "a", "telegram.poll.other": "b"}
    keeping.cancel()
    loop = asyncio.get_running_loop()
    released_at = loop.time()
    await first.release()
    await asyncio.wait_for(waiting, 1)
    assert loop.time() - released_at < RETRY * 4  # no wait for the expiry
    assert (await holders(db))["telegram.poll.helpdesk"] == "b"


async def test_a_dead_holders_lease_is_taken_once_it_expired(db: Database) -> None:
    dead, standby = lease(db, "dead"), lease(db, "standby")
    await dead.acquire()  # ... and never renews: the process died
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.wait_for(standby.acquire(), TTL * 3)
    assert loop.time() - started >= TTL * 0.8
    assert (await holders(db))["telegram.poll.helpdesk"] == "standby"


async def test_a_holder_whose_lease_was_taken_stops_its_job(db: Database) -> None:
    slow, other = lease(db, "slow"), lease(db, "other")
    ran = asyncio.Event()
    stopped = asyncio.Event()

    async def job() -> None:
        ran.set()
        try:
            await asyncio.Event().wait()
        finally:
            stopped.set()

    running = asyncio.create_task(while_held(slow, job))
    await asyncio.wait_for(ran.wait(), 2)
    async with db.transaction() as session:  # the lease expires under it (a long pause) ...
        await sending.drop_lease(session, slow.name, "slow")
    await other.acquire()  # ... and another process takes it
    await asyncio.wait_for(stopped.wait(), TTL * 2)
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)
    assert (await holders(db))["telegram.poll.helpdesk"] == "other"
