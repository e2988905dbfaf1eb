"""`botgate fuzz`: hostile requests against a real `botgate serve`, counted.

Starts the service as a subprocess on fresh backends, with one bot on every platform whose
platform APIs are the local emulators, sends N requests per route (`benchmarks/hostile.py`:
every webhook and the admin API), optionally at a capped rate, and prints one JSON object:
status counts per route, the 5xx answers and the causes the service logged for them (and how
many tracebacks it logged), RSS of the service at the start, at the end and every
`--sample-every` seconds, how many metric series /metrics holds at the end, and whether every
event a webhook accepted was recorded: once the core has caught up, the events the webhooks
published against the rows the core wrote for them (plus the duplicates it skipped) and the
dead letters. Exit status 1 when any answer was a 5xx or no answer at all, or an accepted
event was not recorded.
"""

from __future__ import annotations

import asyncio
import random
import re
import tempfile
import time
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
from gateway.bus.topology import EVENTS_EXCHANGE
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
    rate: float = 0.0  # requests per second in all, 0: as fast as the service answers
    sample_every: float = 10.0  # seconds between RSS samples


@click.command()
@click.option("--requests", type=click.IntRange(1), default=5000, show_default=True,
              help="Requests per route.")  # fmt: skip
@click.option("--concurrency", type=click.IntRange(1), default=16, show_default=True)
@click.option("--database-url", default="sqlite+aiosqlite://", show_default=True,
              help="A server URL gets a fresh database (dropped afterwards).")  # fmt: skip
@click.option("--bus-url", default="memory://", show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--rate", type=click.FloatRange(0), default=0.0, show_default=True,
              help="Requests per second over all routes; 0 for as fast as answered.")  # fmt: skip
@click.option("--sample-every", type=click.FloatRange(0.1), default=10.0, show_default=True,
              help="Seconds between RSS samples of the service.")  # fmt: skip
def fuzz(**options: Any) -> None:
    """Send hostile requests to every webhook and the admin API; print the answers counted."""
    import logging

    from gateway import codec

    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # the emulators' requests
    report = asyncio.run(run_fuzz(FuzzOptions(**options)))
    click.echo(codec.dumps(report).decode())
    raise SystemExit(1 if report["server_errors"] or report["accepted_unrecorded"] else 0)


async def run_fuzz(options: FuzzOptions) -> dict[str, Any]:
    async with _service(options) as (service, keys, log, database):
        host, port = _host_port(service.url)
        rss = _RssSampler(psutil.Process(service.pid), options.sample_every)
        counts: dict[str, Counter[int]] = {route: Counter() for route in ROUTES}
        faults = 0
        rng = random.Random(options.seed)
        plan = [(route, rng.randrange(2**63)) for _ in range(options.requests) for route in ROUTES]
        queue: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
        for item in plan:
            queue.put_nowait(item)
        pace = _Pace(options.rate)

        async def worker() -> None:
            nonlocal faults
            while not queue.empty():
                route, seed = queue.get_nowait()
                await pace.turn()
                request = hostile_request(random.Random(seed), route, keys)
                status = (await send(host, port, request)).status
                counts[route][status] += 1
                faults += not acceptable(request, status)

        sampling = asyncio.create_task(rss.run())
        await asyncio.gather(*(worker() for _ in range(options.concurrency)))
        sampling.cancel()
        rss.sample()
        recorded = await _recorded(host, port, database)
        series = await _metric_series(host, port)
        during = len(log)  # what the service logs while stopping is reported apart
    return (
        _report(options, counts, faults, rss.samples, series, log[:during])
        | recorded
        | {"shutdown_causes": dict(Counter(_causes(log[during:])).most_common(10))}
    )


