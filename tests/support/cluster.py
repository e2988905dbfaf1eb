"""botgate's roles as real OS processes on one PostgreSQL and one RabbitMQ, for the scale-out
fault tests: a config file, the processes (`botgate serve --role ...`), conversations sent
through the gateway's generic webhook, and what the database and the platform saw."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections import defaultdict
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from benchmarks.service import ServiceProcess
from gateway.crypto import generate_key
from tests.support.pipeline import GENERIC_SECRET, CallbackReceiver, GenericClient

BOT = "helpdesk"


def cluster_config(directory: Path, database_url: str, bus_url: str, callback: str) -> Path:
    """One generic bot whose callback is the test's receiver; small batches, so that a core
    killed mid-stream has a batch in hand."""
    path = directory / "botgate.toml"
    path.write_text(
        f"""
[server]
host = "127.0.0.1"
port = 0

[security]
secret_key = "{generate_key()}"

[database]
url = "{database_url}"

[bus]
url = "{bus_url}"
shards = 16

[core]
batch_size = 20

[[bots]]
name = "{BOT}"
tools = ["help"]

[bots.generic]
secret = "{GENERIC_SECRET}"
callback_url = "{callback}"
"""
    )
    return path


class Cluster:
    """The role processes; each `start` returns once the process serves its health port."""

    def __init__(self, config: Path, stack: AsyncExitStack, bus_url: str) -> None:
        self.config, self._stack, self.bus_url = config, stack, bus_url
        self.processes: dict[str, ServiceProcess] = {}
        self.complaints: list[str] = []  # warnings and errors the processes logged
        self.lines: list[str] = []  # everything they logged, for a failure's story

    async def start(self, name: str, role: str, *, migrate: bool = False) -> ServiceProcess:
        argv = ["serve", "--config", str(self.config), "--role", role]
        if not migrate:
            argv.append("--no-migrate")
        process = ServiceProcess(name, [sys.executable, "-m", "gateway", *argv])
        process.on_line = lambda line: self._heard(name, line)
        await process.start()
        self._stack.push_async_callback(process.stop)
        self.processes[name] = process
        return process

    def _heard(self, name: str, line: str) -> None:
        self.lines.append(f"{name}: {line}")
        if " WARNING " in line or " ERROR " in line or "Traceback" in line:
            self.complaints.append(f"{name}: {line}")

    async def stop(self, name: str) -> None:
        """SIGTERM: a clean shutdown."""
        await self.processes.pop(name).stop()

    async def kill(self, name: str) -> None:
        """SIGKILL: no shutdown, the broker sees the connection drop."""
        process = self.processes.pop(name)
        process.kill()
        await process.stop()


class Conversations:
    """`count` conversations of `length` messages each, every conversation sent in order
    (the next message once the gateway accepted the last), all conversations at once."""

    def __init__(self, count: int, length: int, *, mark: int | None = None) -> None:
        self.count, self.length = count, length
        self.sent = 0
        self.mark = mark
        self.passed_mark = asyncio.Event()  # set once `mark` messages were sent
        self.event_ids: dict[str, tuple[str, int]] = {}  # event id -> (channel, n)

    def channel(self, k: int) -> str:
        return f"conv-{k:03d}"

    async def send(self, gateway_url: str, *, run: str) -> None:
        client = GenericClient(gateway_url, BOT)
        try:
            await asyncio.gather(*(self._one(client, k, run) for k in range(self.count)))
        finally:
            await client.close()

    async def _one(self, client: GenericClient, k: int, run: str) -> None:
        channel = self.channel(k)
        for n in range(self.length):
            payload = {
                "event_id": f"{run}-{channel}-{n:04d}",
                "user": {"id": f"user-{k}"},
                "channel": {"id": channel, "type": "direct"},
                "text": f"message {n}",
            }
            status, body = await client.post(payload)
            assert status == 202, (status, body)
            self.event_ids[body["event_id"]] = (channel, n)
            self.sent += 1
            if self.mark is not None and self.sent >= self.mark:
                self.passed_mark.set()


async def inbound_orders(database_url: str) -> dict[str, list[str]]:
    """Each channel's inbound message ids in the order they were recorded (ids are UUIDv7)."""
    engine = create_async_engine(database_url)
    query = sa.text(
        "SELECT c.external_id, m.external_id FROM messages m "
        "JOIN platform_channels c ON c.id = m.platform_channel_id "
        "WHERE m.direction = 'in' ORDER BY m.id"
    )
    orders: dict[str, list[str]] = defaultdict(list)
    try:
        async with engine.connect() as connection:
            for channel, external_id in (await connection.execute(query)).all():
                orders[channel].append(external_id)
    finally:
        await engine.dispose()
    return dict(orders)


async def recording_story(database_url: str, channel: str) -> str:
    """A channel's inbound messages in recorded (id) order, each with the time its batch
    claimed it in the ledger: for a failure's story (a batch has one time)."""
    engine = create_async_engine(database_url)
    query = sa.text(
        "SELECT m.external_id, m.id, p.processed_at FROM messages m "
        "JOIN platform_channels c ON c.id = m.platform_channel_id "
        "LEFT JOIN processed_events p ON p.event_id = m.event_id "
        "WHERE m.direction = 'in' AND c.external_id = :channel ORDER BY m.id"
    )
    try:
        async with engine.connect() as connection:
            rows = (await connection.execute(query, {"channel": channel})).all()
    finally:
        await engine.dispose()
    return "\n".join(f"{external} {row_id} claimed {at}" for external, row_id, at in rows)


async def count_messages(database_url: str) -> int:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            return int(
                (await connection.execute(sa.text("SELECT count(*) FROM messages"))).scalar_one()
            )
    finally:
        await engine.dispose()


def replies(receiver: CallbackReceiver, sent: Conversations) -> dict[str, list[int]]:
    """Each channel's replies as the numbers of the messages they answer, in arrival order."""
    by_channel: dict[str, list[int]] = defaultdict(list)
    for _, body in list(receiver.requests):
        action: dict[str, Any] = json.loads(body)
        channel, n = sent.event_ids[str(uuid.UUID(action["in_reply_to"]))]
        assert action["channel_id"] == channel
        by_channel[channel].append(n)
    return dict(by_channel)


async def diagnose(database_url: str, bus_url: str) -> str:
    """What is still owed and what waits in the queues, for a failure message."""
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            owed = (
                await connection.execute(
                    sa.text(
                        "SELECT owner, count(*), min(claimed_until) < now() FROM outbox "
                        "GROUP BY owner"
                    )
                )
            ).all()
            sent = (await connection.execute(sa.text("SELECT count(*) FROM sent_actions"))).all()
    finally:
        await engine.dispose()
    vhost = bus_url.rsplit("/", 1)[-1]
    listing = await asyncio.create_subprocess_exec(
        "rabbitmqctl", "-q", "list_queues", "-p", vhost, "name", "messages_ready",
        "messages_unacknowledged", "consumers",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    queues, _ = await listing.communicate()
    return f"owed {owed}, sent_actions {sent}\n{queues.decode()}"
