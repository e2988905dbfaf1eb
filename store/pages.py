"""Keyset pages over tables with time-ordered (UUIDv7) ids: newest first, from a cursor."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.base import Base

Row = TypeVar("Row", bound=Base)


async def newest(
    session: AsyncSession,
    model: type[Row],
    limit: int,
    before: uuid.UUID | None = None,
    **equal: Any,
) -> Sequence[Row]:
    """At most `limit` rows, newest first, older than `before` (the last id of the page
    before), where each named column equals its value (a None value filters nothing)."""
    table: Any = model
    query = select(model).order_by(table.id.desc()).limit(limit)
    if before is not None:
        query = query.where(table.id < before)
    for column, value in equal.items():
        if value is not None:
            query = query.where(getattr(table, column) == value)
    return (await session.execute(query)).scalars().all()
