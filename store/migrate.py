"""Programmatic Alembic: upgrade, downgrade and status against an async engine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


@dataclass(frozen=True)
class MigrationStatus:
    current: str | None
    head: str
    pending: tuple[str, ...]

    @property
    def up_to_date(self) -> bool:
        return not self.pending


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


MIGRATION_LOCK = 0x626F7467  # PostgreSQL advisory lock: one migrating process at a time


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    async with _migrating(engine) as connection:
        if connection.dialect.name == "postgresql":
            await connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK}
            )
        await connection.run_sync(lambda sync: command.upgrade(alembic_config(sync), revision))


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    async with _migrating(engine) as connection:
        await connection.run_sync(lambda sync: command.downgrade(alembic_config(sync), revision))


@asynccontextmanager
async def _migrating(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A transaction for migrations. On SQLite, foreign keys are off while it runs: altering
    a table copies it and drops the original, and that drop would cascade-delete the rows
    that refer to it. The keys are checked before the commit instead."""
    async with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            await connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            await connection.commit()
        try:
            async with connection.begin():
                yield connection
                if sqlite:
                    await _check_foreign_keys(connection)
        finally:
            if sqlite:
                await connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                await connection.commit()


async def _check_foreign_keys(connection: AsyncConnection) -> None:
    broken = (await connection.exec_driver_sql("PRAGMA foreign_key_check")).first()
    if broken is not None:
        raise RuntimeError(f"migration left a dangling reference in table {broken[0]}")


async def status(engine: AsyncEngine) -> MigrationStatus:
    async with engine.connect() as connection:
        return await connection.run_sync(_status)


@lru_cache(maxsize=1)
def _scripts() -> ScriptDirectory:
    """The migration files, read once: `/readyz` asks for the status on every probe."""
    return ScriptDirectory.from_config(alembic_config())


def _status(connection: Connection) -> MigrationStatus:
    return status_at(MigrationContext.configure(connection).get_current_revision())


def status_at(current: str | None) -> MigrationStatus:
    """The status of a database at `current` (None: an empty one)."""
    script = _scripts()
    head = script.get_current_head()
    assert head is not None
    pending = [rev.revision for rev in script.iterate_revisions(head, current)]
    return MigrationStatus(current, head, tuple(reversed(pending)))
