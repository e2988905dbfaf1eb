"""SIGKILL between the commit and the reply: after the restart the answer owed is given, once.
Real processes, on SQLite + the in-process bus and on PostgreSQL + RabbitMQ."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from gateway import codec
from tests import test_restart as restart
from tests.support.pipeline import (
    CallbackReceiver,
    GenericClient,
    eventually,
    message,
)
from tests.test_restart import query, start_service
from tests.tools.support import CRASH_MARKER_ENV


def write_config(path: Path, database_url: str, bus_url: str, callback: str) -> Path:
    crashy = """
[core]
answer_lease = "1s"
[tools.crashy]
kind = "python"
entry = "tests.tools.support:crashy"
timeout = "120s"
"""
    return restart.write_config(path, database_url, bus_url, before_bots=crashy,
                                bot='tools = ["help", "crashy"]',
                                generic=f'callback_url = "{callback}"')


async def test_a_core_killed_between_commit_and_reply_answers_once_after_the_restart(
    backend: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database, bus = backend
    marker = tmp_path / "crashy-started"
    monkeypatch.setenv(CRASH_MARKER_ENV, str(marker))  # the service inherits it
    async with CallbackReceiver() as receiver:
        config = write_config(tmp_path / "botgate.toml", database, bus, receiver.url)
        process, url = await start_service(config)
        client = GenericClient(url)
        status, _ = await client.post(message("/crashy now", event_id="crash-1"))
        assert status == 202
        await eventually(_exists(marker), 30)  # the event is committed, its tool running
        process.send_signal(signal.SIGKILL)
        await process.wait()
        await client.close()
        assert receiver.requests == []  # killed before it could answer

        process, url = await start_service(config)
        try:
            await asyncio.wait_for(receiver.delivered.wait(), 30)
            await eventually(_settled(database), 30)
            await asyncio.sleep(0.5)  # room for a second answer, were one (wrongly) coming
        finally:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), 30)

    [(_, body)] = receiver.requests  # answered once
    assert codec.loads(body)["text"].startswith("answered now after the restart")
    assert await _count(database, "SELECT count(*) FROM messages WHERE direction = 'in'") == 1
    assert await _count(database, "SELECT count(*) FROM sent_actions") == 1
    assert await _count(database, "SELECT count(*) FROM outbox") == 0


async def _count(url: str, sql: str) -> int:
    return int((await query(url, sql))[0][0])


def _exists(path: Path) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await asyncio.to_thread(path.exists)

    return check


def _settled(url: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await _count(url, "SELECT count(*) FROM outbox") == 0

    return check
