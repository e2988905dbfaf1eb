"""Engine factory: one async engine per process, built on demand (never at import time)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from gateway.config import DatabaseConfig
from store.checkpoint import writer_pragmas

CONNECT_TIMEOUT = 10  # seconds: an unreachable PostgreSQL host fails start-up in time
CORE_CONNECTIONS = 4  # the core's writers at once (create_core_engine)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL; None for an in-memory database."""
    database = make_url(url).database
    return Path(database) if database and database != ":memory:" else None


def create_engine(config: DatabaseConfig, *, read_only: bool = False) -> AsyncEngine:
    """The engine of the process. `read_only`: no writes on any connection, and on SQLite
    the file must exist already (it is opened, never created). A writing SQLite engine leaves
    WAL checkpoints to the process's WalCheckpointer (store/checkpoint.py)."""
    if is_sqlite(config.url):
        url = _existing_sqlite(config.url) if read_only else config.url
        engine = create_async_engine(
            url, echo=config.echo, connect_args={"timeout": 30}, json_deserializer=orjson.loads
        )
        pragmas = sqlite_read_only_pragmas if read_only else sqlite_writer_pragmas
        event.listen(engine.sync_engine, "connect", pragmas)
        return engine
    server_settings = {"default_transaction_read_only": "on"} if read_only else {}
    return create_async_engine(
        config.url,
        echo=config.echo,
        pool_size=config.pool_size,
        max_overflow=config.pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={"timeout": CONNECT_TIMEOUT, "server_settings": server_settings},
        json_deserializer=orjson.loads,  # reading JSON columns: ~10x the standard library's
    )


def _existing_sqlite(url: str) -> str:
    """The URL opening the file read-write but never creating it (SQLite's `mode=rw`): a
    read-only connection could not clean up the WAL's side files when it closes."""
    path = sqlite_file(url)
    if path is None:
        return url
    uri = make_url(url).set(database=path.absolute().as_uri(), query={"mode": "rw", "uri": "true"})
    return uri.render_as_string(hide_password=False)


def create_core_engine(config: DatabaseConfig) -> AsyncEngine:
    """The core's PostgreSQL engine: a connection each for the writers that run at once (the
    core's batch, settling answers, the send ledger, held sends), kept open; no pre-ping.

    A connection past the pool's size is opened for one transaction and closed after it: a
    pool of one made every settlement and ledger write connect anew while a batch was being
    written (about a tenth of the service's CPU under load). asyncpg's pre-ping is three round
    trips (BEGIN, an empty query, ROLLBACK) on every checkout, a quarter of a batch's. The
    core does not need it: a batch that meets a dead connection fails as a store outage,
    SQLAlchemy replaces the pool's connections, and the core records the batch again
    (gateway/core/consumer.py).
    """
    return create_async_engine(
        config.url,
        echo=config.echo,
        pool_size=CORE_CONNECTIONS,
        max_overflow=CORE_CONNECTIONS,
        pool_recycle=1800,
        connect_args={"timeout": CONNECT_TIMEOUT},
    )


def create_read_engine(config: DatabaseConfig) -> AsyncEngine:
    """PostgreSQL connections for single reads outside a transaction (`Database.read`): in
    autocommit, so a statement is sent without BEGIN and COMMIT, read-only, and without a
    pre-ping (asyncpg's is three round trips on every checkout). A read that meets a dead
    connection fails with `connection_invalidated` set; its caller reads again the usual way.
    """
    return create_async_engine(
        config.url,
        echo=config.echo,
        pool_size=config.pool_size,
        max_overflow=config.pool_size,
        pool_recycle=1800,
        isolation_level="AUTOCOMMIT",
        connect_args={
            "timeout": CONNECT_TIMEOUT,
            "server_settings": {"default_transaction_read_only": "on"},
        },
    )


def sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    # WAL lets readers (health checks, admin API) run beside the core's writes;
    # foreign keys are off by default in SQLite.
    cursor: Any = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def sqlite_writer_pragmas(dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry) -> None:
    """A connection of a process whose WalCheckpointer checkpoints for it."""
    sqlite_pragmas(dbapi_connection, record)
    cursor: Any = dbapi_connection.cursor()
    writer_pragmas(cursor)
    cursor.close()


def sqlite_read_only_pragmas(
    dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry
) -> None:
    # query_only refuses every write on this connection, so a read-only command cannot
    # create a table (Alembic's version table included) even by mistake.
    cursor: Any = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def sessionmaker(engine: AsyncEngine) -> async_sessionmaker:  # type: ignore[type-arg]
    return async_sessionmaker(engine, expire_on_commit=False)
