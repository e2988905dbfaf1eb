"""Migrations go up, down and up again on SQLite and PostgreSQL, and match the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from gateway.config import DatabaseConfig
from store import migrate
from store.base import Base
from store.database import Database
from store.models.knowledge import UNMAPPED_TABLE_PREFIX, include_object

CONTRACT_TABLES = {
    "organizations",
    "bots",
    "bot_configuration",
    "bot_memories",
    "platform_bots",
    "platform_users",
    "platform_channels",
    "users",
    "user_sessions",
    "user_login_tokens",
    "user_preferences",
    "messages",
    "clicks",
    "processed_events",
    "kb_collections",
    "kb_documents",
    "kb_passages",
    "user_kb_associations",
    "basic_tools",
    "session_tool_associations",
    "system_automations",
    "audit_log",
    "api_tokens",
    "dead_letters",
}


def _tables(connection: Connection) -> set[str]:
    names = set(inspect(connection).get_table_names()) - {"alembic_version"}
    return {name for name in names if not name.startswith(UNMAPPED_TABLE_PREFIX)}


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"include_object": include_object})
    return list(compare_metadata(context, Base.metadata))


async def test_up_down_up(database_url: str) -> None:
    db = Database(DatabaseConfig(url=database_url))
    try:
        pending = (await migrate.status(db.engine)).pending
        assert pending[:2] == ("0001", "0002")
        await migrate.upgrade(db.engine)
        async with db.engine.connect() as connection:
            assert await connection.run_sync(_tables) >= CONTRACT_TABLES | {"automation_runs"}
            assert (
                await connection.run_sync(_diff) == []
            )  # the migration builds what the models say
        await migrate.downgrade(db.engine, "base")
        async with db.engine.connect() as connection:
            assert await connection.run_sync(_tables) == set()
        await migrate.upgrade(db.engine)
        status = await migrate.status(db.engine)
        assert status.up_to_date
        assert status.current == status.head
    finally:
        await db.close()
