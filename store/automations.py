"""Automations in the database: the configured ones mirrored into `system_automations`, and
one `automation_runs` row per firing, whose insert is the claim to run it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import AutomationRun, Bot, SystemAutomation
from store.upsert import upsert


@dataclass(frozen=True)
class AutomationRow:
    """What the configuration says about one automation."""

    name: str
    bot_id: uuid.UUID
    kind: str  # 'schedule' | 'event'
    schedule: str | None
    timezone: str | None
    trigger: str | None
    params: dict[str, Any]
    is_active: bool


@dataclass(frozen=True)
class Mirrored:
    ids: dict[str, uuid.UUID]  # automation name -> row id
    dropped_triggers: frozenset[str]  # event patterns no active automation has any more


async def mirror(session: AsyncSession, rows: Sequence[AutomationRow]) -> Mirrored:
    """Make `system_automations` agree with the configuration; rows of automations no longer
    configured are deactivated (their runs stay)."""
    before = await _active_triggers(session)
    ids = {row.name: await _upsert(session, row) for row in rows}
    retired = update(SystemAutomation).where(SystemAutomation.is_active.is_(True))
    if ids:
        retired = retired.where(SystemAutomation.name.not_in(list(ids)))
    await session.execute(retired.values(is_active=False, updated_at=_now()))
    kept = {row.trigger for row in rows if row.is_active and row.trigger is not None}
    return Mirrored(ids, frozenset(before - kept))


async def _active_triggers(session: AsyncSession) -> set[str]:
    query = select(SystemAutomation.trigger).where(
        SystemAutomation.is_active.is_(True), SystemAutomation.trigger.is_not(None)
    )
    return {trigger for trigger in (await session.execute(query)).scalars() if trigger}


async def _upsert(session: AsyncSession, row: AutomationRow) -> uuid.UUID:
    now = _now()
    values = {
        "name": row.name,
        "bot_id": row.bot_id,
        "kind": row.kind,
        "schedule": row.schedule,
        "timezone": row.timezone,
        "trigger": row.trigger,
        "params": row.params,
        "is_active": row.is_active,
        "tool_id": None,
        "updated_at": now,
    }
    changed = [key for key in values if key != "name"]
    statement = (
        upsert(session, SystemAutomation, ["name"], changed)
        .values(id=uuid.uuid4(), created_at=now, **values)
        .returning(SystemAutomation.id)
    )
    row_id: uuid.UUID = (await session.execute(statement)).scalar_one()
    return row_id


async def claim(
    session: AsyncSession,
    automation_id: uuid.UUID,
    firing: str,
    scheduled_at: datetime,
    runner: str,
    event_id: uuid.UUID | None = None,
) -> uuid.UUID | None:
    """Insert the run row of this firing: its id if this call claimed it, None if another
    process (or an earlier delivery) already had."""
    now = _now()
    row = {
        "id": uuid.uuid4(),
        "automation_id": automation_id,
        "firing": firing,
        "scheduled_at": scheduled_at,
        "event_id": event_id,
        "status": "running",
        "started_at": now,
        "result": {},
        "runner": runner,
        "created_at": now,
        "updated_at": now,
    }
    statement = upsert(session, AutomationRun, ["automation_id", "firing"], []).values(**row)
    claimed = await session.execute(statement.returning(AutomationRun.id))
    run_id: uuid.UUID | None = claimed.scalar_one_or_none()
    if run_id is not None:
        await session.execute(
            update(SystemAutomation)
            .where(SystemAutomation.id == automation_id)
            .values(last_run_at=scheduled_at, updated_at=now)
        )
    return run_id


async def finish(
    session: AsyncSession,
    run_id: uuid.UUID,
    *,
    error: str | None = None,
    result: dict[str, Any] | None = None,
) -> None:
    await session.execute(
        update(AutomationRun)
        .where(AutomationRun.id == run_id)
        .values(
            status="failed" if error is not None else "succeeded",
            error=error,
            result=result or {},
            finished_at=_now(),
            updated_at=_now(),
        )
    )


async def automations(session: AsyncSession) -> list[tuple[SystemAutomation, str]]:
    """Every mirrored automation with its bot's name, active ones first, by name."""
    query = (
        select(SystemAutomation, Bot.name)
        .join(Bot, Bot.id == SystemAutomation.bot_id)
        .order_by(SystemAutomation.is_active.desc(), SystemAutomation.name)
    )
    return [(automation, bot) for automation, bot in (await session.execute(query)).all()]


async def automation_id(session: AsyncSession, name: str) -> uuid.UUID | None:
    query = select(SystemAutomation.id).where(SystemAutomation.name == name)
    return (await session.execute(query)).scalar_one_or_none()


async def runs(
    session: AsyncSession,
    automation_ids: Sequence[uuid.UUID],
    *,
    limit: int,
    before: datetime | None = None,
) -> list[AutomationRun]:
    """The latest runs of the automations, newest first; `before` pages back in time."""
    query = (
        select(AutomationRun)
        .where(AutomationRun.automation_id.in_(list(automation_ids)))
        .order_by(AutomationRun.scheduled_at.desc(), AutomationRun.id.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(AutomationRun.scheduled_at < before)
    return list((await session.execute(query)).scalars())


async def latest_runs(
    session: AsyncSession, automation_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, AutomationRun]:
    """The most recent run of each automation that has one (a query each: the list is short
    and each is one index lookup)."""
    latest: dict[uuid.UUID, AutomationRun] = {}
    for automation in automation_ids:
        found = await runs(session, [automation], limit=1)
        if found:
            latest[automation] = found[0]
    return latest


def _now() -> datetime:
    return datetime.now(UTC)
