"""Portable INSERT ... ON CONFLICT for PostgreSQL and SQLite."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert

from store.base import Base


def insert_for(session: AsyncSession, model: type[Base]) -> Any:
    """The dialect's own `insert`, which knows `on_conflict_do_*`."""
    dialect = session.get_bind().dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    return module.insert(model)


def upsert(
    session: AsyncSession, model: type[Base], conflict: Sequence[str], update: Sequence[str]
) -> Insert:
    """Insert; on a conflict on `conflict`, overwrite the `update` columns (none: skip the row).
    Add `.values(...)` for one row, or execute it with a list of rows."""
    statement = insert_for(session, model)
    if not update:
        return statement.on_conflict_do_nothing(index_elements=list(conflict))  # type: ignore[no-any-return]
    changes = {column: statement.excluded[column] for column in update}
    return statement.on_conflict_do_update(index_elements=list(conflict), set_=changes)  # type: ignore[no-any-return]
