"""The dead-letter store: what `botgate.dead` received, and the state of its re-drives.

A letter's status goes dead -> queued (a re-drive was asked for) -> redriving (a process
claimed it and publishes it) -> redriven. Only a `dead` letter can be queued, and a process
publishes only the letters it claimed, so a letter re-driven twice is published once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import DeadLetter
from store.pages import newest
from store.upsert import table_of

STATUSES = ("dead", "queued", "redriving", "redriven")


@dataclass(frozen=True)
class Arrival:
    """A dead letter as it arrived from the bus."""

    message_id: str
    origin_exchange: str
    origin_queue: str
    routing_key: str
    reason: str
    error: str | None
    attempts: int
    headers: dict[str, str]
    content_type: str
    body: bytes
    at: datetime
    platform: str | None = None
    bot: str | None = None
    user_key: str | None = None


async def keep(session: AsyncSession, arrival: Arrival) -> None:
    """Store it; the same message dying in the same queue again updates its row."""
    values = {
        "id": uuid.uuid4(),
        "message_id": arrival.message_id,
        "origin_exchange": arrival.origin_exchange,
        "origin_queue": arrival.origin_queue,
        "routing_key": arrival.routing_key,
        "reason": arrival.reason,
        "error": arrival.error,
        "attempts": arrival.attempts,
        "headers": arrival.headers,
        "content_type": arrival.content_type,
        "body": arrival.body,
        "platform": arrival.platform,
        "bot": arrival.bot,
        "user_key": arrival.user_key,
        "status": "dead",
        "times_dead": 1,
        "times_redriven": 0,
        "last_dead_at": arrival.at,
        "created_at": arrival.at,
        "updated_at": arrival.at,
    }
    dialect: Any = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    insert = dialect.insert(table_of(DeadLetter)).values(values)
    again = {
        name: insert.excluded[name]
        for name in ("reason", "error", "attempts", "headers", "body", "last_dead_at", "updated_at")
    }
    statement = insert.on_conflict_do_update(
        index_elements=["message_id", "origin_queue"],
        set_={**again, "status": "dead", "times_dead": DeadLetter.times_dead + 1},
    )
    await session.execute(statement)


async def page(
    session: AsyncSession,
    limit: int,
    before: uuid.UUID | None = None,
    status: str | None = None,
) -> Sequence[DeadLetter]:
    """Newest first; `before` is the last id of the previous page."""
    return await newest(session, DeadLetter, limit, before, status=status)


async def get(session: AsyncSession, letter_id: uuid.UUID) -> DeadLetter | None:
    return await session.get(DeadLetter, letter_id)


async def missing(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    """The ids that name no dead letter."""
    found = set(
        (await session.execute(select(DeadLetter.id).where(DeadLetter.id.in_(ids)))).scalars()
    )
    return [letter_id for letter_id in ids if letter_id not in found]


async def queue(
    session: AsyncSession,
    ids: Sequence[uuid.UUID] | None,
    limit: int,
    by: str,
    now: datetime,
) -> list[uuid.UUID]:
    """Ask for a re-drive of the named letters (None: every dead one, oldest first), at most
    `limit`. Only `dead` letters are queued; returns those that were."""
    chosen = select(DeadLetter.id).where(DeadLetter.status == "dead")
    if ids is not None:
        chosen = chosen.where(DeadLetter.id.in_(ids))
    chosen = chosen.order_by(DeadLetter.id).limit(limit)
    wanted = list((await session.execute(chosen)).scalars())
    if not wanted:
        return []
    statement = (
        update(DeadLetter)
        .where(DeadLetter.id.in_(wanted), DeadLetter.status == "dead")
        .values(status="queued", redrive_requested_by=by, updated_at=now)
        .returning(DeadLetter.id)
    )
    return sorted((await session.execute(statement)).scalars())


async def claim(
    session: AsyncSession, limit: int, now: datetime, stale: timedelta
) -> list[DeadLetter]:
    """Take queued letters (and those a process claimed and never finished within `stale`)
    for publishing. A letter is claimed by one process only: the update is conditional."""
    abandoned = (DeadLetter.status == "redriving") & (DeadLetter.claimed_at < now - stale)
    candidates = select(DeadLetter.id).where((DeadLetter.status == "queued") | abandoned)
    ids = list((await session.execute(candidates.order_by(DeadLetter.id).limit(limit))).scalars())
    claimed = []
    for letter_id in ids:
        result = await session.execute(
            update(DeadLetter)
            .where(DeadLetter.id == letter_id)
            .where((DeadLetter.status == "queued") | abandoned)
            .values(status="redriving", claimed_at=now, updated_at=now)
        )
        if _rowcount(result) == 1:
            claimed.append(letter_id)
    if not claimed:
        return []
    query = select(DeadLetter).where(DeadLetter.id.in_(claimed)).order_by(DeadLetter.id)
    return list((await session.execute(query)).scalars())


async def settle(
    session: AsyncSession, letter_id: uuid.UUID, published: bool, now: datetime
) -> None:
    """After publishing (or failing to): redriven, or queued again for the next try."""
    values: dict[str, Any] = {"updated_at": now, "claimed_at": None}
    if published:
        values |= {
            "status": "redriven",
            "redriven_at": now,
            "times_redriven": DeadLetter.times_redriven + 1,
        }
    else:
        values["status"] = "queued"
    await session.execute(
        update(DeadLetter)
        .where(DeadLetter.id == letter_id, DeadLetter.status == "redriving")
        .values(**values)
    )


def _rowcount(result: Any) -> int:
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


def as_json(row: DeadLetter, *, body: bool = False) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "id": str(row.id),
        "status": row.status,
        "reason": row.reason,
        "error": row.error,
        "attempts": row.attempts,
        "message_id": row.message_id,
        "origin_exchange": row.origin_exchange,
        "origin_queue": row.origin_queue,
        "routing_key": row.routing_key,
        "platform": row.platform,
        "bot": row.bot,
        "first_dead_at": row.created_at.isoformat(),
        "last_dead_at": row.last_dead_at.isoformat(),
        "times_dead": row.times_dead,
        "times_redriven": row.times_redriven,
        "redriven_at": row.redriven_at.isoformat() if row.redriven_at else None,
    }
    if body:
        shown["headers"] = row.headers
        shown["content_type"] = row.content_type
        shown["body"] = row.body.decode(errors="replace")
    return shown
