"""store.bulk: rows written and read set-based, on SQLite and PostgreSQL, in the formats the
ORM reads, with SQL that does not change with the number of rows."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import orjson
import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.dialects.postgresql import asyncpg as sqlalchemy_asyncpg
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.config import DatabaseConfig
from gateway.core.consumer import is_outage
from gateway.crypto import Vault, generate_key
from gateway.ids import new_id
from store import bots as bot_records
from store import bulk
from store.database import CoreConnection, Database, complete
from store.engine import CORE_CONNECTIONS
from store.models import (
    Message,
    PlatformChannel,
    PlatformUser,
    ProcessedEvent,
    User,
    UserSession,
)
from store.upsert import table_of
from tests.support.pipeline import generic_bot, make_settings

PARIS = timezone(timedelta(hours=1))
AT = datetime(2026, 11, 22, 13, 30, 15, 123456, tzinfo=PARIS)  # 12:30:15.123456 UTC


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    async with _migrated(database_url) as database:
        yield database


@pytest.fixture
async def pg_db(postgres_url: str) -> AsyncIterator[Database]:
    async with _migrated(postgres_url) as database:
        yield database


@asynccontextmanager
async def _migrated(url: str) -> AsyncIterator[Database]:
    database = Database(DatabaseConfig(url=url))
    try:
        await database.migrate()
        yield database
    finally:
        await database.close()


async def _bot_id(db: Database) -> uuid.UUID:
    settings = make_settings(db.url, "memory://", bots=[generic_bot("helpdesk")])
    async with db.transaction() as session:
        return (await bot_records.sync_bots(session, settings, Vault(generate_key())))["helpdesk"]


def _channel(bot_id: uuid.UUID, external: str, name: str | None = None) -> dict[str, Any]:
    row = {"id": new_id(), "platform": "generic", "external_id": external, "type": "group"}
    return {**row, "bot_id": bot_id, "name": name, "created_at": AT, "updated_at": AT}


def _person(person: uuid.UUID) -> dict[str, Any]:
    return {"id": person, "name": None, "is_active": True, "created_at": AT, "updated_at": AT}


async def test_rows_written_in_bulk_read_back_through_the_orm(db: Database) -> None:
    channel, user, person_id = _channel(await _bot_id(db), "room", "Room"), new_id(), new_id()
    message = {
        "id": new_id(),
        "direction": "in",
        "external_id": "m-1",
        "platform_channel_id": channel["id"],
        "platform_user_id": user,
        "session_id": None,
        "bot_id": None,
        "event_id": new_id(),
        "text": 'héllo "quoted" \' \\ 🙂',
        "thread_id": None,
        "reply_to_id": None,
        "attachments": [{"kind": "photo", "size": 3}],
        "occurred_at": AT,
        "created_at": AT,
        "updated_at": AT,
    }
    person = {
        "id": user,
        "platform": "generic",
        "external_id": "alice",
        "name": "Alice",
        "display_name": None,
        "is_bot": True,
        "locale": None,
        "user_id": person_id,
        "last_seen_at": AT,
        "created_at": AT,
        "updated_at": AT,
    }
    async with db.begin() as connection:
        await bulk.insert(connection, table_of(PlatformChannel), [channel])
        await bulk.insert(connection, table_of(PlatformUser), [person])  # its person: deferred
        await bulk.insert(connection, table_of(User), [_person(person_id)])
        await bulk.insert(connection, table_of(Message), [message])
    async with db.transaction() as session:
        stored = (await session.execute(select(Message))).scalar_one()
        alice = (await session.execute(select(PlatformUser))).scalar_one()
    assert stored.id == message["id"]
    assert stored.event_id == message["event_id"]
    assert stored.platform_channel_id == channel["id"]
    assert stored.platform_user_id == user
    assert stored.text == message["text"]
    assert stored.attachments == [{"kind": "photo", "size": 3}]
    assert stored.occurred_at == AT
    assert stored.occurred_at.utcoffset() == timedelta(0)
    assert stored.session_id is None
    assert stored.edited_at is None
    assert alice.is_bot is True
    assert alice.last_seen_at == AT


async def test_conflicts_update_the_named_columns_or_skip_the_row(db: Database) -> None:
    table, key = table_of(PlatformChannel), ["bot_id", "platform", "external_id"]
    bot = await _bot_id(db)
    first = [_channel(bot, "a", "A"), _channel(bot, "b", "B")]
    async with db.begin() as connection:
        await bulk.insert(connection, table, first)
        updated = await bulk.insert(
            connection,
            table,
            [_channel(bot, "a", "A2"), _channel(bot, "c", "C")],
            conflict=key,
            update=["name"],
            returning=["external_id", "id"],
        )
        skipped = await bulk.insert(
            connection,
            table,
            [_channel(bot, "b", "B2"), _channel(bot, "d", "D")],
            conflict=key,
            returning=["external_id"],
        )
    ids = dict(updated)
    assert ids["a"] == first[0]["id"]  # the existing row, with its id
    assert [external for (external,) in skipped] == ["d"]
    async with db.transaction() as session:
        names = dict((await session.execute(select(table.c.external_id, table.c.name))).all())
    assert names == {"a": "A2", "b": "B", "c": "C", "d": "D"}


async def test_insert_new_returns_the_rows_inserted_now(db: Database) -> None:
    """Through sqlite3 itself it answers from the rows when all went in, and reads back the
    ones that did otherwise; PostgreSQL and SQLAlchemy's way return them (RETURNING)."""
    table, key = table_of(PlatformChannel), ["bot_id", "platform", "external_id"]
    bot = await _bot_id(db)
    columns = tuple(_channel(bot, "x"))

    async def write(connection: CoreConnection, names: list[str]) -> list[tuple[Any, ...]]:
        rows = [tuple(_channel(bot, name).values()) for name in names]
        returning = ["external_id", "bot_id"]
        written = await bulk.insert_new(
            connection, table, rows, columns=columns, conflict=key, returning=returning
        )
        return sorted(written)

    async with db.begin() as connection:
        fresh = await complete(connection, write, ["a", "b"])
        mixed = await complete(connection, write, ["b", "c", "a", "d"])
        through_sqlalchemy = await write(connection, ["d", "e"])
    assert fresh == [("a", bot), ("b", bot)]
    assert mixed == [("c", bot), ("d", bot)]
    assert through_sqlalchemy == [("e", bot)]
    async with db.transaction() as session:
        names = (await session.execute(select(table.c.external_id))).scalars().all()
    assert sorted(names) == ["a", "b", "c", "d", "e"]


