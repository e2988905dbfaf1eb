"""Engine factory: one async engine per process, built on demand (never at import time)."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from gateway.config import DatabaseConfig


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def create_engine(config: DatabaseConfig) -> AsyncEngine:
    if is_sqlite(config.url):
        engine = create_async_engine(
            config.url,
            echo=config.echo,
            connect_args={"timeout": 30},
            json_deserializer=orjson.loads,
        )
        event.listen(engine.sync_engine, "connect", sqlite_pragmas)
        return engine
    return create_async_engine(
        config.url,
        echo=config.echo,
        pool_size=config.pool_size,
        max_overflow=config.pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
        json_deserializer=orjson.loads,  # reading JSON columns: ~10x the standard library's
    )


def create_core_engine(config: DatabaseConfig) -> AsyncEngine:
    """The core's PostgreSQL engine: one connection for its one batch at a time, no pre-ping.

    asyncpg's pre-ping is three round trips (BEGIN, an empty query, ROLLBACK) on every
    checkout, a quarter of a batch's. The core does not need it: a batch that meets a dead
    connection fails as a store outage, SQLAlchemy replaces the pool's connections, and the
    core records the batch again (gateway/core/consumer.py).
    """
    return create_async_engine(
        config.url, echo=config.echo, pool_size=1, max_overflow=1, pool_recycle=1800
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


def sessionmaker(engine: AsyncEngine) -> async_sessionmaker:  # type: ignore[type-arg]
    return async_sessionmaker(engine, expire_on_commit=False)
