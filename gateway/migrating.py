"""`botgate migrate up|down REV|status`. `status` only reads: it creates no file or table."""

from __future__ import annotations

from collections.abc import Callable

from gateway.config import DatabaseConfig
from gateway.errors import DatabaseMissing
from store import migrate as migrations
from store.database import Database


async def run_migrate(
    config: DatabaseConfig, direction: str, revision: str | None, say: Callable[[str], None]
) -> int:
    if direction == "status":
        return await _status(config, say)
    db = Database(config)
    try:
        await db.ping()
        if direction == "up":
            await migrations.upgrade(db.engine, revision or "head")
        else:
            await migrations.downgrade(db.engine, revision or "")
        _report(db, await db.migration_status(), say)
    finally:
        await db.close()
    return 0


async def _status(config: DatabaseConfig, say: Callable[[str], None]) -> int:
    try:
        async with Database.open_existing(config, migrated=False) as db:
            _report(db, await db.migration_status(), say)
    except DatabaseMissing as missing:
        status = migrations.status_at(None)
        say(f"{missing}; at base, head {status.head}, pending: {', '.join(status.pending)}")
    return 0


def _report(db: Database, status: migrations.MigrationStatus, say: Callable[[str], None]) -> None:
    pending = ", ".join(status.pending) or "none"
    say(
        f"database {db.url_for_display}: at {status.current or 'base'}, "
        f"head {status.head}, pending: {pending}"
    )
