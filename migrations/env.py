"""Alembic environment: async engines, run through `connection.run_sync`.

`store.migrate` passes an open connection in `config.attributes["connection"]`; the alembic
CLI path builds an engine from `sqlalchemy.url`.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

import store.models  # noqa: F401  (registers every table on the metadata)
from store.base import Base
from store.models.knowledge import include_object

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters by table copy
        compare_type=True,
        include_object=include_object,  # the full-text index lives beside the models
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_with_engine(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    asyncio.run(_run_with_engine(context.config.get_main_option("sqlalchemy.url") or ""))
