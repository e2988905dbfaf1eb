"""The lock that keeps a bot's gateway connection in exactly one process.

On PostgreSQL: a session-level advisory lock on a hash of the bot's name, held on a dedicated
connection. When the holder dies its connection closes, PostgreSQL releases the lock, and a
standby process (trying every `retry_interval`) takes over. The holder checks its connection
every `check_interval`; losing it means losing the lock, and it must stop its gateway. On any
other database (SQLite: one process) an in-process lock is enough.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any, ClassVar, Protocol

import asyncpg  # type: ignore[import-untyped]

log = logging.getLogger(__name__)


class GatewayLock(Protocol):
    async def acquire(self) -> None:
        """Wait until this process holds the lock."""
        ...

    async def lost(self) -> None:
        """Return when the lock is no longer held (never, for a lock that cannot be lost)."""
        ...

    async def release(self) -> None: ...


def lock_key(name: str) -> int:
    """A signed 64-bit advisory lock key for a bot's gateway."""
    digest = hashlib.blake2b(f"botgate:discord-gateway:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def gateway_lock(
    database_url: str, bot: str, retry_interval: float, check_interval: float
) -> GatewayLock:
    if database_url.startswith(("postgresql", "postgres")):
        dsn = "postgresql://" + database_url.split("://", 1)[1]
        return AdvisoryLock(dsn, lock_key(bot), retry_interval, check_interval)
    return LocalLock(bot, retry_interval)


class LocalLock:
    """One holder per bot name within this process."""

    _held: ClassVar[set[str]] = set()

    def __init__(self, name: str, retry_interval: float) -> None:
        self.name = name
        self.retry_interval = retry_interval
        self._owned = False

    async def acquire(self) -> None:
        while True:
            if self.name not in self._held:
                self._held.add(self.name)
                self._owned = True
                return
            await asyncio.sleep(self.retry_interval)

    async def lost(self) -> None:
        await asyncio.Event().wait()

    async def release(self) -> None:
        if self._owned:
            self._owned = False
            self._held.discard(self.name)


class AdvisoryLock:
    """`pg_try_advisory_lock(key)` on its own asyncpg connection."""

    def __init__(self, dsn: str, key: int, retry_interval: float, check_interval: float) -> None:
        self.dsn = dsn
        self.key = key
        self.retry_interval = retry_interval
        self.check_interval = check_interval
        self._conn: Any = None
        self._dropped = asyncio.Event()

    async def acquire(self) -> None:
        while True:
            if await self._try_once():
                self._dropped = asyncio.Event()
                self._conn.add_termination_listener(lambda _conn: self._dropped.set())
                return
            await asyncio.sleep(self.retry_interval)

    async def _try_once(self) -> bool:
        try:
            if self._conn is None or self._conn.is_closed():
                self._conn = await asyncpg.connect(self.dsn, timeout=self.check_interval)
            return bool(await self._conn.fetchval("SELECT pg_try_advisory_lock($1)", self.key))
        except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
            log.warning("gateway lock: database unreachable (%s); retrying", type(exc).__name__)
            await self._close()
            return False

    async def lost(self) -> None:
        """A closed connection is noticed at once; a silent one within two check intervals."""
        while True:
            try:
                async with asyncio.timeout(self.check_interval):
                    await self._dropped.wait()
                break
            except TimeoutError:
                if not await self._still_held():
                    break
        log.warning("gateway lock: lost the database connection holding it")

    async def _still_held(self) -> bool:
        try:
            async with asyncio.timeout(self.check_interval):
                return bool(await self._conn.fetchval("SELECT 1"))
        except (
            OSError,
            asyncpg.PostgresError,
            asyncpg.InterfaceError,
            TimeoutError,
            AttributeError,
        ):
            return False

    async def release(self) -> None:
        try:
            if self._conn is not None and not self._conn.is_closed():
                await self._conn.execute("SELECT pg_advisory_unlock($1)", self.key)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            pass  # closing the connection releases it anyway
        await self._close()

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None or conn.is_closed():
            return
        try:
            await conn.close(timeout=2)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            conn.terminate()
