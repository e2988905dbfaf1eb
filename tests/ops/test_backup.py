"""Backup and restore as docs/operations.md describes them: a backup restored into a fresh
database serves the old history and records new messages."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from gateway.app import Runtime
from tests.ops.support import call
from tests.support import services
from tests.support.pipeline import (
    GenericClient,
    count_rows,
    eventually,
    make_settings,
    message,
    running,
)


async def _talk(runtime: Runtime, text: str, expected: int) -> None:
    client = GenericClient(runtime.http.url)
    await client.post(message(text), wait=True)
    await client.close()

    async def recorded() -> bool:
        return await count_rows(runtime, "messages") == expected

    await eventually(recorded)


async def _run(*args: str) -> None:
    process = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    _out, err = await process.communicate()
    assert process.returncode == 0, (args, err.decode())


def _sqlite_backup(source: Path, target: Path) -> None:
    """The procedure of docs/operations.md: SQLite's online backup, safe while serving."""
    with sqlite3.connect(source) as live, sqlite3.connect(target) as copy:
        live.backup(copy)
    copy.close()
    live.close()


async def _restored_url(database_url: str, tmp_path: Path, created: list[tuple[str, str]]) -> str:
    if database_url.startswith("sqlite"):
        source = Path(database_url.split("///", 1)[1])
        target = tmp_path / "restored.db"
        await asyncio.to_thread(_sqlite_backup, source, target)
        return f"sqlite+aiosqlite:///{target}"
    dsn = database_url.replace("postgresql+asyncpg://", "postgresql://")
    dump = tmp_path / "botgate.dump"
    await _run("pg_dump", "--format=custom", "--no-owner", f"--file={dump}", dsn)
    admin_dsn, fresh = await services.create_postgres_database()
    fresh_dsn = fresh.replace("postgresql+asyncpg://", "postgresql://")
    await _run("pg_restore", "--no-owner", "--exit-on-error", f"--dbname={fresh_dsn}", str(dump))
    created.append((admin_dsn, fresh))
    return fresh


async def test_a_restored_backup_serves_history_and_new_messages(
    database_url: str, tmp_path: Path
) -> None:
    created: list[tuple[str, str]] = []
    settings = make_settings(database_url, "memory://backup-before")
    async with running(settings) as runtime:
        await _talk(runtime, "before the backup", 2)
        restored = await _restored_url(database_url, tmp_path, created)
        await _talk(runtime, "after the backup", 4)  # not in the backup
    try:
        async with running(make_settings(restored, "memory://backup-after")) as runtime:
            status, body = await call(runtime, "GET", "/messages?limit=10")
            assert status == 200
            texts = [m["text"] for m in body["messages"] if m["direction"] == "in"]
            assert texts == ["before the backup"]
            await _talk(runtime, "served from the restore", 4)
            status, body = await call(runtime, "GET", "/messages?limit=10")
            assert [m["text"] for m in body["messages"] if m["direction"] == "in"] == [
                "served from the restore",
                "before the backup",
            ]
    finally:
        for admin_dsn, url in created:
            await services.drop_postgres_database(admin_dsn, url)
