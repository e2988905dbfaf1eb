"""WAL checkpoints on a thread of their own: the core's commits never copy the log back into
the file themselves, the checkpointer does, and closing the database leaves no log behind."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from contextlib import closing
from pathlib import Path

from sqlalchemy import text

from gateway.config import DatabaseConfig
from store.checkpoint import WalCheckpointer
from store.database import CoreConnection, Database


def _checkpointers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "botgate-checkpoint"]


async def _write_rows(db: Database, count: int) -> None:
    async def work(connection: CoreConnection) -> None:
        await connection.execute(text("CREATE TABLE IF NOT EXISTS filler (body TEXT)"))
        await connection.execute(
            text("INSERT INTO filler (body) VALUES (:body)"),
            [{"body": "x" * 2000} for _ in range(count)],
        )

    await db.write(work)


async def test_the_core_leaves_checkpoints_to_the_checkpointer(tmp_path: Path) -> None:
    path = tmp_path / "core.db"
    db = Database(DatabaseConfig(url=f"sqlite+aiosqlite:///{path}"))
    try:
        await db.migrate()

        async def autocheckpoint(connection: CoreConnection) -> int:
            return int((await connection.execute(text("PRAGMA wal_autocheckpoint"))).scalar_one())

        assert await db.write(autocheckpoint) == 0  # the core's connection
        async with db.engine.connect() as connection:  # and the process's other connections
            assert (await connection.execute(text("PRAGMA wal_autocheckpoint"))).scalar() == 0

        await _write_rows(db, 3000)  # some 1,500 pages: past SQLite's own 1,000-page mark
        wal = path.with_name(path.name + "-wal")
        assert wal.stat().st_size > 1000 * 4096

        def copied_back() -> bool:
            with closing(sqlite3.connect(path)) as reader:
                _, log, done = reader.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            return bool(log == done)

        checkpointer = db._checkpointer
        assert checkpointer is not None
        before = checkpointer.checkpoints
        for _ in range(50):  # a pass every 0.1 s
            await asyncio.sleep(0.1)
            if checkpointer.checkpoints > before + 1:
                break
        assert checkpointer.checkpoints > before + 1
        assert copied_back()
    finally:
        await db.close()
    assert not _checkpointers()
    assert not path.with_name(path.name + "-wal").exists()  # the last close checkpointed it
    with closing(sqlite3.connect(path)) as reader:
        assert reader.execute("SELECT count(*) FROM filler").fetchone() == (3000,)


async def test_a_read_only_database_runs_no_checkpointer(tmp_path: Path) -> None:
    config = DatabaseConfig(url=f"sqlite+aiosqlite:///{tmp_path / 'core.db'}")
    writer = Database(config)
    await writer.migrate()
    await writer.close()
    async with Database.open_existing(config) as reader:
        assert reader._checkpointer is None
        assert not _checkpointers()


async def test_the_checkpointer_waits_for_the_file(tmp_path: Path) -> None:
    """Started before migrations create the file: it neither creates it nor fails."""
    path = tmp_path / "later.db"
    checkpointer = WalCheckpointer(path, interval=0.01)
    checkpointer.start()
    await asyncio.sleep(0.1)
    assert not path.exists()
    sqlite3.connect(path).close()
    for _ in range(100):
        await asyncio.sleep(0.01)
        if checkpointer.checkpoints:
            break
    checkpointer.stop()
    assert checkpointer.checkpoints > 0
