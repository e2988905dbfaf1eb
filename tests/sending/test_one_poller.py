"""One Telegram poller per bot across adapter processes: two real `botgate serve` processes
on PostgreSQL + RabbitMQ poll one bot of the emulator. One holds the lease and polls; the
emulator sees no `409 Conflict`, and every update is recorded once and answered once. The
holder is SIGKILLed (between sends); the other takes the poller over within the lease's
expiry."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from botgate.testing.telegram import TelegramEmulator
from tests.support.pipeline import eventually
from tests.test_restart import query, start_service
from tests.test_restart import write_config as service_config

pytestmark = [pytest.mark.postgres, pytest.mark.rabbitmq]
LEASE = "telegram.poll.helpdesk"
TTL = 3.0


def write_config(path: Path, database: str, bus: str, telegram: TelegramEmulator) -> Path:
    return service_config(
        path,
        database,
        bus,
        before_bots=f'[adapters]\nlease_ttl = "{TTL}s"\nlease_retry_interval = "200ms"',
        bot='tools = ["help"]',
        platform=f"""[bots.telegram]
token = "{telegram.token}"
api_base_url = "{telegram.api_base_url}"
mode = "polling"
poll_timeout = "1s"
rate_per_chat = 1000
rate_per_bot = 1000""",
    )


async def holds(url: str) -> bool:
    async with aiohttp.ClientSession() as session, session.get(url + "/healthz") as response:
        body: dict[str, Any] = await response.json()
    return bool(body.get("leases", {}).get("held", {}).get(LEASE))


async def inbound(database: str) -> tuple[int, int]:
    """(messages recorded, distinct platform ids among them)."""
    sql = (
        "SELECT count(*), count(DISTINCT (platform_channel_id, external_id)) FROM messages"
        " WHERE direction = 'in'"
    )
    [(count, distinct)] = await query(database, sql)
    return int(count), int(distinct)


async def _ledgered(database: str, count: int) -> bool:
    [(sent,)] = await query(database, "SELECT count(*) FROM sent_actions")
    return int(sent) >= count


async def test_one_poller_per_bot_and_a_takeover_when_it_dies(
    postgres_url: str, amqp_url: str, telegram_emulator: TelegramEmulator, tmp_path: Path
) -> None:
    telegram = telegram_emulator
    config = write_config(tmp_path / "botgate.toml", postgres_url, amqp_url, telegram)
    # One process runs every role, the other only adapters: the cores' side of scaling out
    # is tested on its own.
    first, first_url = await start_service(config, "adapters")
    await eventually(lambda: holds(first_url), 30)
    second, second_url = await start_service(config, "all")
    processes = [first, second]
    try:
        await asyncio.sleep(1.0)  # a second poller, were it polling, would conflict by now
        assert not await holds(second_url)
        for n in range(10):
            await telegram.inject_message(200 + n % 5, f"before {n}")
        await eventually(lambda: _recorded(postgres_url, 10), 30)
        # Killed between sends: a kill after Telegram accepted a reply and before its ledger
        # row is committed may send it twice (docs/scaling-sends.md), which is not what this
        # test is about; so the kill waits for the ledger.
        await eventually(lambda: _answered(telegram, 10), 30)
        await eventually(lambda: _ledgered(postgres_url, 10), 30)

        first.send_signal(signal.SIGKILL)
        await first.wait()
        killed_at = asyncio.get_running_loop().time()
        for n in range(10):
            await telegram.inject_message(200 + n % 5, f"after {n}")
        await eventually(lambda: _recorded(postgres_url, 20), 30)
        took = asyncio.get_running_loop().time() - killed_at
        assert await holds(second_url)
        await eventually(lambda: _answered(telegram, 20), 30)
        await asyncio.sleep(1.0)  # room for a second answer, were one (wrongly) coming
    finally:
        for process in processes:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
                await asyncio.wait_for(process.wait(), 30)
    assert await inbound(postgres_url) == (20, 20)  # every update recorded once
    assert sum(len(telegram.sent(200 + c)) for c in range(5)) == 20  # and answered once
    assert telegram.poll_conflicts == 0
    assert took < 30
    print(f"takeover after SIGKILL: {took:.1f}s (lease_ttl {TTL}s)")


async def _recorded(database: str, count: int) -> bool:
    return (await inbound(database))[0] >= count


async def _answered(telegram: TelegramEmulator, count: int) -> bool:
    return sum(len(telegram.sent(200 + c)) for c in range(5)) >= count
