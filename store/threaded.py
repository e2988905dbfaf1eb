"""The core's SQLite transactions on a thread of their own, with few hand-offs per batch.

Through aiosqlite every statement crosses threads four times (cursor, execute, fetch, close),
and under load each crossing back waits its turn behind everything else ready on the event
loop. Here one synchronous SQLAlchemy connection lives on a dedicated thread:
- `execute` runs a statement there with its rows fetched in the same call: one crossing.
- `complete` runs a whole piece of database-only work there (a coroutine that awaits nothing
  but `InlineConnection.execute`, which never suspends): one crossing for many statements.
SQLite itself runs without the GIL, beside the event loop, and a writer waiting on another
process's lock waits on that thread, not on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import Dialect, Result
from sqlalchemy.sql.base import Executable
from sqlalchemy.util.typing import TupleAny

T = TypeVar("T")
P = ParamSpec("P")


def _buffered(connection: Connection, statement: Executable, parameters: Any) -> Result[*TupleAny]:
    result = connection.execute(statement, parameters)
    return result.freeze()() if result.returns_rows else result


class InlineConnection:
    """The connection as seen from code already running on the database thread."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    @property
    def dialect(self) -> Dialect:
        return self._connection.dialect

    async def execute(self, statement: Executable, parameters: Any = None) -> Result[*TupleAny]:
        return _buffered(self._connection, statement, parameters)


class ThreadedConnection:
    """The connection as seen from the event loop: every call is handed to the thread."""

    def __init__(self, engine: ThreadedEngine) -> None:
        self._engine = engine

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

    async def run(self, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(work, *args, **kwargs))

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[ThreadedConnection]:
        """A transaction: begun by its first statement, committed when the block ends."""
        try:
            yield ThreadedConnection(self)
        except BaseException:
            await self.run(self._end, commit=False)
            raise
        await self.run(self._end, commit=True)

    # -- on the thread -------------------------------------------------------------------------

    def execute_now(self, statement: Executable, parameters: Any) -> Result[*TupleAny]:
        return _buffered(self._current(), statement, parameters)

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

    def _end(self, *, commit: bool) -> None:
        connection = self._connection
        if connection is None or not connection.in_transaction():
            return
        try:
            connection.commit() if commit else connection.rollback()
        except BaseException:
            self._connection = None  # its state is unknown: a new one next time
            with contextlib.suppress(Exception):
                connection.close()
            raise

    def _dispose(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self._engine.dispose()

    async def dispose(self) -> None:
        await self.run(self._dispose)
        self._executor.shutdown(wait=True)
