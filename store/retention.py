"""Deleting rows older than a cutoff, a chunk at a time, from any table with an `id` key."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Table, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.base import Base


def table(name: str) -> Table | None:
    """The table of that name, if this schema has it."""
    return Base.metadata.tables.get(name)


async def delete_older(
    session: AsyncSession, target: Table, column: str, cutoff: datetime, limit: int
) -> int:
    """Delete up to `limit` rows whose `column` is before `cutoff`; returns how many went."""
    ids = select(target.c.id).where(target.c[column] < cutoff).limit(limit)
    statement = delete(target).where(target.c.id.in_(ids))
    result = cast(CursorResult[Any], await session.execute(statement))
    return result.rowcount
