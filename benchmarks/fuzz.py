"""`botgate fuzz`: hostile requests against a real `botgate serve`, counted.

Starts the service as a subprocess on fresh backends, with one bot on every platform whose
platform APIs are the local emulators, sends N requests per route (`benchmarks/hostile.py`:
every webhook and the admin API) and prints one JSON object: status counts per route, the
5xx answers and the causes the service logged for them, RSS of the service at the start, at
the end and at every tenth of the run, and how many metric series /metrics holds at the end.
Exit status 1 when any answer was a 5xx or no answer at all.
"""

from __future__ import annotations

import asyncio
import random
import re
import tempfile
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import psutil

from benchmarks.hostile import ROUTES, Keys, acceptable, hostile_request, send
from benchmarks.service import ServiceProcess, _table, fresh_backends
from gateway.crypto import generate_key

BOT = "fuzz"
SECRETS = {"generic": "fuzz-generic-secret", "telegram": "fuzz-telegram-secret"}
ADMIN_TOKEN = "fuzz-admin-token"  # noqa: S105 (a token for a throwaway service)
_EXCEPTION_LINE = re.compile(r"^(\w+(?:\.\w+)*(?:Error|Exception)\w*): ?(.*)$")


@dataclass(frozen=True)
class FuzzOptions:
    requests: int
    concurrency: int
    database_url: str
    bus_url: str
    seed: int


@click.command()
@click.option("--requests", type=click.IntRange(1), default=5000, show_default=True,
              help="Requests per route.")  # fmt: skip
@click.option("--concurrency", type=click.IntRange(1), default=16, show_default=True)
@click.option("--database-url", default="sqlite+aiosqlite://", show_default=True,
              help="A server URL gets a fresh database (dropped afterwards).")  # fmt: skip
@click.option("--bus-url", default="memory://", show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
def fuzz(**options: Any) -> None:
    """Send hostile requests to every webhook and the admin API; print the answers counted."""
    import logging

    from gateway import codec

    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # the emulators' requests
    report = asyncio.run(run_fuzz(FuzzOptions(**options)))
    click.echo(codec.dumps(report).decode())
    raise SystemExit(1 if report["server_errors"] else 0)


async def run_fuzz(options: FuzzOptions) -> dict[str, Any]:
    async with _service(options) as (service, keys, log):
        host, port = _host_port(service.url)
        process = psutil.Process(service.pid)
        rss = [_mb(process)]
        counts: dict[str, Counter[int]] = {route: Counter() for route in ROUTES}
        faults = 0
        total = options.requests * len(ROUTES)
        rng = random.Random(options.seed)
        plan = [(route, rng.randrange(2**63)) for _ in range(options.requests) for route in ROUTES]
        done = 0
        queue: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
        for item in plan:
            queue.put_nowait(item)

        async def worker() -> None:
            nonlocal done, faults
            while not queue.empty():
                route, seed = queue.get_nowait()
                request = hostile_request(random.Random(seed), route, keys)
                status = (await send(host, port, request)).status
                counts[route][status] += 1
                faults += not acceptable(request, status)
                done += 1
                if done % max(total // 10, 1) == 0:
                    rss.append(_mb(process))

        await asyncio.gather(*(worker() for _ in range(options.concurrency)))
        rss.append(_mb(process))
        series = await _metric_series(host, port)
        during = len(log)  # what the service logs while stopping is reported apart
    return _report(options, counts, faults, rss, series, log[:during]) | {
        "shutdown_causes": dict(Counter(_causes(log[during:])).most_common(10))
    }


def _report(
    options: FuzzOptions, counts: dict[str, Counter[int]], faults: int, rss: list[float],
    series: int, log: list[str],
) -> dict[str, Any]:
    return {
        "requests_per_route": options.requests,
        "database": options.database_url.split("://")[0],
        "bus": options.bus_url.split("://")[0],
        "status": {route: dict(sorted(c.items())) for route, c in counts.items()},
        "server_errors": faults,
        "causes": dict(Counter(_causes(log)).most_common(10)),
        "rss_mb": {"start": rss[0], "end": rss[-1], "samples": rss},
        "metric_series": series,
    }


def _causes(log: list[str]) -> list[str]:
    """The exception lines of the tracebacks the service logged."""
    return [f"{m[1]}: {m[2][:120]}" for line in log if (m := _EXCEPTION_LINE.match(line))]


def _mb(process: psutil.Process) -> float:
    return float(round(process.memory_info().rss / 2**20, 1))


def _host_port(url: str) -> tuple[str, int]:
    host, _, port = url.removeprefix("http://").rstrip("/").partition(":")
    return host, int(port)


async def _metric_series(host: str, port: int) -> int:
    from benchmarks.hostile import RawRequest

    answer = await send(host, port, RawRequest("metrics", "get", "GET", b"/metrics", (), b""))
    return sum(1 for line in answer.body.decode().splitlines() if line and line[0] != "#")


@asynccontextmanager
async def _service(
    options: FuzzOptions,
) -> AsyncIterator[tuple[ServiceProcess, Keys, list[str]]]:
    from botgate.testing.discord import DiscordEmulator
    from botgate.testing.slack import SlackEmulator
    from botgate.testing.telegram import TelegramEmulator

    async with AsyncExitStack() as stack:
        telegram = await stack.enter_async_context(TelegramEmulator())
        slack = await stack.enter_async_context(SlackEmulator())
        discord = await stack.enter_async_context(DiscordEmulator())
        database, bus = await stack.enter_async_context(
            fresh_backends(options.database_url, options.bus_url)
        )
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fuzz-")))
        config = directory / "botgate.toml"
        config.write_text(_config(database, bus, telegram, slack, discord))
        service = ServiceProcess.botgate(config)
        log: list[str] = []
        service.on_line = log.append
        await service.start()
        stack.push_async_callback(service.stop)
        keys = Keys(BOT, SECRETS["generic"], SECRETS["telegram"], slack.signing_secret,
                    discord.private_key, ADMIN_TOKEN)
        yield service, keys, log


def _config(database: str, bus: str, telegram: Any, slack: Any, discord: Any) -> str:
    sections: dict[str, dict[str, Any]] = {
        "server": {"host": "127.0.0.1", "port": 0},
        "database": {"url": database},
        "bus": {"url": bus},
        "security": {"secret_key": generate_key(), "admin_token": ADMIN_TOKEN},
    }
    lines = [line for name, values in sections.items() for line in _table(name, values)]
    lines += ["[[bots]]", f'name = "{BOT}"', 'tools = ["help"]']
    lines += _table("bots.generic", {"secret": SECRETS["generic"]})
    lines += _table("bots.telegram", {
        "token": telegram.token, "webhook_secret": SECRETS["telegram"],
        "api_base_url": telegram.api_base_url, "username": "botgate_test_bot",
        "rate_per_chat": 1000, "rate_per_group": 100000, "rate_per_bot": 1000})
    lines += _table("bots.slack", {
        "bot_token": slack.bot_token, "signing_secret": slack.signing_secret,
        "api_base_url": slack.api_url, "send_interval": "1ms"})
    lines += _table("bots.discord", {
        "token": discord.token, "public_key": discord.public_key_hex,
        "api_base_url": discord.api_url, "gateway": False, "register_commands": False})
    return "\n".join(lines) + "\n"
