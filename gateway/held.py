"""Held sends: a conversation's lane waiting behind a send that failed for a transient reason.

The failed send and every later one of its lane are written to `held_sends` in order and
acknowledged. A wake-up message (the first held action, with `HEADER_WAKE`) waits in one of
the bot's delay queues (`hold_queue`: a TTL, then back to the bot's action queue); when it
comes back, the action runner sends the lane's held actions in order. A send failing again
publishes the next wake-up, a longer delay each time (`[sends] retry_delays`), until
`[sends] retry_for` has passed since its first failure; then it is dead-lettered with the
reason and the lane goes on. Nothing stays unacknowledged while it waits, so RabbitMQ's
`consumer_timeout` never applies; the delay queues hold one message per held lane.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta

from gateway.bus.base import Bus, Message
from gateway.bus.topology import DEFAULT_EXCHANGE, HEADER_WAKE, hold_queue
from gateway.config import SendsConfig
from store import sending
from store.database import Database
from store.sending import Held, ToHold


class HeldSends:
    """One bot's held lanes: the rows in the database and the wake-ups in the broker."""

    def __init__(
        self, bus: Bus, db: Database, config: SendsConfig, platform: str, bot: str
    ) -> None:
        self.bus, self.db, self.config = bus, db, config
        self.platform, self.bot = platform, bot
        self.delays = sorted({delay.total_seconds() for delay in config.retry_delays})
        self.lanes: set[str] = set()  # lanes with held sends, as this process last read them

    async def declare(self) -> None:
        for delay in self.delays:
            await self.bus.declare_queue(hold_queue(self.platform, self.bot, delay))

    async def refresh(self) -> None:
        """Learn the lanes held in the database (by another process, before this one became
        the queue's active consumer). Added to those known: a lane held here meanwhile stays;
        one known but empty is dropped by `occupied`."""
        async with self.db.transaction() as db:
            self.lanes |= await sending.held_lanes(db, self.platform, self.bot)

    async def occupied(self, lane: str) -> bool:
        """Whether the lane still has held sends; if not, it is no longer held."""
        async with self.db.transaction() as db:
            found = await sending.lane_occupied(db, self.platform, self.bot, lane)
        if not found:
            self.lanes.discard(lane)
        return found

    async def hold(self, lane: str, sends: list[ToHold], now: datetime) -> bool:
        """Put these at the end of the lane; False if one of them was held already (a
        redelivery after a crash: the lane is to be sent now)."""
        async with self.db.transaction() as db:
            fresh = await sending.hold(db, self.platform, self.bot, lane, sends, now)
        self.lanes.add(lane)
        return fresh

    async def rows(self, lane: str) -> list[Held]:
        async with self.db.transaction() as db:
            return await sending.lane(db, self.platform, self.bot, lane)

    async def release(self, action_id: uuid.UUID) -> None:
        async with self.db.transaction() as db:
            await sending.release(db, action_id)

    def expired(self, row: Held, now: datetime) -> bool:
        return since(row.first_failed_at, now) >= self.config.retry_for

    async def retry_later(
        self, row: Held, now: datetime, reason: str, retry_after: float | None
    ) -> float:
        """Count the failure and publish the wake-up; the delay chosen, in seconds."""
        attempts = row.attempts + 1
        async with self.db.transaction() as db:
            await sending.failed(db, row.action_id, attempts, row.first_failed_at or now, reason)
        delay = self.delay(attempts, retry_after)
        headers = {**row.headers, HEADER_WAKE: str(attempts)}
        queue = hold_queue(self.platform, self.bot, delay).name
        await self.bus.publish(
            Message(DEFAULT_EXCHANGE, queue, row.body.encode(), str(row.action_id), headers)
        )
        return delay

    def delay(self, attempts: int, retry_after: float | None) -> float:
        """The schedule's delay for this attempt; at least the platform's `retry_after`
        (the shortest delay queue that long, or the longest there is)."""
        scheduled = self.config.retry_delays[min(attempts, len(self.config.retry_delays)) - 1]
        wanted = max(scheduled.total_seconds(), retry_after or 0.0)
        return next((d for d in self.delays if d >= wanted), self.delays[-1])

    def done(self, lane: str) -> None:
        self.lanes.discard(lane)


def wake_of(headers: Mapping[str, str]) -> int | None:
    """The attempt a wake-up message is for; None on an ordinary action."""
    value = headers.get(HEADER_WAKE)
    return int(value) if value and value.isdigit() else None


def since(first: datetime | None, now: datetime) -> timedelta:
    return now - (first or now)
