"""The hand-written ceiling: the least code that does botgate's work for a generic message.

Signed webhook in (the same HMAC check) → publish the event with a broker confirm (many in
flight: each request waits for its own) → one consumer takes batches (up to `batch_size`
events or `batch_wait`) and records them in one transaction (raw_store.py), with an owed-answer
row per inbound event → publishes the reply actions; the next batch's transaction settles
them (owed rows deleted, tool-call rows written) → a sender POSTs each reply, signed, to the
callback (one chat at a time, chats concurrently), writes it to the send ledger (group
commit) before its ack, and publishes its `message.sent` event, which the consumer records as
the outbound message. The same durable writes botgate does. On `memory://` an asyncio.Queue
stands in for the broker.

`botgate bench --compare-raw` runs it as its own process:
`python -m benchmarks.raw --database-url … --bus-url … --callback-url …`.
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import hmac
import signal
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
import orjson
from aiohttp import web

from adapters.generic import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign,
    signed_headers,
)
from benchmarks.raw_store import RawEvent, Writer, open_writer

EVENTS_QUEUE, ACTIONS_QUEUE = "raw.events", "raw.actions"
RAW_QUEUES = (EVENTS_QUEUE, ACTIONS_QUEUE)
SIGNATURE_WINDOW = 300
STEP_TIMEOUT = 5.0  # seconds each shutdown step may take


@dataclass(frozen=True)
class Delivery:
    body: bytes
    ack: Callable[[], Awaitable[None]]


class Bus(Protocol):
    async def publish(self, queue: str, body: bytes) -> None:
        """Returns once the broker has the message (its confirm)."""
        ...

    async def consume(self, queue: str, inbox: asyncio.Queue[Delivery]) -> None: ...

    async def close(self) -> None: ...


async def _no_ack() -> None:
    return None


class MemoryBus:
    def __init__(self) -> None:
        self.queues: dict[str, asyncio.Queue[Delivery]] = {}

    async def publish(self, queue: str, body: bytes) -> None:
        self.queues.setdefault(queue, asyncio.Queue()).put_nowait(Delivery(body, _no_ack))

    async def consume(self, queue: str, inbox: asyncio.Queue[Delivery]) -> None:
        self.queues[queue] = inbox

    async def close(self) -> None:
        return None


class AmqpBus:
    """aio-pika: quorum queues on the default exchange, persistent messages, confirms."""

    def __init__(self, connection: Any, channel: Any, prefetch: int) -> None:
        self.connection, self.channel, self.prefetch = connection, channel, prefetch

    @classmethod
    async def connect(cls, url: str, prefetch: int) -> AmqpBus:
        import aio_pika

        connection = await aio_pika.connect(url)
        channel = await connection.channel(publisher_confirms=True)
        for name in RAW_QUEUES:
            await channel.declare_queue(name, durable=True, arguments={"x-queue-type": "quorum"})
        return cls(connection, channel, prefetch)

    async def publish(self, queue: str, body: bytes) -> None:
        import aio_pika

        message = aio_pika.Message(
            body,
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        await self.channel.default_exchange.publish(message, routing_key=queue)

    async def consume(self, queue: str, inbox: asyncio.Queue[Delivery]) -> None:
        channel = await self.connection.channel()
        await channel.set_qos(prefetch_count=self.prefetch)
        declared = await channel.get_queue(queue, ensure=False)

        async def put(message: Any) -> None:
            inbox.put_nowait(Delivery(message.body, message.ack))

        await declared.consume(put)

    async def close(self) -> None:
        await self.connection.close()


class RawPipeline:
    def __init__(self, options: argparse.Namespace, bus: Bus, writer: Writer) -> None:
        self.options, self.bus, self.writer = options, bus, writer
        self.events: asyncio.Queue[Delivery] = asyncio.Queue()
        self.actions: asyncio.Queue[Delivery] = asyncio.Queue()
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        self._lanes: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._settled: list[RawEvent] = []  # answers published, settled by the next batch
        self._sent: list[tuple[RawEvent, asyncio.Future[None]]] = []
        self._sent_arrived = asyncio.Event()

    async def start(self) -> None:
        await self.bus.consume(EVENTS_QUEUE, self.events)
        await self.bus.consume(ACTIONS_QUEUE, self.actions)
        self._spawn(self._consume_events())
        self._spawn(self._consume_actions())
        self._spawn(self._write_ledger())

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.http.close()

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- webhook ---------------------------------------------------------------------------

    async def webhook(self, request: web.Request) -> web.Response:
        body = await request.read()
        if not self._signed(request, body):
            return web.json_response({"error": "bad signature"}, status=401)
        try:
            event = self._event(orjson.loads(body))
        except (KeyError, TypeError, ValueError):
            return web.json_response({"error": "not a generic message"}, status=400)
        await self.bus.publish(EVENTS_QUEUE, orjson.dumps(event))
        return web.Response(
            status=202,
            body=orjson.dumps({"event_id": event["id"]}),
            content_type="application/json",
        )

    def _signed(self, request: web.Request, body: bytes) -> bool:
        timestamp = request.headers.get(TIMESTAMP_HEADER, "")
        signature = request.headers.get(SIGNATURE_HEADER, "")
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > SIGNATURE_WINDOW:
            return False
        return hmac.compare_digest(sign(self.options.secret, timestamp, body), signature)

    def _event(self, message: dict[str, Any]) -> RawEvent:
        event_id = str(uuid.uuid4())
        mid = message.get("event_id") or event_id
        return {
            "t": "in",
            "id": event_id,
            "key": f"generic:{self.options.bot}:event:{mid}",
            "mid": mid,
            "user": str(message["user"]["id"]),
            "user_name": message["user"].get("name"),
            "channel": str(message["channel"]["id"]),
            "channel_type": message["channel"].get("type", "direct"),
            "text": str(message["text"]),
            "at": time.time(),
        }

    # -- core ------------------------------------------------------------------------------

    async def _consume_events(self) -> None:
        while True:
            batch = await self._next_batch()
            events = [orjson.loads(d.body) for d in batch]
            settled, self._settled = self._settled, []
            actions = await self.writer.write(events, settled)
            for delivery in batch:
                await delivery.ack()
            await asyncio.gather(
                *(self.bus.publish(ACTIONS_QUEUE, orjson.dumps(a)) for a in actions)
            )
            self._settled += [{"id": a["in_reply_to"]} for a in actions]

    async def _next_batch(self) -> list[Delivery]:
        batch = [await self.events.get()]
        deadline = time.monotonic() + self.options.batch_wait
        while len(batch) < self.options.batch_size:
            if not self.events.empty():
                batch.append(self.events.get_nowait())
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self.events.get(), remaining))
            except TimeoutError:
                break
        return batch

    # -- sender ----------------------------------------------------------------------------

    async def _consume_actions(self) -> None:
        while True:
            delivery = await self.actions.get()
            self._spawn(self._send(delivery))

    async def _send(self, delivery: Delivery) -> None:
        action = orjson.loads(delivery.body)
        lane = self._lanes.setdefault(action["channel_id"], asyncio.Lock())
        async with lane:
            await self._post(action, delivery.body)
            await self._ledger(action)
        if not lane.locked():
            self._lanes.pop(action["channel_id"], None)
        await self.bus.publish(EVENTS_QUEUE, orjson.dumps(sent_event(action, self.options.bot)))
        await delivery.ack()

    async def _ledger(self, action: RawEvent) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sent.append((action, done))
        self._sent_arrived.set()
        await done

    async def _write_ledger(self) -> None:
        while True:
            await self._sent_arrived.wait()
            self._sent_arrived.clear()
            taken, self._sent = self._sent, []
            await self.writer.record_sent([action for action, _ in taken])
            for _, done in taken:
                done.set_result(None)

    async def _post(self, action: RawEvent, body: bytes) -> None:
        headers = {**signed_headers(self.options.secret, body), DELIVERY_HEADER: action["id"]}
        for attempt in range(3):
            try:
                async with self.http.post(
                    self.options.callback_url, data=body, headers=headers
                ) as response:
                    if response.status < 300:
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(0.1 * 2**attempt)


def sent_event(action: RawEvent, bot: str) -> RawEvent:
    return {
        "t": "out",
        "id": str(uuid.uuid4()),
        "key": f"generic:{bot}:sent:{action['id']}",
        "mid": action["id"],
        "channel": action["channel_id"],
        "text": action["text"],
        "in_reply_to": action["in_reply_to"],
        "at": time.time(),
    }


async def serve(options: argparse.Namespace) -> int:
    bus: Bus = (
        await AmqpBus.connect(options.bus_url, options.prefetch)
        if options.bus_url.startswith("amqp")
        else MemoryBus()
    )
    writer = await open_writer(options.database_url, options.bot)
    pipeline = RawPipeline(options, bus, writer)
    app = web.Application()
    app.router.add_post("/webhooks/generic/{bot}", pipeline.webhook)
    # as botgate's: a connection still open at SIGTERM is not waited on for 60 s
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", options.port)
    await site.start()
    await pipeline.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"raw pipeline serving on http://127.0.0.1:{port}", file=sys.stderr, flush=True)
    await _until_signal()
    for step, closing in (
        ("the HTTP server", runner.cleanup),
        ("the pipeline's tasks", pipeline.stop),
        ("the database", writer.close),
        ("the bus", bus.close),
    ):
        await _bounded(step, closing)
    return 0


async def _bounded(step: str, closing: Callable[[], Awaitable[None]]) -> None:
    """One shutdown step, given STEP_TIMEOUT: a step that hangs is named on stderr and left,
    so the bench sees a stop, not a SIGKILL after its own 30 s."""
    try:
        async with asyncio.timeout(STEP_TIMEOUT):
            await closing()
    except TimeoutError:
        print(f"raw pipeline: closing {step} took over {STEP_TIMEOUT}s; left", file=sys.stderr)


async def _until_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()


def parse_options(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.raw", description=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--bus-url", default="memory://")
    parser.add_argument("--callback-url", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--bot", default="bench")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--batch-wait", type=float, default=0.005, help="seconds")
    parser.add_argument("--prefetch", type=int, default=200)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    options = parse_options(argv)
    faulthandler.register(signal.SIGUSR2, all_threads=True)  # `kill -USR2`: every stack
    runner: Any = asyncio.run
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        pass
    return int(runner(serve(options)))


if __name__ == "__main__":
    sys.exit(main())
