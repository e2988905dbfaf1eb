"""`Database`: the engine, transactions, health and migration status of one process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from gateway.config import DatabaseConfig
from gateway.errors import DatabaseMissing, MigrationsPending, StoreUnavailable
from gateway.outage import Outage
from gateway.urls import hide_password
from store import bulk, connect_errors, migrate
from store.checkpoint import WalCheckpointer
from store.engine import (
    create_core_engine,
    create_engine,
    create_read_engine,
    is_sqlite,
    sessionmaker,
    sqlite_file,
    sqlite_writer_pragmas,
)
from store.threaded import InlineConnection, ThreadedConnection, ThreadedEngine

T = TypeVar("T")
P = ParamSpec("P")

# What the core writes through: an async connection; on SQLite the threaded one, and inside
# `complete` the inline one.
CoreConnection = AsyncConnection | ThreadedConnection | InlineConnection


async def complete(
    db: CoreConnection,
    work: Callable[Concatenate[CoreConnection, P], Coroutine[Any, Any, T]],
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """Database-only `work(db, ...)`: on SQLite in one hand-off to its thread, else awaited."""
    if isinstance(db, ThreadedConnection):
        return await db.complete(work, *args, **kwargs)
    return await work(db, *args, **kwargs)


async def before_commit(
    db: CoreConnection,
    work: Callable[Concatenate[CoreConnection, P], Coroutine[Any, Any, None]],
    *args: P.args,
    **kwargs: P.kwargs,
) -> None:
    """The transaction's last database-only work: on SQLite it goes to the thread with the
    commit (one hand-off for both); elsewhere it runs now."""
    if isinstance(db, ThreadedConnection):
        db.before_commit.append(lambda connection: work(connection, *args, **kwargs))
        return
    await work(db, *args, **kwargs)


class Database:
    """The database of one process. Commands that only read open it with `open_existing`."""

    def __init__(self, config: DatabaseConfig, *, read_only: bool = False) -> None:
        self.url = config.url
        self.url_for_display = hide_password(config.url)
        self.read_only = read_only
        self.engine = create_engine(config, read_only=read_only)
        self._sessions = sessionmaker(self.engine)
        # The loops that fail while the server is away report it here: one line when it goes,
        # one when a new connection to it succeeds (gateway/outage.py).
        self.outage = Outage(f"the database {self.url_for_display}")
        self._on_connect(self.engine)
        self._config = config
        self._read_engine: AsyncEngine | None = None  # PostgreSQL's, made on first use
        # The core's hot path has an engine of its own: a thread on SQLite, no pre-ping on
        # PostgreSQL (store/engine.py, store/threaded.py).
        self._core_engine: ThreadedEngine | AsyncEngine | None = None
        if not read_only:
            self._core_engine = (
                ThreadedEngine(config.url, sqlite_writer_pragmas)
                if is_sqlite(config.url)
                else create_core_engine(config)
            )
            if isinstance(self._core_engine, AsyncEngine):
                self._on_connect(self._core_engine)
        # SQLite: the WAL is copied back into the file on a thread of its own, never by a
        # commit of the core's (store/checkpoint.py)
        path = sqlite_file(config.url) if is_sqlite(config.url) else None
        self._checkpointer = WalCheckpointer(path) if path is not None and not read_only else None
        if self._checkpointer is not None:
            self._checkpointer.start()

    def _on_connect(self, engine: AsyncEngine) -> None:
        event.listen(engine.sync_engine, "connect", lambda *_: self.outage.back())

    @classmethod
    @asynccontextmanager
    async def open_existing(
        cls, config: DatabaseConfig, *, migrated: bool = True
    ) -> AsyncIterator[Database]:
        """`async with Database.open_existing(config) as db:` for a command that only reads
        (`check`, `migrate status`, listings, exports): it creates no file and no table, and
        every write is refused. Raises DatabaseMissing when an embedded database file does not
        exist yet, StoreUnavailable when the server cannot be reached, and (with `migrated`)
        MigrationsPending while migrations are pending."""
        path = sqlite_file(config.url) if is_sqlite(config.url) else None
        if path is not None and not path.is_file():
            raise DatabaseMissing(
                f"database {hide_password(config.url)}: the file {path} does not exist yet; "
                "`botgate migrate up` creates it (`botgate serve` does on start)"
            )
        db = cls(config, read_only=True)
        try:
            await db.ping()
            if migrated:
                await db.require_migrated()
            yield db
        finally:
            await db.close()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One ORM unit of work: committed when the block ends, rolled back if it raises."""
        async with self._sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[CoreConnection]:
        """A Core transaction, without the ORM's bookkeeping: the core's hot path. On SQLite it
        runs on a thread of its own (store/threaded.py)."""
        assert self._core_engine is not None, "a read-only Database has no core transactions"
        async with self._core_engine.begin() as connection:
            if isinstance(connection, AsyncConnection):  # PostgreSQL: see bulk.begin_now
                await bulk.begin_now(connection)
            yield connection

    async def write(
        self,
        work: Callable[Concatenate[CoreConnection, P], Coroutine[Any, Any, T]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Database-only `work(db, ...)` in a transaction of its own, committed when it
        returns. On SQLite the work and the commit are one job on the database thread, which
        goes on to the next transaction queued without waiting for the event loop."""
        engine = self._core_engine
        if isinstance(engine, ThreadedEngine):
            return await engine.transact(work, *args, **kwargs)
        async with self.begin() as db:
            return await work(db, *args, **kwargs)

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[CoreConnection]:
        """A connection of the core's whose every statement commits by itself: for a single
        statement, PostgreSQL is spared the BEGIN and COMMIT round trips (two of a send-ledger
        write's three). On SQLite, a transaction as `begin` gives (committed on its thread)."""
        engine = self._core_engine
        if not isinstance(engine, AsyncEngine):
            async with self.begin() as connection:
                yield connection
            return
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            try:
                yield connection
            except BaseException:
                # Statements go to asyncpg itself (store/bulk.py) and no rollback follows, so
                # SQLAlchemy would never learn that the connection broke, or that a cancelled
                # statement is still under way on it: it is not reused.
                await connection.invalidate()
                raise

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for reads outside a transaction, each statement seeing what is committed
        when it runs: a hot read path of one round trip a statement. On PostgreSQL its
        connections come without a pre-ping (store/engine.py, `create_read_engine`): a
        statement on a connection that died fails with `connection_invalidated`, and the
        caller reads again through `transaction`. On SQLite a SELECT opens no transaction."""
        if is_sqlite(self.url):
            async with self._sessions() as session:
                yield session
            return
        if self._read_engine is None:
            self._read_engine = create_read_engine(self._config)
            self._on_connect(self._read_engine)
        async with AsyncSession(self._read_engine, expire_on_commit=False) as session:
            yield session

    async def ping(self) -> None:
        try:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except (OSError, DBAPIError, OperationalError) as exc:
            raise StoreUnavailable(connect_errors.explain(exc, self.url_for_display)) from exc

    async def migration_status(self) -> migrate.MigrationStatus:
        return await migrate.status(self.engine)

    async def require_migrated(self) -> None:
        status = await self.migration_status()
        if not status.up_to_date:
            raise MigrationsPending(
                f"database {self.url_for_display} has pending migrations "
                f"({', '.join(status.pending)}); run `botgate migrate up` (serve applies them "
                "on start)"
            )

    async def migrate(self) -> None:
        await migrate.upgrade(self.engine)

    async def close(self) -> None:
        await self.engine.dispose()
        if self._read_engine is not None:
            await self._read_engine.dispose()
        if self._core_engine is not None:
            await self._core_engine.dispose()
        if self._checkpointer is not None:  # last: its connection's close checkpoints the rest
            await asyncio.to_thread(self._checkpointer.stop)
