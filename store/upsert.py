"""Portable INSERT ... ON CONFLICT for ORM sessions (bot sync). The core's hot path writes
through `store.bulk` instead."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert

from store.base import Base


def table_of(model: type[Base]) -> Table:
    return model.__table__  # type: ignore[return-value]


def upsert(
    session: AsyncSession, model: type[Base], conflict: Sequence[str], update: Sequence[str]
) -> Insert:
    """Insert; on a conflict on `conflict`, overwrite the `update` columns (none: skip the row).
    Add `.values(...)` for one row, or execute it with a list of rows."""
    dialect = session.get_bind().dialect.name
    return _upsert(dialect, model, tuple(conflict), tuple(update))


@lru_cache(maxsize=256)
def _upsert(
    dialect: str, model: type[Base], conflict: tuple[str, ...], update: tuple[str, ...]
) -> Insert:
    # Statements are immutable: build each shape once, not once per batch.
    module: Any = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(table_of(model))
    if not update:
        return statement.on_conflict_do_nothing(index_elements=list(conflict))  # type: ignore[no-any-return]
    changes = {column: statement.excluded[column] for column in update}
    return statement.on_conflict_do_update(index_elements=list(conflict), set_=changes)  # type: ignore[no-any-return]