class _Pace:
    """At most `rate` turns a second over all workers (none when the rate is 0)."""

    def __init__(self, rate: float) -> None:
        self.interval = 1 / rate if rate else 0.0
        self.next = time.monotonic()

    async def turn(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        slot, self.next = max(self.next, now), max(self.next, now) + self.interval
        await asyncio.sleep(slot - now)


class _RssSampler:
    """The service's RSS in MB every `every` seconds, as (seconds since start, MB)."""

    def __init__(self, process: psutil.Process, every: float) -> None:
        self.process, self.every = process, every
        self.started = time.monotonic()
        self.samples: list[tuple[float, float]] = []
        self.sample()

    def sample(self) -> None:
        mb = float(round(self.process.memory_info().rss / 2**20, 1))
        self.samples.append((round(time.monotonic() - self.started, 1), mb))

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            self.sample()


def _report(
    options: FuzzOptions,
    counts: dict[str, Counter[int]],
    faults: int,
    rss: list[tuple[float, float]],
    series: int,
    log: list[str],
) -> dict[str, Any]:
    return {
        "requests_per_route": options.requests,
        "database": options.database_url.split("://")[0],
        "bus": options.bus_url.split("://")[0],
        "status": {route: dict(sorted(c.items())) for route, c in counts.items()},
        "server_errors": faults,
        "causes": dict(Counter(_causes(log)).most_common(10)),
        "tracebacks": sum(1 for line in log if line.startswith("Traceback")),
        "warnings": sum(1 for line in log if " WARNING " in line or '"WARNING"' in line),
        "rss_mb": {"start": rss[0][1], "end": rss[-1][1], "samples": rss},
        "metric_series": series,
    }


def _causes(log: list[str]) -> list[str]:
    """The exception lines of the tracebacks the service logged."""
    return [f"{m[1]}: {m[2][:120]}" for line in log if (m := _EXCEPTION_LINE.match(line))]


def _host_port(url: str) -> tuple[str, int]:
    host, _, port = url.removeprefix("http://").rstrip("/").partition(":")
    return host, int(port)


async def _metrics(host: str, port: int) -> list[str]:
    from benchmarks.hostile import RawRequest

    answer = await send(host, port, RawRequest("metrics", "get", "GET", b"/metrics", (), b""))
    return [line for line in answer.body.decode().splitlines() if line and line[0] != "#"]


async def _metric_series(host: str, port: int) -> int:
    return len(await _metrics(host, port))


def _metric_sum(lines: list[str], name: str, labels: str = "") -> int:
    """The sum of `name`'s series (those whose labels contain `labels`)."""
    return sum(
        int(float(line.rsplit(" ", 1)[1]))
        for line in lines
        if line.startswith(name + "{") and labels in line
    )


async def _recorded(host: str, port: int, database: str, timeout: float = 120) -> dict[str, Any]:
    """Once the core has caught up (or `timeout` passed): the events the webhooks published,
    the rows the core wrote for them, the duplicates it skipped, the dead letters, and what of
    the accepted is unaccounted for."""
    deadline = time.monotonic() + timeout
    while True:
        lines = await _metrics(host, port)
        published = _metric_sum(lines, "botgate_events_published_total")
        duplicates = _metric_sum(lines, "botgate_events_processed_total", 'outcome="duplicate"')
        rows, dead = await _rows(database)
        if rows + duplicates >= published or time.monotonic() > deadline:
            break
        await asyncio.sleep(1)
    dead_events = sum(n for (exchange, _), n in dead.items() if exchange == EVENTS_EXCHANGE)
    return {
        "accepted_events": published,
        "recorded_events": rows,
        "duplicate_events": duplicates,
        "dead_letters": {f"{exchange}: {reason}": n for (exchange, reason), n in dead.items()},
        "accepted_unrecorded": max(published - rows - duplicates, 0) + dead_events,
    }


async def _rows(database: str) -> tuple[int, Counter[tuple[str, str]]]:
    """The processed events that came from a webhook, and the dead letters by exchange and
    reason (an action the admin API took and the platform refused is one too), in the
    service's database."""
    from sqlalchemy import func, select
    from sqlalchemy.ext.asyncio import create_async_engine

    from store.models import DeadLetter, ProcessedEvent

    url = database.replace("postgresql://", "postgresql+asyncpg://", 1)
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            inbound = ProcessedEvent.event_type != "message.sent"
            rows = await connection.scalar(select(func.count()).where(inbound))
            letters = await connection.execute(
                select(DeadLetter.origin_exchange, DeadLetter.reason)
            )
            dead = Counter((exchange, reason[:120]) for exchange, reason in letters)
    finally:
        await engine.dispose()
    return int(rows or 0), dead


@asynccontextmanager
async def _service(
    options: FuzzOptions,
) -> AsyncIterator[tuple[ServiceProcess, Keys, list[str], str]]:
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
        keys = Keys(
            BOT,
            SECRETS["generic"],
            SECRETS["telegram"],
            slack.signing_secret,
            discord.private_key,
            ADMIN_TOKEN,
        )
        yield service, keys, log, database


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
    lines += _table(
        "bots.telegram",
        {
            "token": telegram.token,
            "webhook_secret": SECRETS["telegram"],
            "api_base_url": telegram.api_base_url,
            "username": "botgate_test_bot",
            "rate_per_chat": 1000,
            "rate_per_group": 100000,
            "rate_per_bot": 1000,
        },
    )
    lines += _table(
        "bots.slack",
        {
            "bot_token": slack.bot_token,
            "signing_secret": slack.signing_secret,
            "api_base_url": slack.api_url,
            "send_interval": "1ms",
        },
    )
    lines += _table(
        "bots.discord",
        {
            "token": discord.token,
            "public_key": discord.public_key_hex,
            "api_base_url": discord.api_url,
            "gateway": False,
            "register_commands": False,
        },
    )
    return "\n".join(lines) + "\n"
