"""Set-based statements whose SQL text does not depend on the number of rows.

A batch travels as one parameter: a JSON document of rows (arrays of column values), made
by orjson in C and expanded by the database (`jsonb_array_elements` on PostgreSQL, `json_each`
on SQLite). Why:
- Each statement is compiled once and, on PostgreSQL, prepared and planned once. A VALUES
  list with one placeholder per value (SQLAlchemy's executemany) is a new statement for every
  batch size, and asyncpg's statement cache then keeps preparing.
- Rows cost no per-value bind processing in Python. Typed arrays (`unnest`) were tried first
  on PostgreSQL: asyncpg's per-element array encoding cost about five times the JSON document
  in client CPU. Values are converted once, into what the column types store, so the ORM reads
  these rows like any other. On SQLite the select list does what it can of that (a UUID's hex,
  a JSON value's text): SQLite's C rather than a Python call per value.
- `jsonb`, not `json`: a `json` value is text, and every `->> n` scans the row's text again
  up to column n (past a whole nested event, say); `jsonb` is parsed once (measured: the
  outbox insert took a fifth of the time).

Statements run on the caller's connection, inside its transaction. On PostgreSQL they go to
asyncpg itself, under SQLAlchemy's connection: they need none of SQLAlchemy's per-statement
work (parameter and result processing, the greenlet hop), which profiling showed costing more
than the statements themselves. Their SQL is built from table metadata and the callers'
constants only; every value is a bound parameter.
"""

from __future__ import annotations

import re
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from operator import attrgetter, itemgetter
from typing import TYPE_CHECKING, Any, cast

import asyncpg  # type: ignore[import-untyped]
import orjson
from sqlalchemy import JSON, Column, DateTime, String, Table, Uuid, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import TextClause

from gateway.errors import StoreUnavailable
from gateway.ids import uuid_of_int
from store.base import UTCDateTime, aware
from store.threaded import InlineConnection

if TYPE_CHECKING:
    from store.database import CoreConnection

Convert = Callable[[Any], Any]
_PG: Any = postgresql.dialect()  # type: ignore[no-untyped-call]
_q = _PG.identifier_preparer.quote  # both dialects quote the same names (reserved words)


@dataclass(frozen=True)
class _Statement:
    sql: TextClause  # for SQLAlchemy, with the document as `:rows`
    driver_sql: str  # the same for asyncpg (`$1`) or sqlite3 (`:rows`)
    columns: Callable[[dict[str, Any]], tuple[Any, ...]]  # a row's values, in document order
    converted: tuple[tuple[int, Convert], ...]  # the values that need converting, by position
    aware: tuple[int, ...]  # the timestamps that must have a time zone, by position
    returned: tuple[Column[Any], ...]  # the RETURNING or selected columns

    @property
    def returns_rows(self) -> bool:
        return bool(self.returned)

    def matrix(self, rows: Sequence[Any], *, named: bool = True) -> Sequence[Any]:
        """The rows as arrays of column values: dicts picked in C (`itemgetter`), or sequences
        already in column order (`named=False`). Values are checked and converted a column
        at a time, by `map` (no Python loop over rows); only the conversions themselves are
        Python, and the timestamps' is cached."""
        matrix = list(map(self.columns, rows)) if named else rows
        for index in self.aware:
            _refuse_naive(map(itemgetter(index), matrix))
        if not self.converted:
            return matrix
        columns: list[Any] = list(zip(*matrix, strict=True))
        for index, convert in self.converted:
            columns[index] = map(convert, columns[index])
        return list(zip(*columns, strict=True))


def _refuse_naive(values: Iterable[datetime | None]) -> None:
    """As `aware` for each value, in C: is there a time zone missing (None values pass)."""
    if None in map(_TIME_ZONE, filter(None, values)):
        raise ValueError("naive datetime: botgate stores aware UTC timestamps only")


_TIME_ZONE = attrgetter("tzinfo")


