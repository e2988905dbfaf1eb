"""Retention: the core role deletes old rows, a chunk per transaction, every
`retention.interval`. What goes is a list of rules (table, timestamp column, how long to keep);
adding a table is one line in `rules`."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Table

from gateway.config import Settings
from gateway.events import utcnow
from gateway.loops import StopSignal, stop_between_passes
from store import retention as pruning
from store.database import Database

log = logging.getLogger(__name__)
CHUNK = 5000


@dataclass(frozen=True)
class Rule:
    table: str
    column: str  # rows whose timestamp here is older than `keep` go
    keep: timedelta | None  # None: kept for good


def rules(settings: Settings) -> list[Rule]:
    sessions, kept = settings.sessions, settings.retention
    return [
        Rule("messages", "occurred_at", sessions.message_retention),
        Rule("clicks", "created_at", sessions.message_retention),
        Rule("processed_events", "processed_at", sessions.message_retention),
        # when botgate last wrote it, not the platform's time of the last message (which can
        # be old: a backfilled or delayed event must not have its session pruned under it)
        Rule("user_sessions", "updated_at", sessions.sessions_kept),
        Rule("tool_calls", "created_at", sessions.message_retention),
        Rule("sent_actions", "sent_at", sessions.message_retention),
        Rule("audit_log", "created_at", kept.audit_log),
        Rule("dead_letters", "created_at", kept.dead_letters),
        Rule("automation_runs", "started_at", kept.automation_runs),
    ]


class Retention:
    def __init__(self, db: Database, rules: list[Rule], interval: timedelta) -> None:
        self.db, self.rules, self.interval = db, rules, interval
        self._task: asyncio.Task[None] | None = None
        self._stop = StopSignal()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="retention")

    async def stop(self) -> None:
        await stop_between_passes(self._stop, [self._task])

    async def _run(self) -> None:
        while not self._stop.is_set:
            try:
                await self.prune()
            except Exception as exc:  # an outage now is retried next round; never kill the loop
                self.db.outage.failed(log, exc, "retention pass failed", traceback=True)
            await self._stop.pause(self.interval.total_seconds())

    async def prune(self, now: datetime | None = None) -> dict[str, int]:
        """Delete what is older than each rule allows; returns the rows removed per table."""
        now = now or utcnow()
        removed: dict[str, int] = {}
        for rule in self.rules:
            target = pruning.table(rule.table)
            if rule.keep is None or target is None:  # kept for good, or not in this schema
                continue
            removed[rule.table] = count = await self._prune(target, rule.column, now - rule.keep)
            if count:
                log.info("retention removed %d %s rows before %s", count, rule.table, now)
        return removed

    async def _prune(self, target: Table, column: str, cutoff: datetime) -> int:
        removed = 0
        while True:  # chunks keep each transaction (and its locks) short
            async with self.db.transaction() as session:
                count = await pruning.delete_older(session, target, column, cutoff, CHUNK)
            removed += count
            if count < CHUNK or self._stop.is_set:  # stopping: the rest waits for the next start
                return removed
