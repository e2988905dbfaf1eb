"""Stop the service (SIGTERM) while events flow and start it again: every event that was
answered 202 is recorded exactly once and answered. PostgreSQL + RabbitMQ, real processes."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from gateway.crypto import generate_key
from tests.support.pipeline import GENERIC_SECRET, GenericClient, message

pytestmark = [pytest.mark.postgres, pytest.mark.rabbitmq]
SERVING = re.compile(r"serving on (http://\S+)")


def write_config(
    path: Path, database_url: str, bus_url: str, *, before_bots: str = "", bot: str = "",
    generic: str = "", platform: str | None = None,
) -> Path:
    """A service config with one bot, `helpdesk`, on the generic webhook unless `platform`
    gives its platform's tables instead; `before_bots` adds sections (TOML needs them before
    the `[[bots]]` array), `bot` and `generic` add keys to the bot and to its generic
    webhook."""
    if platform is None:
        platform = f'[bots.generic]\nsecret = "{GENERIC_SECRET}"\n{generic}'
    path.write_text(
        f"""
[server]
port = 0
[database]
url = "{database_url}"
[bus]
url = "{bus_url}"
[security]
secret_key = "{generate_key()}"
{before_bots}
[[bots]]
name = "helpdesk"
{bot}
{platform}
"""
    )
    return path


async def start_service(
    config: Path, role: str = "all"
) -> tuple[asyncio.subprocess.Process, str]:
    """`botgate serve` as a process; returns it and its URL once it serves."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway",
        "serve",
        "--config",
        str(config),
        "--role",
        role,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "BOTGATE_LOG_LEVEL": "INFO"},
    )
    assert process.stderr is not None
    async with asyncio.timeout(60):
        while line := (await process.stderr.readline()).decode():
            if match := SERVING.search(line):
                asyncio.create_task(_drain(process.stderr))  # noqa: RUF006
                return process, match[1]
    raise AssertionError(f"service did not start (exit {await process.wait()})")


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.readline():
        pass


async def flood(
    client: GenericClient, worker: int, accepted: list[str], stop: asyncio.Event
) -> None:
    """Send events until told to stop; keep the ids the gateway accepted (202)."""
    n = 0
    while not stop.is_set():
        event_id = f"w{worker}-{n}"
        n += 1
        try:
            status, _ = await client.post(
                message(f"hello {n}", user=f"u{worker}", event_id=event_id)
            )
        except (aiohttp.ClientError, OSError):
            await asyncio.sleep(0.05)
            continue
        if status == 202:
            accepted.append(event_id)


async def query(url: str, sql: str) -> list[Any]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return list((await connection.execute(text(sql))).all())
    finally:
        await engine.dispose()


async def test_sigterm_while_events_flow_loses_and_doubles_nothing(
    tmp_path: Path, postgres_url: str, amqp_url: str
) -> None:
    config = write_config(tmp_path / "botgate.toml", postgres_url, amqp_url)
    process, url = await start_service(config)
    client, accepted, stop = GenericClient(url), [], asyncio.Event()
    workers = [asyncio.create_task(flood(client, w, accepted, stop)) for w in range(4)]
    await asyncio.sleep(1.5)
    process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(process.wait(), 30) == 0  # a clean stop
    stop.set()
    await asyncio.gather(*workers)
    await client.close()
    assert len(accepted) > 20, "the flood should have had events accepted before the stop"

    process, url = await start_service(config)
    try:
        await _until_all_recorded(postgres_url, len(accepted))
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0

    keys = await query(
        postgres_url,
        "SELECT dedupe_key FROM processed_events WHERE dedupe_key LIKE 'generic:helpdesk:event:%'",
    )
    inbound = await query(postgres_url, "SELECT external_id FROM messages WHERE direction = 'in'")
    replies = await query(postgres_url, "SELECT count(*) FROM messages WHERE direction = 'out'")
    assert sorted(k[0].rsplit(":", 1)[1] for k in keys) == sorted(accepted)
    assert sorted(row[0] for row in inbound) == sorted(accepted)
    assert replies[0][0] == len(accepted)  # each answered once


async def _until_all_recorded(url: str, expected: int) -> None:
    sql = (
        "SELECT (SELECT count(*) FROM messages WHERE direction = 'in'),"
        " (SELECT count(*) FROM messages WHERE direction = 'out')"
    )
    async with asyncio.timeout(60):
        while True:
            [(inbound, outbound)] = await query(url, sql)
            if inbound >= expected and outbound >= expected:
                return
            await asyncio.sleep(0.2)