def _statement(
    sql: str, table: Table, source: _Source, columns: tuple[str, ...], returning: tuple[str, ...]
) -> _Statement:
    driver_sql = re.sub(r":rows\b", "$1", sql) if source.postgresql else sql
    returned = tuple(table.c[name] for name in returning)
    converted = tuple(
        (index, convert)
        for index, convert in enumerate(source.converters)
        if convert is not _same and convert is not aware
    )
    checked = tuple(index for index, convert in enumerate(source.converters) if convert is aware)
    return _Statement(
        _typed(sql, returned), driver_sql, _picker(columns), converted, checked, returned
    )


def _picker(columns: tuple[str, ...]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    if len(columns) == 1:  # itemgetter of one name gives the value, not a 1-tuple
        (name,) = columns
        return lambda row: (row[name],)
    return itemgetter(*columns)


async def insert(
    db: CoreConnection,
    table: Table,
    rows: Sequence[dict[str, Any]] | Sequence[Sequence[Any]],
    *,
    columns: Sequence[str] = (),
    conflict: Sequence[str] = (),
    update: Sequence[str] = (),
    returning: Sequence[str] = (),
) -> Sequence[tuple[Any, ...]]:
    """INSERT the rows: dicts with the same keys, or (with `columns`, cheaper to build) tuples
    of those columns' values. With `conflict`: rows that collide on those columns update the
    `update` columns, or are skipped when `update` is empty."""
    if not rows:
        return []
    names = tuple(columns) or tuple(cast(dict[str, Any], rows[0]))
    statement = _insert(
        db.dialect.name, table, names, tuple(conflict), tuple(update), tuple(returning)
    )
    return await _run(db, statement, statement.matrix(rows, named=not columns))


async def update_by_id(db: CoreConnection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """UPDATE each row's other columns where `id` matches (rows share their keys)."""
    await write_together(db, updating_by_id(db, table, rows))


async def insert_new(
    db: CoreConnection,
    table: Table,
    rows: Sequence[Sequence[Any]],
    *,
    columns: Sequence[str],
    conflict: Sequence[str],
    returning: Sequence[str],
) -> Sequence[tuple[Any, ...]]:
    """INSERT the rows (tuples of `columns`, among them a fresh `id`), skipping those that
    collide on `conflict`: the `returning` columns of the rows inserted now, which must be
    given as they are read back (keys: text, UUIDs).

    Through sqlite3 itself, RETURNING costs a sqlite3 step per row (each a release and
    re-take of the GIL) and a Python tuple per row, for values the caller mostly has. There
    the statement returns nothing: when it inserted every row (the common case) the rows'
    own values are the answer, and otherwise the ones that went in are read back by their
    ids."""
    if not rows:
        return []
    sqlite = _sqlite_driver(db)
    if sqlite is None:
        return await insert(
            db, table, rows, columns=columns, conflict=conflict, returning=returning
        )
    names = tuple(columns)
    statement = _insert(db.dialect.name, table, names, tuple(conflict), (), ())
    document = _document(statement.matrix(rows, named=False)).decode()
    if _execute_sqlite(sqlite, db.dialect, statement, document).rowcount == len(rows):
        picked = [names.index(name) for name in returning]
        return [tuple(map(row.__getitem__, picked)) for row in rows]
    index = names.index("id")
    return await select_matching(
        db, table, [(row[index],) for row in rows], key_columns=["id"], returning=returning
    )


@dataclass(frozen=True)
class Write:
    """A statement that returns nothing, with its rows: for `write_together`."""

    statement: _Statement
    matrix: Sequence[Any]


def inserting(db: CoreConnection, table: Table, rows: Sequence[dict[str, Any]]) -> Write | None:
    """`insert` of the rows (no conflict clause), to be written by `write_together`."""
    if not rows:
        return None
    statement = _insert(db.dialect.name, table, tuple(rows[0]), (), (), ())
    return Write(statement, statement.matrix(rows))


def updating_by_id(
    db: CoreConnection, table: Table, rows: Sequence[dict[str, Any]]
) -> Write | None:
    """`update_by_id` of the rows, to be written by `write_together`."""
    if not rows:
        return None
    columns = ("id", *(key for key in rows[0] if key != "id"))
    statement = _update(db.dialect.name, table, columns)
    return Write(statement, statement.matrix(rows))


def deleting_by_id(db: CoreConnection, table: Table, ids: Sequence[Any]) -> Write | None:
    """DELETE the rows whose `id` is one of `ids`, to be written by `write_together`."""
    if not ids:
        return None
    statement = _delete(db.dialect.name, table)
    return Write(statement, statement.matrix([(row_id,) for row_id in ids], named=False))


async def write_together(db: CoreConnection, *writes: Write | None) -> None:
    """The writes, in order (None: nothing to write). On PostgreSQL, several go as one
    statement, the first ones data-modifying WITH queries of the last: one round trip, and
    one statement for the server. None of them sees the others' changes there, so they must
    not depend on one another (other tables, or other rows)."""
    present = [write for write in writes if write is not None]
    driver = _asyncpg_driver(db) if len(present) > 1 else None
    if driver is None:
        for write in present:
            await _run(db, write.statement, write.matrix)
        return
    sql = _together(tuple(write.statement.driver_sql for write in present))
    documents = [_document(write.matrix).decode() for write in present]
    try:
        await driver.execute(sql, *documents)
    except LOST_CONNECTION as exc:  # what SQLAlchemy would report as a disconnect
        raise StoreUnavailable(f"the database connection was lost: {exc!r}") from exc


async def select_matching(
    db: CoreConnection,
    table: Table,
    keys: Sequence[tuple[Any, ...]],
    *,
    key_columns: Sequence[str],
    returning: Sequence[str],
    where: str = "",
) -> Sequence[tuple[Any, ...]]:
    """The `returning` columns of rows whose `key_columns` equal one of `keys`, and that meet
    the extra SQL condition `where` (a constant of the caller's, never user input)."""
    if not keys:
        return []
    columns = tuple(key_columns)
    statement = _select(db.dialect.name, table, columns, tuple(returning), where)
    return await _run(db, statement, statement.matrix(keys, named=False))


async def _run(
    db: CoreConnection, statement: _Statement, matrix: Sequence[Any]
) -> Sequence[tuple[Any, ...]]:
    """The statement's returned rows (tuples, or records that unpack like them)."""
    document = _document(matrix)
    driver = _asyncpg_driver(db)
    if driver is not None:
        try:
            rows_back = await driver.fetch(statement.driver_sql, document.decode())
        except LOST_CONNECTION as exc:  # what SQLAlchemy would report as a disconnect
            raise StoreUnavailable(f"the database connection was lost: {exc!r}") from exc
        return cast(Sequence[tuple[Any, ...]], rows_back)
    sqlite = _sqlite_driver(db)
    if sqlite is not None:
        return _run_sqlite(sqlite, db.dialect, statement, document.decode())
    result = await db.execute(statement.sql, {"rows": document.decode()})
    return cast(Sequence[tuple[Any, ...]], result.all()) if statement.returns_rows else []


def _sqlite_driver(db: CoreConnection) -> sqlite3.Connection | None:
    """sqlite3's own connection under `db`, on the database thread in a begun transaction;
    else None, and statements go through SQLAlchemy."""
    return db.driver_in_transaction() if isinstance(db, InlineConnection) else None


def _run_sqlite(
    connection: sqlite3.Connection, dialect: Dialect, statement: _Statement, document: str
) -> list[tuple[Any, ...]]:
    """The statement through sqlite3 itself, on the database thread: SQLAlchemy's statement
    and result processing cost more than SQLite's work here. Errors and returned values are
    what SQLAlchemy would have made of them (its exception classes, its column types)."""
    rows = _execute_sqlite(connection, dialect, statement, document).fetchall()
    readers = _readers(dialect, statement.returned)
    if not rows or not readers:
        return rows
    columns: list[Any] = list(zip(*rows, strict=True))  # read a column at a time
    for index, read in readers:
        if read is _uuid_of_hex:  # a batch's rows repeat some (its bot's id): each read once
            uuids = {value: read(value) for value in set(columns[index])}
            columns[index] = map(uuids.__getitem__, columns[index])
        else:
            columns[index] = map(read, columns[index])
    return list(zip(*columns, strict=True))


def _execute_sqlite(
    connection: sqlite3.Connection, dialect: Dialect, statement: _Statement, document: str
) -> sqlite3.Cursor:
    """Its errors are SQLAlchemy's exception classes, as through SQLAlchemy."""
    try:
        return connection.execute(statement.driver_sql, {"rows": document})
    except sqlite3.Error as exc:
        raise DBAPIError.instance(
            statement.driver_sql, None, exc, sqlite3.Error, dialect=dialect
        ) from exc


@lru_cache(maxsize=128)
def _readers(dialect: Dialect, columns: tuple[Column[Any], ...]) -> tuple[tuple[int, Convert], ...]:
    """The column types' own result processing for `dialect`, by position, for the columns
    that have any; a UUID's is done without `uuid.UUID()` parsing its text again."""
    readers = []
    for index, column in enumerate(columns):
        if isinstance(column.type, Uuid) and column.type.as_uuid:
            readers.append((index, _uuid_of_hex))
        elif read := column.type._cached_result_processor(dialect, None):
            readers.append((index, read))
    return tuple(readers)


LOST_CONNECTION = (  # asyncpg's errors that mean the connection itself went
    asyncpg.PostgresConnectionError,  # class 08: the connection failed or is gone
    asyncpg.exceptions.OperatorInterventionError,  # class 57: shutdown, not accepting yet
    asyncpg.InterfaceError,  # "connection is closed"
)


def _asyncpg_driver(db: CoreConnection) -> Any:
    """asyncpg's connection under a PostgreSQL `db` whose transaction has begun (`begin_now`
    sends BEGIN at once), or that commits each statement by itself (AUTOCOMMIT); else None,
    and the statement goes through SQLAlchemy."""
    if not isinstance(db, AsyncConnection) or db.dialect.name != "postgresql":
        return None
    adapted = _adapted(db)
    driver = adapted.driver_connection
    return driver if adapted.autocommit or driver.is_in_transaction() else None


def _adapted(db: AsyncConnection) -> Any:
    """SQLAlchemy's adapter around the asyncpg connection of `db`."""
    return db.sync_connection.connection.dbapi_connection  # type: ignore[union-attr]


async def begin_now(db: AsyncConnection) -> None:
    """Send a PostgreSQL transaction's BEGIN now, rather than with its first statement: then
    every bulk statement, the first included, goes to asyncpg without SQLAlchemy's
    per-statement work. Through the SQLAlchemy adapter's own transaction, which its commit
    and rollback end; where the adapter is not the one this was written against (another
    SQLAlchemy version), BEGIN stays lazy."""
    adapted = _adapted(db)
    start = getattr(adapted, "_start_transaction", None)
    if start is None or adapted.autocommit or getattr(adapted, "_transaction", True) is not None:
        return
    try:
        async with adapted._execute_mutex:
            await start()
    except Exception as exc:  # the connection is gone or broken: not for the pool again
        await db.invalidate()
        raise StoreUnavailable(f"could not begin a transaction: {exc!r}") from exc


# -- statements, built once per shape -------------------------------------------------------


@lru_cache(maxsize=128)
def _insert(
    dialect: str,
    table: Table,
    columns: tuple[str, ...],
    conflict: tuple[str, ...],
    update: tuple[str, ...],
    returning: tuple[str, ...],
) -> _Statement:
    source = _source(dialect, table, columns)
    into = f"INSERT INTO {_q(table.name)} ({_names(columns)})"
    sql = f"{into} SELECT {source.select} FROM {source.rows}"
    if dialect != "postgresql":
        sql += " WHERE true"  # SQLite: tells its parser the upsert clause is not a join's ON
    if conflict:
        action = (
            "DO UPDATE SET " + ", ".join(f"{_q(c)} = excluded.{_q(c)}" for c in update)
            if update
            else "DO NOTHING"
        )
        sql += f" ON CONFLICT ({_names(conflict)}) {action}"
    if returning:
        sql += f" RETURNING {_names(returning)}"
    return _statement(sql, table, source, columns, returning)


@lru_cache(maxsize=32)
def _together(statements: tuple[str, ...]) -> str:
    """PostgreSQL statements (each with its document as `$1`) as one: the last one's, with
    the others as WITH queries; each document a parameter of its own."""
    numbered = [re.sub(r"\$1\b", f"${n}", sql) for n, sql in enumerate(statements, 1)]
    queries = ", ".join(f"w{n} AS ({sql})" for n, sql in enumerate(numbered[:-1], 1))
    return f"WITH {queries} {numbered[-1]}"


@lru_cache(maxsize=128)
def _update(dialect: str, table: Table, columns: tuple[str, ...]) -> _Statement:
    source = _source(dialect, table, columns)
    changes = ", ".join(f"{_q(c)} = x.{_q(c)}" for c in columns if c != "id")
    sql = (
        f"UPDATE {_q(table.name)} SET {changes} FROM (SELECT {source.select} FROM {source.rows})"
        f" AS x WHERE {_q(table.name)}.id = x.id"
    )
    if dialect == "postgresql":
        sql += f" AND {_ids_by_index(table)}"
    return _statement(sql, table, source, columns, ())


@lru_cache(maxsize=32)
def _delete(dialect: str, table: Table) -> _Statement:
    source = _source(dialect, table, ("id",))
    matching = (
        _ids_by_index(table)
        if dialect == "postgresql"
        else f"id IN (SELECT {source.select} FROM {source.rows})"
    )
    sql = f"DELETE FROM {_q(table.name)} WHERE {matching}"
    return _statement(sql, table, source, ("id",), ())


def _ids_by_index(table: Table) -> str:
    """PostgreSQL: `id` is one of the document's first column, as an array searched through
    the primary key's index. Why: the planner cannot see how many rows a document holds (it
    assumes 100), and joined with it a table of a few thousand rows was read whole every
    batch (measured: the core's settle statement spent 4 of its 5 ms scanning
    processed_events)."""
    ids = _source("postgresql", table, ("id",))
    return f"{_q(table.name)}.id = ANY(ARRAY(SELECT {ids.select} FROM {ids.rows}))"


@lru_cache(maxsize=128)
def _select(
    dialect: str,
    table: Table,
    key_columns: tuple[str, ...],
    returning: tuple[str, ...],
    where: str,
) -> _Statement:
    source = _source(dialect, table, key_columns)
    keys = ", ".join(f"{_q(table.name)}.{_q(c)}" for c in key_columns)
    sql = (
        f"SELECT {_names(returning)} FROM {_q(table.name)}"
        f" WHERE ({keys}) IN (SELECT {source.select} FROM {source.rows})"
    )
    if where:
        sql += f" AND ({where})"
    return _statement(sql, table, source, key_columns, returning)


@dataclass(frozen=True)
class _Source:
    select: str  # the select list producing the columns, in order
    rows: str  # the FROM item
    converters: tuple[Convert, ...]
    postgresql: bool


def _source(dialect: str, table: Table, columns: tuple[str, ...]) -> _Source:
    kinds = [table.c[name] for name in columns]
    if dialect == "postgresql":
        select = ", ".join(f"{_pg_value(i, c)} AS {_q(c.name)}" for i, c in enumerate(kinds))
        rows = "jsonb_array_elements(CAST(:rows AS jsonb)) AS x(value)"
        return _Source(select, rows, tuple(_pg_converter(c) for c in kinds), True)
    select = ", ".join(f"{_sqlite_value(i, c)} AS {_q(c.name)}" for i, c in enumerate(kinds))
    converters = tuple(_sqlite_converter(c) for c in kinds)
    return _Source(select, "json_each(:rows)", converters, False)


def _typed(sql: str, returned: tuple[Column[Any], ...]) -> TextClause:
    """Returned columns go through their column types (UUIDs, UTC timestamps, JSON)."""
    statement = text(sql)
    if returned:
        return statement.columns(*returned)  # type: ignore[return-value]
    return statement


def _names(columns: Sequence[str]) -> str:
    return ", ".join(_q(c) for c in columns)


# -- values --------------------------------------------------------------------------------


def _is_json(column: Column[Any]) -> bool:
    return isinstance(column.type, JSON)


def _pg_value(index: int, column: Column[Any]) -> str:
    """The column's value in row `x.value`: JSON stays JSON (a JSON null is SQL NULL, as on
    SQLite); strings are read as text so that the INSERT itself checks their length (a cast
    to varchar(n) would cut them short silently)."""
    if _is_json(column):
        return f"NULLIF(x.value -> {index}, 'null')"
    kind = "text" if isinstance(column.type, String) else column.type.compile(dialect=_PG)
    return f"CAST(x.value ->> {index} AS {kind})"


def _pg_converter(column: Column[Any]) -> Convert:
    # orjson writes UUIDs and aware datetimes as PostgreSQL reads them; JSON values nest.
    return aware if isinstance(column.type, UTCDateTime) else _same


def _sqlite_value(index: int, column: Column[Any]) -> str:
    """The column's value in row `value`, as SQLAlchemy would store it: a UUID (orjson's text)
    as its 32 hex digits (what `Uuid` writes where there is no native type); a JSON value as
    its text (orjson's compact own: `->` keeps it; a JSON null is SQL NULL). An SQLite older
    than 3.38 has no `->`: there the JSON text is made in Python."""
    extracted = f"json_extract(value, '$[{index}]')"
    if _is_json(column):
        return f"NULLIF(value -> '$[{index}]', 'null')" if _SQLITE_ARROW else extracted
    if isinstance(column.type, Uuid):
        return f"replace({extracted}, '-', '')"
    return extracted


_SQLITE_ARROW = sqlite3.sqlite_version_info >= (3, 38)


def _sqlite_converter(column: Column[Any]) -> Convert:
    if _is_json(column) and not _SQLITE_ARROW:
        return _json_text
    if isinstance(column.type, UTCDateTime | DateTime):
        return _sqlite_datetime
    return _same


# asyncpg's UUID's own text, in C: the values orjson leaves to a `default` are nearly all
# ids read back from PostgreSQL, and a Python function for each cost more than the document.
# Given anything else it raises TypeError, and _other_uuid has its say.
_ASYNCPG_UUID_TEXT = asyncpg.pgproto.pgproto.UUID.__str__


def _document(matrix: Sequence[Any]) -> bytes:
    try:
        return orjson.dumps(matrix, default=_ASYNCPG_UUID_TEXT)
    except TypeError:
        return orjson.dumps(matrix, default=_other_uuid)


def _other_uuid(value: Any) -> str:
    """UUIDs of a subclass (asyncpg returns its own), which orjson leaves to us."""
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not a column value")


def _same(value: Any) -> Any:
    return value


def _json_text(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _uuid_of_hex(value: str | None) -> uuid.UUID | None:
    """What `uuid.UUID(value)` gives for the 32 hex digits `Uuid` stores, for a third of the
    cost (its parsing was a tenth of the statement's)."""
    if value is None or len(value) != 32:
        return None if value is None else uuid.UUID(value)
    return uuid_of_int(int(value, 16))


@lru_cache(maxsize=4096)  # a batch repeats its timestamps (received, created, updated)
def _sqlite_datetime(value: datetime | None) -> str | None:
    """SQLAlchemy's storage format for SQLite: "2026-11-22 12:00:00.000000", in UTC."""
    if value is None:
        return None
    if aware(value).utcoffset():
        value = value.astimezone(UTC)
    return value.isoformat(" ", "microseconds")[:26]  # without its "+00:00"
