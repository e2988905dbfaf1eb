"""Leases in the database: one process at a time holds a named job (a bot's Telegram poller,
its Discord gateway connection).

The holder renews its lease every `ttl / 3`; a holder that dies stops renewing and another
process takes the job once the lease expired (within `ttl` plus one retry interval). A clean
stop deletes the lease, so a standby takes over at its next try. A holder that cannot renew
in time (database unreachable, or another process took the lease) stops the job.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from datetime import timedelta

from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from gateway.errors import StoreUnavailable
from gateway.events import utcnow
from store import sending
from store.database import Database

log = logging.getLogger(__name__)
_DB_ERRORS = (DBAPIError, OperationalError, StoreUnavailable, OSError)


def process_name() -> str:
    """Who holds a lease, as `healthz` shows it: host, pid and a per-run suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Lease:
    def __init__(
        self, db: Database, name: str, holder: str, ttl: float, retry_interval: float
    ) -> None:
        self.db, self.name, self.holder = db, name, holder
        self.ttl, self.retry_interval = ttl, retry_interval
        self.held = False
        self.taken = False

    async def _try(self) -> bool:
        """Take or renew it; True if this process holds it now. Sets `taken` when another
        process holds it."""
        now = utcnow()
        try:
            async with self.db.transaction() as db:
                holder = await sending.take_lease(
                    db, self.name, self.holder, now, now + timedelta(seconds=self.ttl)
                )
        except IntegrityError:
            return False  # another process inserted it first
        except _DB_ERRORS as exc:
            self.db.outage.failed(log, exc, "lease %s: cannot reach the database", self.name)
            return False
        self.taken = holder != self.holder
        return not self.taken

    async def acquire(self) -> None:
        """Wait until this process holds the lease."""
        while True:
            if await self._try():
                self.held = True
                log.info("lease %s taken by %s", self.name, self.holder)
                return
            await asyncio.sleep(self.retry_interval)

    async def lost(self) -> None:
        """Renew until a renewal fails past the lease's expiry; then return (the lease is lost)."""
        loop = asyncio.get_running_loop()
        valid_until = loop.time() + self.ttl
        while True:
            await asyncio.sleep(min(self.ttl / 3, max(0.0, valid_until - loop.time())))
            if await self._try():
                valid_until = loop.time() + self.ttl
            elif self.taken or loop.time() >= valid_until - self.ttl / 6:
                break  # another process has it, or it may expire before the next try
        self.held = False
        log.warning("lease %s lost by %s", self.name, self.holder)

    async def release(self) -> None:
        if not self.held:
            return
        self.held = False
        try:
            async with self.db.transaction() as db:
                await sending.drop_lease(db, self.name, self.holder)
        except _DB_ERRORS as exc:
            log.warning("lease %s not released (%s); it expires", self.name, type(exc).__name__)
