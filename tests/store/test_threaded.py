"""The core's SQLite connection on its own thread: database-only work in one hand-off, the
last write with the commit, and a rollback that leaves nothing behind."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from gateway.config import DatabaseConfig
from store import bulk
from store.database import CoreConnection, Database, before_commit, complete
from store.models import PlatformChannel
from store.threaded import InlineConnection, ThreadedConnection
from store.upsert import table_of
from tests.store.test_bulk import _bot_id, _channel

BOT: dict[str, Any] = {}  # the bot the channels belong to, made by the fixture


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(DatabaseConfig(url=f"sqlite+aiosqlite:///{tmp_path / 'core.db'}"))
    await database.migrate()
    BOT["id"] = await _bot_id(database)
    yield database
    await database.close()


def _row(name: str) -> dict[str, Any]:
    return _channel(BOT["id"], name)


async def _names(db: Database) -> list[str]:
    async with db.transaction() as session:
        table = table_of(PlatformChannel)
        rows = await session.execute(select(table.c.external_id).order_by(table.c.external_id))
        return list(rows.scalars())


async def test_database_only_work_runs_on_the_thread_in_one_step(db: Database) -> None:
    seen: list[str] = []

    async def work(connection: CoreConnection, names: list[str]) -> int:
        for name in names:  # several statements, all in one hand-off
            seen.append(threading.current_thread().name)
            await bulk.insert(connection, table_of(PlatformChannel), [_row(name)])
        return len(names)

    async with db.begin() as connection:
        assert isinstance(connection, ThreadedConnection)
        assert await complete(connection, work, ["a", "b", "c"]) == 3
    assert set(seen) != {threading.current_thread().name}
    assert len(set(seen)) == 1
    assert await _names(db) == ["a", "b", "c"]


async def test_a_failing_block_rolls_back_everything(db: Database) -> None:
    async def write(connection: CoreConnection) -> None:
        await bulk.insert(connection, table_of(PlatformChannel), [_row("lost")])

    async def fails() -> None:
        async with db.begin() as connection:
            await complete(connection, write)
            await before_commit(connection, write)  # never runs: there is no commit
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await fails()
    async with db.begin() as connection:  # the thread's connection is usable again
        await complete(connection, write)
    assert await _names(db) == ["lost"]


async def test_before_commit_work_is_written_with_the_commit(db: Database) -> None:
    async def write(connection: CoreConnection, name: str) -> None:
        await bulk.insert(connection, table_of(PlatformChannel), [_row(name)])

    async with db.begin() as connection:
        await before_commit(connection, write, "last")
        await complete(connection, write, "first")
        assert await _names(db) == []  # nothing is visible before the commit
    assert await _names(db) == ["first", "last"]


class _Suspends:
    def __await__(self) -> Generator[None, None, None]:
        yield  # what any real wait does: hand control back to an event loop


@pytest.mark.parametrize(
    ("stray", "refusal"),
    [
        (_Suspends, "awaited something other than the database"),
        (lambda: asyncio.sleep(0.01), "no running event loop"),
    ],
)
async def test_work_that_waits_on_anything_else_is_refused(
    db: Database, stray: Callable[[], Awaitable[None]], refusal: str
) -> None:
    async def strays(connection: CoreConnection) -> None:
        await bulk.insert(connection, table_of(PlatformChannel), [_row("half")])
        await stray()  # not the database: cannot run to its end in one step

    async def run() -> None:
        async with db.begin() as connection:
            await complete(connection, strays)

    with pytest.raises(RuntimeError, match=refusal):
        await run()
    assert await _names(db) == []


async def test_plain_statements_come_back_with_their_rows(db: Database) -> None:
    async with db.begin() as connection:
        await connection.execute(text("CREATE TEMP TABLE t (n INTEGER)"))
        await connection.execute(text("INSERT INTO t VALUES (1), (2)"))
        result = await connection.execute(text("SELECT n FROM t ORDER BY n"))
    assert result.scalars().all() == [1, 2]  # read after the block: the rows were buffered


async def test_transactions_take_turns_on_the_one_connection(db: Database) -> None:
    order: list[str] = []

    async def transaction(name: str) -> None:
        async with db.begin() as connection:
            await connection.execute(text("SELECT 1"))  # from here the thread is its own
            order.append(f"{name} begins")
            await asyncio.sleep(0.02)  # the other one would interleave here
            order.append(f"{name} ends")

    await asyncio.gather(transaction("a"), transaction("b"))
    assert order == ["a begins", "a ends", "b begins", "b ends"]


async def test_bulk_statements_go_to_sqlite_itself_with_the_same_results(
    db: Database,
) -> None:
    """Inside database-only work, bulk statements skip SQLAlchemy from the first one on:
    what they return is still typed by the columns, and SQLite's refusals are SQLAlchemy's
    errors."""
    table = table_of(PlatformChannel)
    returning = ["id", "bot_id", "external_id", "created_at"]

    async def write(connection: CoreConnection) -> tuple[Any, bool]:
        assert isinstance(connection, InlineConnection)
        direct = connection.driver_in_transaction() is not None
        return (await bulk.insert(connection, table, [_row("b")], returning=returning))[0], direct

    async with db.begin() as connection:  # the first one through SQLAlchemy
        first = (await bulk.insert(connection, table, [_row("a")], returning=returning))[0]
        later, direct = await complete(connection, write)
    assert direct
    assert [type(value) for value in later] == [type(value) for value in first]
    assert (later[1], later[2]) == (BOT["id"], "b")
    assert later[3].tzinfo is not None

    async def collide(connection: CoreConnection) -> None:
        await bulk.insert(connection, table, [_row("c")])
        await bulk.insert(connection, table, [{**_row("d"), "id": first[0]}])  # taken

    with pytest.raises(IntegrityError):
        async with db.begin() as connection:
            await complete(connection, collide)
    assert await _names(db) == ["a", "b"]  # the refused transaction left nothing


async def test_write_commits_its_work_in_one_job_and_rolls_back_a_failure(db: Database) -> None:
    async def write(connection: CoreConnection, name: str, fail: bool = False) -> str:
        await bulk.insert(connection, table_of(PlatformChannel), [_row(name)])
        if fail:
            raise RuntimeError("refused")
        return threading.current_thread().name

    thread = await db.write(write, "kept")
    assert thread != threading.current_thread().name  # work and commit ran on the thread
    with pytest.raises(RuntimeError, match="refused"):
        await db.write(write, "dropped", fail=True)
    assert await _names(db) == ["kept"]


async def test_a_cancelled_session_gives_the_thread_back_rolled_back(db: Database) -> None:
    """A block cancelled while it holds the thread ends its session (rolled back): the next
    transactions run, and nothing of the cancelled one is kept."""
    holding = asyncio.Event()

    async def write(connection: CoreConnection) -> None:
        await bulk.insert(connection, table_of(PlatformChannel), [_row("cancelled")])

    async def held() -> None:
        async with db.begin() as connection:
            await complete(connection, write)
            holding.set()
            await asyncio.sleep(30)  # cancelled here, with the thread held

    task = asyncio.create_task(held())
    await holding.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    async def after(connection: CoreConnection) -> None:
        await bulk.insert(connection, table_of(PlatformChannel), [_row("after")])

    await asyncio.wait_for(db.write(after), 5)
    assert await _names(db) == ["after"]


async def test_transactions_run_in_the_order_they_were_queued(db: Database) -> None:
    """Jobs queue on the thread: a transaction queued while a session holds it runs after
    the session ends, in queue order, without a turn of the event loop between them."""
    order: list[str] = []

    async def mark(connection: CoreConnection, name: str) -> None:
        order.append(name)

    async def session() -> None:
        async with db.begin() as connection:
            await connection.execute(text("SELECT 1"))
            order.append("session")
            await asyncio.sleep(0.05)

    first = asyncio.create_task(session())
    await asyncio.sleep(0.01)
    await asyncio.gather(first, db.write(mark, "second"), db.write(mark, "third"))
    assert order == ["session", "second", "third"]
