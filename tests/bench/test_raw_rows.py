"""The hand-written pipeline does botgate's work: for the same messages both leave the same
number of rows in each table, replies filed in the session of the message they answer."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from pathlib import Path

import pytest

from benchmarks.load import Budget, LoadGenerator
from benchmarks.preload import KB_PAGES, prepare_database
from benchmarks.receiver import Receiver
from benchmarks.service import BOT, KB_COLLECTION, SECRET, ServiceProcess, write_config

TABLES = ("processed_events", "platform_users", "platform_channels", "user_sessions", "messages")
EVENTS, CONVERSATIONS = 30, 5


async def drive(process: ServiceProcess, receiver: Receiver, database: Path) -> None:
    url = await process.start()
    try:
        async with LoadGenerator(
            f"{url}/webhooks/generic/{BOT}", SECRET, receiver, CONVERSATIONS
        ) as load:
            await load.closed_loop(4, Budget(events=EVENTS))
            await load.drain(10)
        await settled(database)  # the replies' message.sent events are recorded after the send
    finally:
        assert await process.stop() == 0


async def settled(database: Path) -> None:
    for _ in range(100):
        if table_counts(database)["messages"] >= 2 * EVENTS:
            return
        await asyncio.sleep(0.1)


def table_counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        counts = {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}  # noqa: S608
        counts["replies without a session"] = db.execute(
            "SELECT count(*) FROM messages WHERE direction = 'out' AND session_id IS NULL"
        ).fetchone()[0]
    return counts


@pytest.mark.parametrize("target", ["botgate", "raw"])
async def test_rows_written_for_each_message(tmp_path: Path, target: str) -> None:
    database = tmp_path / "bench.db"
    receiver = Receiver(SECRET)
    callback = await receiver.start()
    try:
        config = write_config(
            tmp_path / "botgate.toml", f"sqlite+aiosqlite:///{database}", "memory://", callback
        )
        await prepare_database(config, preload=0)
        if target == "botgate":
            process = ServiceProcess.botgate(config)
        else:
            argv = ["--database-url", f"sqlite+aiosqlite:///{database}", "--callback-url",
                    callback, "--secret", SECRET]  # fmt: skip
            process = ServiceProcess("raw", [sys.executable, "-m", "benchmarks.raw", *argv])
        await drive(process, receiver, database)
    finally:
        await receiver.stop()
    assert receiver.answered == EVENTS
    assert table_counts(database) == {
        "processed_events": 2 * EVENTS,  # each message and the message.sent of its reply
        "platform_users": CONVERSATIONS,
        "platform_channels": CONVERSATIONS,
        "user_sessions": CONVERSATIONS,
        "messages": 2 * EVENTS,  # in and out
        "replies without a session": 0,
    }


async def test_the_bench_bot_searches_a_filled_knowledge_base(tmp_path: Path) -> None:
    """The bench measures a KB-enabled bot, as users run it: its collection is imported
    before the run (the service then loads the model and keeps the collection warm)."""
    database = tmp_path / "bench.db"
    config = write_config(
        tmp_path / "botgate.toml", f"sqlite+aiosqlite:///{database}", "memory://", "http://x/cb"
    )
    await prepare_database(config, preload=0)
    assert f'kb = ["{KB_COLLECTION}"]' in config.read_text()
    with sqlite3.connect(database) as db:
        documents, passages = db.execute(
            "SELECT count(DISTINCT d.id), count(p.id) FROM kb_collections c"
            " JOIN kb_documents d ON d.collection_id = c.id"
            " JOIN kb_passages p ON p.document_id = d.id WHERE c.name = ?",
            (KB_COLLECTION,),
        ).fetchone()
    assert documents == KB_PAGES
    assert passages >= KB_PAGES
