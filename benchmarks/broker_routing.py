"""What RabbitMQ itself spends per message on three layouts of the core's queues.

- `one`: one quorum queue, published to through the default exchange (the raw pipeline's).
- `many`: sixteen quorum queues, each message to one of them through the default exchange.
- `headers`: botgate's: a topic exchange, bound with `#` to a headers exchange that routes
  on `botgate-shard` to sixteen quorum queues.

Each layout gets a fresh vhost; MESSAGES persistent messages are published with confirms,
IN_FLIGHT at a time, and consumed and acked. The broker's CPU seconds (its `beam.smp`
process, on this machine) over the run, per message, are the figure: the pipelines'
benchmark cannot tell the broker's share from the service's.

    python -m benchmarks.broker_routing [--url amqp://guest:guest@127.0.0.1:5672/]
        [--messages 8000] [--in-flight 8] [--repeat 2]
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
import zlib
from collections.abc import Awaitable, Callable

import aio_pika
import psutil
from aiormq.abc import FieldValue

from benchmarks.service import rabbitmqctl, with_path

LAYOUTS = ("one", "many", "headers")
SHARDS = 16
BODY = b'{"text": "' + b"a" * 500 + b'"}'  # about an event's size


def broker_cpu_seconds() -> float:
    for process in psutil.process_iter(["name"]):
        if "beam" in (process.info["name"] or ""):
            times = process.cpu_times()
            return float(times.user + times.system)
    raise SystemExit("no beam.smp process here: run this on the broker's machine")


async def measure(url: str, layout: str, messages: int, in_flight: int) -> tuple[float, float]:
    """The broker's CPU milliseconds per message for one layout, on a vhost of its own, and
    the messages per second."""
    vhost = f"botgate-routing-{uuid.uuid4().hex[:8]}"
    rabbitmqctl("add_vhost", vhost)
    try:
        rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        connection = await aio_pika.connect(with_path(url, "/" + vhost))
        try:
            publish = await _declare(connection, layout)
            received = await _consume_all(connection, layout, messages)
            before, started = broker_cpu_seconds(), time.perf_counter()
            for start in range(0, messages, in_flight):
                await asyncio.gather(*(publish(n) for n in range(start, start + in_flight)))
            await asyncio.wait_for(received.wait(), 120)
            seconds = time.perf_counter() - started
            return 1000 * (broker_cpu_seconds() - before) / messages, messages / seconds
        finally:
            await connection.close()
    finally:
        rabbitmqctl("delete_vhost", vhost)


async def _declare(
    connection: aio_pika.abc.AbstractConnection, layout: str
) -> Callable[[int], Awaitable[None]]:
    """The layout's queues and exchanges, and how a message is published to them."""
    channel = await connection.channel(publisher_confirms=True)
    count = 1 if layout == "one" else SHARDS
    queues = [
        await channel.declare_queue(f"core.{i}", durable=True, arguments={"x-queue-type": "quorum"})
        for i in range(count)
    ]
    events = await channel.declare_exchange("events", aio_pika.ExchangeType.TOPIC, durable=True)
    shards = await channel.declare_exchange("shards", aio_pika.ExchangeType.HEADERS, durable=True)
    await shards.bind(events, "#")
    for i, queue in enumerate(queues):
        await queue.bind(shards, arguments={"x-match": "all", "botgate-shard": f"{i}/{count}"})

    async def publish(n: int) -> None:
        shard = zlib.crc32(f"conversation-{n % 100}".encode()) % count
        headers: dict[str, FieldValue] = {"traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01"}
        if layout == "headers":
            headers["botgate-shard"] = f"{shard}/{count}"
            message = aio_pika.Message(BODY, headers=headers, delivery_mode=2)
            await events.publish(message, routing_key="generic.bench.message.created")
        else:
            message = aio_pika.Message(BODY, headers=headers, delivery_mode=2)
            await channel.default_exchange.publish(message, routing_key=f"core.{shard}")

    return publish


async def _consume_all(
    connection: aio_pika.abc.AbstractConnection, layout: str, messages: int
) -> asyncio.Event:
    channel = await connection.channel()
    await channel.set_qos(prefetch_count=200)
    received, count = asyncio.Event(), 0

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        nonlocal count
        await message.ack()
        count += 1
        if count == messages:
            received.set()

    for i in range(1 if layout == "one" else SHARDS):
        queue = await channel.get_queue(f"core.{i}")
        await queue.consume(on_message)
    return received


async def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.broker_routing")
    parser.add_argument("--url", default="amqp://guest:guest@127.0.0.1:5672/")
    parser.add_argument("--messages", type=int, default=8000)
    parser.add_argument("--in-flight", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=2)
    options = parser.parse_args()
    for _ in range(options.repeat):
        for layout in LAYOUTS:
            per_message, rate = await measure(
                options.url, layout, options.messages, options.in_flight
            )
            print(f"{layout:8s} broker {per_message:.3f} ms/message ({rate:.0f} messages/s)")


if __name__ == "__main__":
    asyncio.run(main())
