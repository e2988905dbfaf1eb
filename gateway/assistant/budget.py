"""Spending limits: requests per minute per person (in this process: the answers of one
conversation are given by one core at a time) and tokens per UTC day per bot (in the database,
shared by every core)."""

from __future__ import annotations

import time
import uuid
from collections import deque
from datetime import UTC, date, datetime

from store import assistant as usage
from store.database import Database

WINDOW = 60.0
MAX_PEOPLE = 100_000  # windows kept; the oldest are dropped beyond


class RequestRate:
    """A sliding minute of request times per person."""

    def __init__(self, per_minute: int | None) -> None:
        self.per_minute = per_minute
        self._seen: dict[str, deque[float]] = {}

    def take(self, person: str) -> bool:
        """True (and counted) when the person may ask again now."""
        if self.per_minute is None:
            return True
        now = time.monotonic()
        times = self._seen.pop(person, None) or deque()
        while times and times[0] <= now - WINDOW:
            times.popleft()
        self._seen[person] = times  # re-inserted: dict order is least recently used first
        if len(times) >= self.per_minute:
            return False
        times.append(now)
        if len(self._seen) > MAX_PEOPLE:
            del self._seen[next(iter(self._seen))]
        return True


class DailyTokens:
    def __init__(self, db: Database, per_day: int | None) -> None:
        self.db, self.per_day = db, per_day

    async def left(self, bot_id: uuid.UUID) -> bool:
        if self.per_day is None:
            return True
        async with self.db.transaction() as session:
            spent = await usage.tokens_spent(session, bot_id, _today())
        return spent < self.per_day

    async def spend(self, bot_id: uuid.UUID, tokens_in: int, tokens_out: int) -> None:
        async with self.db.transaction() as session:
            await usage.spend(session, bot_id, _today(), tokens_in, tokens_out)


def _today() -> date:
    return datetime.now(UTC).date()