async def test_update_by_id_and_select_matching(db: Database) -> None:
    bot_id = await _bot_id(db)
    channel, user, person = _channel(bot_id, "room"), new_id(), new_id()
    sessions = table_of(UserSession)
    rows = [
        {
            "id": new_id(),
            "bot_id": bot_id,
            "platform_user_id": user,
            "platform_channel_id": channel["id"],
            "started_at": AT,
            "last_activity_at": AT,
            "ended_at": ended,
            "context": {},
            "created_at": AT,
            "updated_at": AT,
        }
        for ended in (AT, None)
    ]
    later = AT + timedelta(minutes=5)
    async with db.begin() as connection:
        await bulk.insert(connection, table_of(PlatformChannel), [channel])
        await bulk.insert(
            connection,
            table_of(PlatformUser),
            [{"id": user, "platform": "generic", "external_id": "bob", "created_at": AT,
              "updated_at": AT, "last_seen_at": AT, "is_bot": False, "user_id": person}],
        )  # fmt: skip
        await bulk.insert(connection, table_of(User), [_person(person)])
        await bulk.insert(connection, sessions, rows)
        await bulk.update_by_id(
            connection, sessions, [{"id": rows[1]["id"], "last_activity_at": later}]
        )
        found = await bulk.select_matching(
            connection,
            sessions,
            [(bot_id, user, channel["id"]), (bot_id, new_id(), channel["id"])],
            key_columns=["bot_id", "platform_user_id", "platform_channel_id"],
            returning=["id", "last_activity_at"],
            where="ended_at IS NULL",
        )
    assert [tuple(row) for row in found] == [(rows[1]["id"], later)]


def _ledger_rows(size: int, prefix: str) -> list[dict[str, Any]]:
    return [
        {
            "id": new_id(),
            "dedupe_key": f"{prefix}-{size}-{n}",
            "event_id": new_id(),
            "event_type": "message.created",
            "platform": "generic",
            "bot": "helpdesk",
            "processed_at": AT,
            "result": {"n": n},
        }
        for n in range(size)
    ]


async def test_one_statement_text_whatever_the_number_of_rows(db: Database) -> None:
    seen: set[str] = set()

    def remember(*args: Any) -> None:
        seen.add(args[2])

    def remember_query(record: Any) -> None:
        seen.add(record.query)

    event.listen(Engine, "before_cursor_execute", remember)  # any engine: SQLite's core has its own
    table = table_of(ProcessedEvent)
    for size in (1, 3, 40):
        async with db.begin() as connection:
            driver = _asyncpg_of(connection)  # PostgreSQL's statements go to asyncpg itself
            if driver is not None:
                driver.add_query_logger(remember_query)
            claimed = []
            for prefix in ("first", "second"):  # PostgreSQL: via SQLAlchemy, then asyncpg
                claimed += await bulk.insert(
                    connection,
                    table,
                    _ledger_rows(size, prefix),
                    conflict=["dedupe_key"],
                    returning=["dedupe_key"],
                )
            if driver is not None:
                driver.remove_query_logger(remember_query)
        assert len(claimed) == 2 * size
    event.remove(Engine, "before_cursor_execute", remember)
    inserts = {sql for sql in seen if "INSERT INTO" in sql}  # not asyncpg's type lookups
    assert len(inserts) == 1


