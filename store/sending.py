"""Held sends (a conversation's lane waiting behind a send being retried) and leases.

Plain values in and out; the action runner and the lease keeper decide what they mean.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import HeldSend, Lease


@dataclass(frozen=True)
class Held:
    action_id: uuid.UUID
    lane: str
    body: str
    headers: dict[str, str]
    attempts: int
    first_failed_at: datetime | None


@dataclass(frozen=True)
class ToHold:
    action_id: uuid.UUID
    body: str
    headers: dict[str, str]


_HELD = (
    HeldSend.action_id,
    HeldSend.lane,
    HeldSend.body,
    HeldSend.headers,
    HeldSend.attempts,
    HeldSend.first_failed_at,
)


async def held_lanes(db: AsyncSession, platform: str, bot: str) -> set[str]:
    query = select(HeldSend.lane).where(HeldSend.platform == platform, HeldSend.bot == bot)
    return set((await db.execute(query.distinct())).scalars())


async def hold(
    db: AsyncSession, platform: str, bot: str, lane: str, sends: Sequence[ToHold], now: datetime
) -> bool:
    """Put `sends` at the end of the lane, in this order; one already held stays where it is.
    False if any was held already."""
    held = select(HeldSend.action_id).where(HeldSend.action_id.in_([s.action_id for s in sends]))
    known = set((await db.execute(held)).scalars())
    last = select(func.max(HeldSend.position)).where(
        HeldSend.platform == platform, HeldSend.bot == bot, HeldSend.lane == lane
    )
    position = int((await db.execute(last)).scalar() or 0)
    rows: list[dict[str, Any]] = []
    for send in sends:
        if send.action_id in known:
            continue
        position += 1
        rows.append(
            {
                "action_id": send.action_id,
                "platform": platform,
                "bot": bot,
                "lane": lane,
                "position": position,
                "body": send.body,
                "headers": send.headers,
                "attempts": 0,
                "created_at": now,
            }
        )
    if rows:
        await db.execute(insert(HeldSend), rows)
    return not known


async def lane(db: AsyncSession, platform: str, bot: str, lane: str) -> list[Held]:
    query = (
        select(*_HELD)
        .where(HeldSend.platform == platform, HeldSend.bot == bot, HeldSend.lane == lane)
        .order_by(HeldSend.position)
    )
    return [Held(*row) for row in (await db.execute(query)).all()]


async def lane_occupied(db: AsyncSession, platform: str, bot: str, lane: str) -> bool:
    query = select(HeldSend.id).where(
        HeldSend.platform == platform, HeldSend.bot == bot, HeldSend.lane == lane
    )
    return (await db.execute(query.limit(1))).first() is not None


async def failed(
    db: AsyncSession, action_id: uuid.UUID, attempts: int, first_failed_at: datetime, reason: str
) -> None:
    await db.execute(
        update(HeldSend)
        .where(HeldSend.action_id == action_id)
        .values(attempts=attempts, first_failed_at=first_failed_at, reason=reason)
    )


async def release(db: AsyncSession, action_id: uuid.UUID) -> None:
    await db.execute(delete(HeldSend).where(HeldSend.action_id == action_id))


# -- leases ----------------------------------------------------------------------------------


async def take_lease(
    db: AsyncSession, name: str, holder: str, now: datetime, until: datetime
) -> str:
    """Take or renew the lease if it is free, expired, or already ours; who holds it now."""
    taken = await db.execute(
        update(Lease)
        .where(Lease.name == name, or_(Lease.holder == holder, Lease.expires_at < now))
        .values(holder=holder, expires_at=until)
    )
    if taken.rowcount:  # type: ignore[attr-defined]
        return holder
    found = await db.get(Lease, name)
    if found is not None:
        return found.holder
    db.add(Lease(name=name, holder=holder, acquired_at=now, expires_at=until))
    await db.flush()
    return holder


async def drop_lease(db: AsyncSession, name: str, holder: str) -> None:
    await db.execute(delete(Lease).where(Lease.name == name, Lease.holder == holder))


async def leases(db: AsyncSession, prefix: str = "") -> list[tuple[str, str, datetime]]:
    """(name, holder, expires at) of the leases whose name starts with `prefix`."""
    query = select(Lease.name, Lease.holder, Lease.expires_at).where(Lease.name.startswith(prefix))
    return [(name, holder, until) for name, holder, until in (await db.execute(query)).all()]
