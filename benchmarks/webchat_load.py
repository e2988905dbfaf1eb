"""The web chat under load: `botgate serve` as a subprocess, `--visitors` WebSocket visitors
(default 200) each sending `/help` once a second (`--interval`) for `--seconds`; the latency
from a visitor's message to the bot's answer on its socket (p50/p95/p99), the answers missing
at the end, and the service's peak RSS and CPU seconds. Prints one JSON object.

    python -m benchmarks.webchat_load [--visitors 200] [--seconds 30] [--interval 1] \
        [--database-url postgresql+asyncpg://...] [--bus-url amqp://...]
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import sys
import tempfile
import time
import uuid
from collections import deque
from pathlib import Path
from typing import Any

import aiohttp
import click

from benchmarks.report import percentile
from benchmarks.service import ServiceProcess, fresh_backends, service_tables

BOT = "bench"


def write_config(path: Path, database: str, bus: str, visitors: int) -> Path:
    path.write_text(
        f"""{service_tables(database, bus)}
[[bots]]
name = "{BOT}"
tools = ["help"]
[bots.webchat]
visitor_per_minute = 120
ip_per_minute = {visitors * 120}
"""
    )
    return path


class LoadVisitor:
    """One visitor: sends once a second, times each answer against its oldest open send."""

    def __init__(
        self, http: aiohttp.ClientSession, url: str, latencies: list[float], interval: float
    ) -> None:
        self.http, self.url, self.latencies, self.interval = http, url, latencies, interval
        self.open: deque[float] = deque()
        self.settled = asyncio.Event()  # nothing is waiting for an answer
        self.sent = 0
        self.refused = 0

    async def run(self, until: float, ready: asyncio.Barrier) -> None:
        async with self.http.ws_connect(self.url) as ws:
            await ws.send_json({"type": "hello", "token": None})
            assert (await ws.receive_json())["type"] == "welcome"
            await ready.wait()
            reader = asyncio.create_task(self._read(ws))
            await asyncio.sleep(random.random() * self.interval)  # spread the visitors out
            while time.monotonic() < until:
                self.open.append(time.perf_counter())
                await ws.send_json({"type": "message", "id": uuid.uuid4().hex, "text": "/help"})
                self.sent += 1
                await asyncio.sleep(self.interval)
            await self._settle(5.0)
            reader.cancel()

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            frame = json.loads(message.data)
            if frame["type"] == "message" and frame["from"] == "bot" and self.open:
                self.latencies.append((time.perf_counter() - self.open.popleft()) * 1000)
            elif frame["type"] == "error":
                self.refused += 1
                if self.open:
                    self.open.popleft()
            if not self.open:
                self.settled.set()

    async def _settle(self, timeout: float) -> None:
        """Wait up to `timeout` for the answers still owed."""
        if self.open:
            self.settled.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.settled.wait(), timeout)


async def run_load(
    visitors: int, seconds: float, interval: float, database_url: str, bus_url: str
) -> dict[str, Any]:
    async with fresh_backends(database_url, bus_url) as (database, bus):
        with tempfile.TemporaryDirectory(prefix="botgate-webchat-") as directory:
            config = write_config(Path(directory) / "botgate.toml", database, bus, visitors)
            service = ServiceProcess.botgate(config)
            base = await service.start()
            try:
                result = await _drive(base, visitors, seconds, interval)
            finally:
                usage = service.usage()
                await service.stop()
    scheme = database.split(":", 1)[0].split("+")[0]
    return {**result, **usage.as_dict(), "database": scheme, "bus": bus.split(":", 1)[0]}


async def _drive(base: str, visitors: int, seconds: float, interval: float) -> dict[str, Any]:
    latencies: list[float] = []
    url = f"{base.replace('http', 'ws', 1)}/chat/{BOT}/ws"
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        crowd = [LoadVisitor(http, url, latencies, interval) for _ in range(visitors)]
        ready = asyncio.Barrier(visitors + 1)
        until = time.monotonic() + seconds + 1
        tasks = [asyncio.create_task(v.run(until, ready)) for v in crowd]
        await ready.wait()
        await asyncio.gather(*tasks)
    sent = sum(v.sent for v in crowd)
    return {
        "visitors": visitors,
        "seconds": seconds,
        "interval": interval,
        "sent": sent,
        "answered": len(latencies),
        "refused": sum(v.refused for v in crowd),
        "unanswered": sum(len(v.open) for v in crowd),
        "latency_ms": {f"p{q}": round(percentile(latencies, q), 1) for q in (50, 95, 99)},
    }


@click.command()
@click.option("--visitors", default=200, show_default=True)
@click.option("--seconds", default=30.0, show_default=True)
@click.option(
    "--interval", default=1.0, show_default=True, help="seconds between a visitor's messages"
)
@click.option("--database-url", default="sqlite+aiosqlite:///unused.db", show_default=True)
@click.option("--bus-url", default="memory://", show_default=True)
def main(visitors: int, seconds: float, interval: float, database_url: str, bus_url: str) -> None:
    result = asyncio.run(run_load(visitors, seconds, interval, database_url, bus_url))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
