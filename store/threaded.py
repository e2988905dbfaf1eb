"""The core's SQLite transactions on a thread of their own, with few hand-offs per batch.

Through aiosqlite every statement crosses threads four times (cursor, execute, fetch, close),
and under load each crossing back waits its turn behind everything else ready on the event
loop. Here one synchronous SQLAlchemy connection lives on a dedicated thread, and the thread
runs transactions one after the other, from a queue, never waiting on the event loop between
two of them:
- `transact` runs a whole transaction there (database-only work and its commit): one job.
- A `begin` block whose statements are only `before_commit` work is one job too, at its end.
- Any other `begin` block is a session: at its first statement it takes the thread, which then
  runs each statement the block sends (`execute`, `complete`: one crossing each, rows fetched
  in the same call) until the block ends; transactions queued meanwhile wait their turn.
- `complete` runs database-only work (a coroutine that awaits nothing but
  `InlineConnection.execute`, which never suspends) in one crossing for many statements.
SQLite itself runs without the GIL, beside the event loop, and a writer waiting for another
connection's lock waits on that thread, not on the loop. There is one connection, so
transactions take turns: the thread is the lock, and the queue keeps their order.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import queue
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
Work = Callable[..., Coroutine[Any, Any, Any]]


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


class _Session:
    """A transaction whose statements come one by one from the event loop: it holds the
    database thread from its first statement to its end."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._calls: queue.SimpleQueue[tuple[Callable[[], Any], asyncio.Future[Any], bool]] = (
            queue.SimpleQueue()
        )

    def send(self, call: Callable[[], Any], *, last: bool = False) -> asyncio.Future[Any]:
        """Queue a call for the thread (never blocks); its future has the result."""
        future = self._loop.create_future()
        self._calls.put((call, future, last))
        return future

    def serve(self) -> None:
        """On the thread: run the calls in order until the last one."""
        last = False
        while not last:
            call, future, last = self._calls.get()
            try:
                result = call()
            except BaseException as exc:  # handed to the caller, whatever it is
                self._loop.call_soon_threadsafe(_fail, future, exc)
            else:
                self._loop.call_soon_threadsafe(_succeed, future, result)


def _succeed(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():  # a caller that was cancelled no longer waits
        future.set_result(result)


def _fail(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


class ThreadedConnection:
    """The connection as seen from the event loop: every call is handed to the thread."""

    def __init__(self, engine: ThreadedEngine) -> None:
        self._engine = engine
        self.before_commit: list[Work] = []
        self._session: _Session | None = None

    @property
    def dialect(self) -> Dialect:
        return self._engine.dialect

    async def execute(self, statement: Executable, parameters: Any = None) -> Result[*TupleAny]:
        return await self._call(functools.partial(self._engine.execute_now, statement, parameters))

    async def complete(
        self,
        work: Callable[Concatenate[InlineConnection, P], Coroutine[Any, Any, T]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run `work(connection, ...)` to its end on the thread, in one hand-off."""
        return await self._call(functools.partial(self._engine.complete_now, work, *args, **kwargs))

    async def _call(self, call: Callable[[], T]) -> T:
        if self._session is None:  # the first statement: the transaction takes the thread
            self._session = _Session(asyncio.get_running_loop())
            self._engine.start(self._session.serve)
        return cast(T, await self._session.send(call))

    async def end(self, *, commit: bool) -> None:
        """Commit (after the `before_commit` work) or roll back. Once the end is queued the
        thread is released whatever happens to the caller, a cancellation included."""
        end = functools.partial(
            self._engine.end_now, commit=commit, last=self.before_commit if commit else ()
        )
        if self._session is None:
            if commit and self.before_commit:
                await self._engine.run(end)  # the whole transaction in one job
            return
        session, self._session = self._session, None
        await asyncio.shield(session.send(end, last=True))


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
        """`work` as the thread's next job, after those queued before it."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(work, *args, **kwargs))

    def start(self, job: Callable[[], None]) -> None:
        """Queue a job whose result no one awaits (a session: its calls report back)."""
        self._executor.submit(job)

    async def transact(
        self,
        work: Callable[Concatenate[InlineConnection, P], Coroutine[Any, Any, T]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Database-only `work(connection, ...)` in a transaction of its own, committed: one
        job, so the thread goes from the last transaction to this one without waiting for
        the event loop."""
        job: functools.partial[T] = functools.partial(self._transact_now, work, *args, **kwargs)
        return await self.run(job)

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[ThreadedConnection]:
        """A transaction: begun by its first statement, committed when the block ends."""
        connection = ThreadedConnection(self)
        try:
            yield connection
        except BaseException:
            with contextlib.suppress(Exception):  # the block's own error is what counts
                await connection.end(commit=False)
            raise
        await connection.end(commit=True)

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
        coroutine = work(InlineConnection(self._begun()), *args, **kwargs)
        try:
            coroutine.send(None)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        coroutine.close()
        raise RuntimeError(f"{work.__qualname__} awaited something other than the database")

    def _transact_now(
        self, work: Callable[..., Coroutine[Any, Any, T]], *args: Any, **kwargs: Any
    ) -> T:
        try:
            result = self.complete_now(work, *args, **kwargs)
        except BaseException:
            with contextlib.suppress(Exception):  # the work's own error is what counts
                self.end_now(commit=False)
            raise
        self.end_now(commit=True)
        return result

    def _begun(self) -> Connection:
        """The thread's connection with its transaction begun (SQLAlchemy sends nothing for
        that: sqlite3 begins at the first write), so that every statement of the work, the
        first one included, may go to sqlite3 itself (`driver_in_transaction`)."""
        connection = self._current()
        if not connection.in_transaction():
            connection.begin()
        return connection

    def _current(self) -> Connection:
        """The thread's connection (opened again after a failure invalidated it)."""
        if self._connection is None or self._connection.invalidated or self._connection.closed:
            self._connection = self._engine.connect()
        return self._connection

    def end_now(self, *, commit: bool, last: Sequence[Work] = ()) -> None:
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
