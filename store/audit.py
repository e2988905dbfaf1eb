"""The audit trail: who did what to which target, when, and how it ended."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from store.models import AuditLog
from store.pages import newest


def record(
    session: AsyncSession,
    actor: str,
    action: str,
    target: tuple[str, str] | None = None,
    *,
    outcome: str = "ok",
    details: dict[str, Any] | None = None,
) -> None:
    """Add one row to the caller's transaction: it commits (or not) with the change itself."""
    target_type, target_id = target or (None, None)
    session.add(
        AuditLog(
            actor=actor,
            action=action,
            target_type=target_type,
            target_id=target_id,
            outcome=outcome,
            details=details or {},
            created_at=datetime.now(UTC),
        )
    )


async def page(
    session: AsyncSession,
    limit: int,
    before: uuid.UUID | None = None,
    *,
    action: str | None = None,
    actor: str | None = None,
) -> Sequence[AuditLog]:
    """Newest first; `before` is the last id of the previous page (ids are time-ordered)."""
    return await newest(session, AuditLog, limit, before, action=action, actor=actor)


def as_json(row: AuditLog) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "at": row.created_at.isoformat(),
        "actor": row.actor,
        "action": row.action,
        "target_type": row.target_type,
        "target_id": row.target_id,
        "outcome": row.outcome,
        "details": row.details,
    }
