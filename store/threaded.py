"""The core's SQLite transactions on a thread of their own, with few hand-offs per batch.

Through aiosqlite every statement crosses threads four times (cursor, execute, fetch, close),
and under load each crossing back waits its turn behind everything else ready on the event
loop. Here one synchronous SQLAlchemy connection lives on a dedicated thread:
- `execute` runs a statement there with its rows fetched in the same call: one crossing.
- `complete` runs a whole piece of database-only work there (a coroutine that awaits nothing
  but `InlineConnection.execute`, which never suspends): one crossing for many statements.
- Work registered with `before_commit` crosses together with the commit.
SQLite itself runs without the GIL, beside the event loop, and a writer waiting for another
connection's lock waits on that thread, not on the loop. There is one connection, so
transactions take turns (`begin` holds a lock for the whole block).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sqlite3
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, Concatenate, ParamSpec, TypeVar, cast

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import Dialect, Result
from sqlalchemy.sql.base import Executable
from sqlalchemy.util.typing import TupleAny

T = TypeVar("T")
P = ParamSpec("P")


class InlineConnection:
    """The connection as seen from code already running on the database thread."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    @property
    def dialect(self) -> Dialect:
        return self._connection.dialect

    async def execute(self, statement: Executable, parameters: Any = None) -> Result[*TupleAny]:
        return self._connection.execute(statement, parameters)  # read here, on the thread

    def driver_in_transaction(self) -> sqlite3.Connection | None:
        """sqlite3's own connection once SQLAlchemy's transaction has begun (so that it will
        commit it), for statements that need none of SQLAlchemy's per-statement work."""
        if not self._connection.in_transaction():
            return None
        return cast(sqlite3.Connection, self._connection.connection.driver_connection)


class ThreadedConnection:
    """The connection as seen from the event loop: every call is handed to the thread."""

    def __init__(self, engine: ThreadedEngine) -> None:
        self._engine = engine
        self.before_commit: list[Callable[[InlineConnection], Coroutine[Any, Any, None]]] = []

    @property
    def dialect(self) -> Dialect:
        return self._engine.dialect

    async def execute(self, statement: Executable, parameters: Any = None) -> Result[*TupleAny]:
        return await self._engine.run(self._engine.execute_now, statement, parameters)

    async def complete(
        self,
        work: Callable[Concatenate[InlineConnection, P], Coroutine[Any, Any, T]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run `work(connection, ...)` to its end on the thread, in one hand-off."""
        now = functools.partial(self._engine.complete_now, work, *args, **kwargs)
        return await self._engine.run(now)


class ThreadedEngine:
    """A synchronous engine on the same SQLite file, used from its own thread only."""

    def __init__(self, url: str, on_connect: Callable[..., None]) -> None:
        sync_url = url.replace("sqlite+aiosqlite:", "sqlite:", 1)
        self._engine: Engine = create_engine(sync_url, connect_args={"timeout": 30})
        event.listen(self._engine, "connect", on_connect)
        self.dialect = self._engine.dialect
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="botgate-sqlite")
        self._connection: Connection | None = None  # touched on the thread only
        self._turn = asyncio.Lock()  # one transaction at a time on the one connection

    async def run(self, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(work, *args, **kwargs))

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[ThreadedConnection]:
        """A transaction: begun by its first statement, committed when the block ends."""
        async with self._turn:
            connection = ThreadedConnection(self)
            try:
                yield connection
            except BaseException:
                with contextlib.suppress(Exception):  # the block's own error is what counts
                    await self.run(self._end, commit=False)
                raise
            await self.run(self._end, commit=True, last=connection.before_commit)

    # -- on the thread -------------------------------------------------------------------------

    def execute_now(self, statement: Executable, parameters: Any) -> Result[*TupleAny]:
        result = self._current().execute(statement, parameters)
        # The rows are read here: the cursor belongs to this thread.
        return result.freeze()() if result.returns_rows else result

    def complete_now(
        self,
        work: Callable[..., Coroutine[Any, Any, T]],
        *args: Any,
        **kwargs: Any,
    ) -> T:
        coroutine = work(InlineConnection(self._current()), *args, **kwargs)
        try:
            coroutine.send(None)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        coroutine.close()
        raise RuntimeError(f"{work.__qualname__} awaited something other than the database")

    def _current(self) -> Connection:
        """The thread's connection (opened again after a failure invalidated it)."""
        if self._connection is None or self._connection.invalidated or self._connection.closed:
            self._connection = self._engine.connect()
        return self._connection

    def _end(
        self,
        *,
        commit: bool,
        last: Sequence[Callable[[InlineConnection], Coroutine[Any, Any, None]]] = (),
    ) -> None:
        """Commit, after the transaction's `last` work; or roll back."""
        try:
            for work in last if commit else ():
                self.complete_now(work)
            connection = self._connection
            if connection is not None and connection.in_transaction():
                connection.commit() if commit else connection.rollback()
        except BaseException:
            self._discard()
            raise

    def _discard(self) -> None:
        """Drop a connection in an unknown state (closing it rolls back what is open)."""
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.close()

    def _dispose(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self._engine.dispose()

    async def dispose(self) -> None:
        await self.run(self._dispose)
        self._executor.shutdown(wait=True)