async def test_a_bulk_statement_first_in_its_transaction_is_rolled_back_with_it(
    db: Database,
) -> None:
    async def fail_after_the_insert() -> None:
        async with db.begin() as connection:
            await bulk.insert(connection, table_of(ProcessedEvent), _ledger_rows(2, "gone"))
            raise RuntimeError("the batch failed")

    with pytest.raises(RuntimeError):
        await fail_after_the_insert()
    async with db.transaction() as session:
        kept = (await session.execute(select(ProcessedEvent.dedupe_key))).scalars().all()
    assert not [key for key in kept if key.startswith("gone")]


def _asyncpg_of(connection: Any) -> Any:
    if not isinstance(connection, AsyncConnection) or connection.dialect.name != "postgresql":
        return None
    return connection.sync_connection.connection.driver_connection


async def test_naive_timestamps_are_refused(db: Database) -> None:
    row = _channel(new_id(), "x") | {"created_at": datetime(2026, 1, 1)}
    async with db.begin() as connection:
        with pytest.raises(ValueError, match="naive datetime"):
            await bulk.insert(connection, table_of(PlatformChannel), [row])


@pytest.mark.postgres
async def test_a_connection_lost_mid_transaction_is_a_store_outage(pg_db: Database) -> None:
    db = pg_db

    async def lose_the_connection_mid_batch() -> None:
        async with db.begin() as connection:
            driver = _asyncpg_of(connection)
            await bulk.insert(connection, table_of(ProcessedEvent), _ledger_rows(1, "before"))
            async with db.engine.connect() as other:  # the server ends our session
                pid = driver.get_server_pid()
                await other.exec_driver_sql(f"SELECT pg_terminate_backend({pid})")
            await bulk.insert(connection, table_of(ProcessedEvent), _ledger_rows(1, "after"))

    try:
        await lose_the_connection_mid_batch()
    except Exception as exc:  # from asyncpg under us, or from SQLAlchemy's rollback
        failure = exc
    else:
        pytest.fail("a statement on a terminated connection succeeded")
    assert is_outage(failure)  # so the core holds the batch and retries: nothing is lost
    async with db.begin() as connection:  # the core's pool replaced the dead connection
        await bulk.insert(connection, table_of(ProcessedEvent), _ledger_rows(1, "again"))


@pytest.mark.postgres
async def test_a_core_transaction_has_begun_before_its_first_statement(pg_db: Database) -> None:
    through_sqlalchemy: list[str] = []

    def remember(*args: Any) -> None:
        through_sqlalchemy.append(args[2])

    async with pg_db.begin() as connection:
        began = _asyncpg_of(connection).is_in_transaction()
        event.listen(connection.sync_engine, "before_cursor_execute", remember)
        await bulk.insert(connection, table_of(ProcessedEvent), _ledger_rows(2, "eager"))
        event.remove(connection.sync_engine, "before_cursor_execute", remember)
    assert began  # BEGIN went out with `begin`, not with the first statement
    assert through_sqlalchemy == []  # so even the first bulk statement went to asyncpg
    assert await _keys(pg_db, "eager") == 2  # and the commit ended that transaction


@pytest.mark.postgres
async def test_an_autocommit_statement_commits_alone_and_a_lost_connection_is_replaced(
    pg_db: Database,
) -> None:
    db = pg_db
    in_transaction: list[bool] = []

    async def fail_after_the_statement() -> None:
        async with db.autocommit() as connection:
            await bulk.insert(connection, table_of(ProcessedEvent), _ledger_rows(1, "alone"))
            in_transaction.append(_asyncpg_of(connection).is_in_transaction())
            raise RuntimeError("what follows the statement fails")

    async def lose_the_connection() -> None:
        async with db.autocommit() as connection:
            async with db.engine.connect() as other:  # the server ends this session
                pid = _asyncpg_of(connection).get_server_pid()
                await other.exec_driver_sql(f"SELECT pg_terminate_backend({pid})")
            await bulk.insert(connection, table_of(ProcessedEvent), _ledger_rows(1, "lost"))

    with pytest.raises(RuntimeError):
        await fail_after_the_statement()
    assert in_transaction == [False]  # no BEGIN: the statement went to asyncpg by itself
    assert await _keys(db, "alone") == 1  # committed alone, not rolled back with the block
    with pytest.raises(Exception):  # noqa: B017, PT011 - asyncpg's, whichever it noticed first
        await lose_the_connection()
    for attempt in range(CORE_CONNECTIONS * 2 + 1):  # no pooled connection is the dead one
        async with db.autocommit() as connection:
            rows = _ledger_rows(1, f"again{attempt}")
            await bulk.insert(connection, table_of(ProcessedEvent), rows)
    assert await _keys(db, "again") == CORE_CONNECTIONS * 2 + 1


