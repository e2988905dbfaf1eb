"""Retention: messages, clicks and the de-duplication ledger older than
`sessions.message_retention` are deleted, in small chunks, by the core role once an hour."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select
from sqlalchemy.orm import InstrumentedAttribute

from gateway.events import utcnow
from store.database import Database
from store.models import Click, Message, ProcessedEvent

log = logging.getLogger(__name__)
CHUNK = 5000
Column = InstrumentedAttribute
PRUNED: tuple[tuple[Column[uuid.UUID], Column[datetime]], ...] = (
    (Message.id, Message.occurred_at),
    (Click.id, Click.created_at),
    (ProcessedEvent.id, ProcessedEvent.processed_at),
)


class Retention:
    def __init__(self, db: Database, keep: timedelta, interval: timedelta = timedelta(hours=1)):
        self.db, self.keep, self.interval = db, keep, interval
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="retention")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self.prune()
            except Exception:  # an outage now is retried next round; never kill the loop
                log.exception("retention pass failed")
            await asyncio.sleep(self.interval.total_seconds())

    async def prune(self, now: datetime | None = None) -> int:
        """Delete what is older than the retention; returns how many rows went."""
        cutoff = (now or utcnow()) - self.keep
        removed = 0
        for id_column, time_column in PRUNED:
            removed += await self._prune_table(id_column, time_column, cutoff)
        if removed:
            log.info("retention removed %d rows older than %s", removed, cutoff.isoformat())
        return removed

    async def _prune_table(
        self, id_column: Column[uuid.UUID], time_column: Column[datetime], cutoff: datetime
    ) -> int:
        removed = 0
        while True:  # chunks keep each transaction (and its locks) short
            async with self.db.transaction() as db:
                ids = select(id_column).where(time_column < cutoff).limit(CHUNK)
                statement = delete(id_column.class_).where(id_column.in_(ids))
                result = cast(CursorResult[Any], await db.execute(statement))
            removed += result.rowcount
            if result.rowcount < CHUNK:
                return removed
