"""Set-based statements for PostgreSQL and SQLite: portable INSERT ... ON CONFLICT, and
executemany UPDATE by primary key.

They work on the Core tables, not through the ORM's unit of work: the hot path writes plain
rows, and the ORM's per-row bookkeeping would cost more than the database does."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Table, bindparam, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.dml import Insert, Update

from store.base import Base

# The core writes through a Core connection; bot sync and the admin API use ORM sessions.
Executor = AsyncConnection | AsyncSession


def table_of(model: type[Base]) -> Table:
    return model.__table__  # type: ignore[return-value]


def dialect_of(executor: Executor) -> str:
    if isinstance(executor, AsyncConnection):
        return executor.dialect.name
    return executor.get_bind().dialect.name


def insert_for(executor: Executor, model: type[Base]) -> Any:
    """The dialect's own `insert` of the model's table, which knows `on_conflict_do_*`."""
    module: Any = postgresql if dialect_of(executor) == "postgresql" else sqlite
    return module.insert(table_of(model))


def upsert(
    executor: Executor, model: type[Base], conflict: Sequence[str], update: Sequence[str]
) -> Insert:
    """Insert; on a conflict on `conflict`, overwrite the `update` columns (none: skip the row).
    Add `.values(...)` for one row, or execute it with a list of rows."""
    return _upsert(dialect_of(executor), model, tuple(conflict), tuple(update))


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


async def update_many(
    executor: Executor, model: type[Base], rows: Sequence[dict[str, Any]]
) -> None:
    """UPDATE each row's columns where `id` matches (one executemany). Rows share their keys."""
    if not rows:
        return
    columns = tuple(key for key in rows[0] if key != "id")
    params = [{"row_id": row["id"], **{f"new_{c}": row[c] for c in columns}} for row in rows]
    await executor.execute(_update_by_id(model, columns), params)


@lru_cache(maxsize=256)
def _update_by_id(model: type[Base], columns: tuple[str, ...]) -> Update:
    table = table_of(model)
    return (
        update(table)
        .where(table.c.id == bindparam("row_id"))
        .values({column: bindparam(f"new_{column}") for column in columns})
    )