async def _keys(db: Database, prefix: str) -> int:
    async with db.transaction() as session:
        kept = (await session.execute(select(ProcessedEvent.dedupe_key))).scalars().all()
    return len([key for key in kept if key.startswith(prefix)])


@pytest.mark.postgres
async def test_a_value_too_long_for_its_column_is_refused_not_cut(pg_db: Database) -> None:
    async def insert_a_long_key() -> None:
        async with pg_db.begin() as connection:
            rows = _ledger_rows(1, "k" * 600)  # dedupe_key is varchar(512)
            await bulk.insert(connection, table_of(ProcessedEvent), rows)

    too_long = (DBAPIError, asyncpg.StringDataRightTruncationError)
    with pytest.raises(too_long, match="value too long"):
        await insert_a_long_key()


def test_a_connection_lost_mid_statement_is_an_outage_and_a_refused_statement_is_not() -> None:
    dbapi = sqlalchemy_asyncpg.AsyncAdapt_asyncpg_dbapi

    def wrapped(driver_error: Exception, adapter_class: Any) -> DBAPIError:
        try:  # as SQLAlchemy's adapter raises it: the driver's error as the cause
            raise adapter_class(str(driver_error)) from driver_error
        except Exception as adapter_error:
            return DBAPIError.instance("SELECT 1", None, adapter_error, dbapi.Error)

    lost = asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation")
    refused = asyncpg.UniqueViolationError("duplicate key value")
    assert is_outage(wrapped(lost, dbapi.Error))  # SQLAlchemy does not see a disconnect here
    assert not is_outage(wrapped(refused, dbapi.IntegrityError))


@pytest.mark.parametrize("arrow", [True, False], ids=["json-arrow", "sqlite-before-3.38"])
async def test_sqlite_stores_json_and_uuids_as_sqlalchemy_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, arrow: bool
) -> None:
    """On SQLite the select list makes a UUID's hex and a JSON value's text (with `->`, or in
    Python where SQLite predates it): the stored text is what SQLAlchemy itself writes."""
    monkeypatch.setattr(bulk, "_SQLITE_ARROW", arrow and bulk._SQLITE_ARROW)
    for cached in (bulk._insert, bulk._update, bulk._delete, bulk._select):
        cached.cache_clear()  # statements built under the other setting
    path = tmp_path / "json.db"
    values: list[Any] = [{"a": [1, {"b": None}], "c": 'ü "𝄞" \\'}, [], ["x", 2.5, True], "null"]
    async with _migrated(f"sqlite+aiosqlite:///{path}") as db:
        rows = [
            {**_ledger_rows(1, f"json-{n}")[0], "result": value} for n, value in enumerate(values)
        ]

        async def write(connection: CoreConnection) -> None:
            await bulk.insert(connection, table_of(ProcessedEvent), rows)

        await db.write(write)
    for cached in (bulk._insert, bulk._update, bulk._delete, bulk._select):
        cached.cache_clear()
    with sqlite3.connect(path) as raw:
        stored = dict(raw.execute("SELECT id, result FROM processed_events").fetchall())
    for row in rows:
        assert stored[row["id"].hex] == orjson.dumps(row["result"]).decode()


@pytest.mark.postgres
async def test_updates_and_deletes_by_id_find_their_rows_through_the_primary_key(
    pg_db: Database,
) -> None:
    """The planner takes a document for 100 rows; joined with it, a table of some thousands
    was read whole every batch. The ids go to the primary key's index instead."""
    table = table_of(ProcessedEvent)
    rows = _ledger_rows(5000, "plan")
    async with pg_db.begin() as connection:
        await bulk.insert(connection, table, rows)
    picked = rows[::250]
    update = bulk._update("postgresql", table, ("id", "result"))
    delete = bulk._delete("postgresql", table)
    async with pg_db.begin() as connection:
        driver = _asyncpg_of(connection)
        await driver.execute("ANALYZE processed_events")
        for statement, matrix in (
            (update, update.matrix([{"id": r["id"], "result": {"done": 1}} for r in picked])),
            (delete, delete.matrix([(r["id"],) for r in picked], named=False)),
        ):
            document = bulk._document(matrix).decode()
            plan = await driver.fetch(f"EXPLAIN (ANALYZE) {statement.driver_sql}", document)
            text = "\n".join(line[0] for line in plan)
            assert "Seq Scan on processed_events" not in text, text
            assert "pk_processed_events" in text, text
    async with pg_db.begin() as connection:
        left = await _asyncpg_of(connection).fetchval("SELECT count(*) FROM processed_events")
    assert left == 5000 - len(picked)  # the update and the delete did their work
