"""The action runner: sends each bot's actions through its adapter and reports what was sent.

One chat's actions go out one at a time, in order; different chats go concurrently. A
transient failure is retried in place (so order holds); a permanent one is dead-lettered and
recorded in `audit_log`. Each accepted `message.send` becomes a `message.sent` event.

Exactly once: what the platform accepted is written to the send ledger (`sent_actions`, by
action id) before the action is acknowledged. An action delivered again (a redelivery, or an
answer given again after a core crash, marked as a replay) is looked up there first and not
sent twice. What stays at-least-once: a crash after the platform accepted a send and before
its ledger entry was written (milliseconds), where Discord's `nonce` still guards the send.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from opentelemetry.trace import Span, SpanKind

from adapters.base import Adapter, SendResult
from gateway import tracing
from gateway.bus.base import Bus, Delivery, Failure, Handler, Subscription
from gateway.bus.processing import dead_letter_now
from gateway.bus.topology import (
    HEADER_REPLAY,
    HEADER_TRACEPARENT,
    actions_queue,
    adapter_queue,
)
from gateway.config import Settings
from gateway.errors import BusUnavailable, PermanentError, TransientError
from gateway.events import (
    Action,
    ChannelRef,
    Event,
    MessageBody,
    conversation_key,
    decode_action,
    utcnow,
)
from gateway.metrics import Metrics
from gateway.pacing import StreamPacer
from gateway.publisher import publish_event
from gateway.tracing import current_traceparent
from store import audit, outbox
from store.database import Database

log = logging.getLogger(__name__)
MAX_SEND_ATTEMPTS = 8


class _GaveUp(Exception):
    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.reason)
        self.failure = failure


class ActionRunner:
    def __init__(
        self,
        bus: Bus,
        db: Database,
        settings: Settings,
        adapters: Mapping[tuple[str, str], Adapter],
        metrics: Metrics,
    ) -> None:
        self.bus, self.db, self.settings, self.metrics = bus, db, settings, metrics
        self.adapters = adapters
        self._lanes: dict[tuple[str, str, str], asyncio.Lock] = {}
        self._lane_users: dict[tuple[str, str, str], int] = {}
        self._subscriptions: list[Subscription] = []
        self.retry_base = 1.0  # seconds of back-off before the second attempt
        self._stopping = False
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self.ledger = SendLedger(db)
        self.pacer = StreamPacer(self._show)

    async def start(self) -> None:
        await self.ledger.start()
        for (platform, bot), adapter in self.adapters.items():
            await self.bus.declare_queue(adapter_queue(platform, bot))
            handler = self._handler_for(adapter)
            queue = actions_queue(platform, bot)
            self._subscriptions.append(
                await self.bus.consume(queue, handler, prefetch=self.settings.bus.prefetch)
            )

    async def stop(self) -> None:
        """Take no new action, let the sends under way finish (a send cut short would be sent
        again after the restart), then hand back the rest."""
        self._stopping = True
        grace = self.settings.server.shutdown_grace.total_seconds()
        try:
            await asyncio.wait_for(self._idle.wait(), grace)
        except TimeoutError:
            log.warning(
                "%d sends still under way after the grace; handing them back", self._in_flight
            )
        for subscription in self._subscriptions:
            await subscription.cancel()
        self._subscriptions.clear()
        await self.pacer.stop()
        await self.ledger.stop()

    def _handler_for(self, adapter: Adapter) -> Handler:
        async def handle(delivery: Delivery) -> None:
            if self._stopping:
                await delivery.reject(requeue=True)
                return
            self._in_flight += 1
            self._idle.clear()
            try:
                await self.handle(adapter, delivery)
            finally:
                self._in_flight -= 1
                if not self._in_flight:
                    self._idle.set()

        return handle

    async def handle(self, adapter: Adapter, delivery: Delivery) -> None:
        try:
            action = decode_action(delivery.message.body, delivery.message.model)
        except PermanentError as exc:
            await dead_letter_now(delivery, Failure(str(exc), type(exc).__name__), self.metrics)
            return
        incoming = delivery.message.headers.get(HEADER_TRACEPARENT)
        if action.snapshot:  # a passing state of an answer being written: not traced
            current_traceparent.set(incoming)
            await self._snapshot(adapter, delivery, action)
            return
        with tracing.span(f"send {action.platform}", parent=incoming, kind=SpanKind.CLIENT) as span:
            if span is not None:
                span.set_attributes(_attributes(action))
            # the platform call and `message.sent` carry the send's span, or the action's context
            traceparent = tracing.traceparent_of(span) or incoming
            current_traceparent.set(traceparent)  # this handler runs in a task of its own
            await self._deliver(adapter, delivery, action, traceparent, span)

    async def _deliver(
        self,
        adapter: Adapter,
        delivery: Delivery,
        action: Action,
        traceparent: str | None,
        span: Span | None,
    ) -> None:
        """Send once: an action delivered again (a redelivery, a replay) is looked up in the
        send ledger first; what the platform accepted is in the ledger before the ack."""
        if action.stream is not None:
            await self.pacer.close(action.stream.id)
        async with self._lane(action):
            again = delivery.attempt > 1 or HEADER_REPLAY in delivery.message.headers
            result = await self.ledger.sent_before(action.id) if again else None
            if result is None:
                try:
                    result = await self._send(adapter, action)
                except _GaveUp as exc:
                    tracing.fail(span, exc)
                    await self._failed(delivery, action, exc.failure)
                    return
                await self.ledger.record(action, result)  # before the ack: never sent twice
                self.metrics.actions.labels(action.platform, "sent").inc()
            else:
                self.metrics.actions.labels(action.platform, "duplicate").inc()
            if action.stream is not None:
                self.pacer.finished(action.stream.id)
        if action.type == "message.send":
            await self._report_sent(action, result, traceparent)
        await delivery.ack()

    async def _snapshot(self, adapter: Adapter, delivery: Delivery, action: Action) -> None:
        """A passing state of an answer being written: handed to the pacer, which shows the
        newest of its stream when its turn comes; never retried, never recorded."""
        shown = self.pacer.offer(adapter, action)
        self.metrics.actions.labels(action.platform, "snapshot" if shown else "late").inc()
        await delivery.ack()

    async def _show(self, adapter: Adapter, action: Action) -> None:
        async with self._lane(action):
            try:
                await adapter.send(action)
            except TransientError:
                self.metrics.actions.labels(action.platform, "slowed").inc()
                raise
        self.metrics.actions.labels(action.platform, "shown").inc()

    @asynccontextmanager
    async def _lane(self, action: Action) -> AsyncIterator[None]:
        key = (action.platform, action.bot, action.channel_id)
        lock = self._lanes.get(key) or self._lanes.setdefault(key, asyncio.Lock())
        # Counted, not `lock.locked()`: just after a release the lock is unlocked while the
        # next waiter has yet to take it, and a new lock then would let a later send overtake.
        self._lane_users[key] = self._lane_users.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._lane_users[key] -= 1
            if not self._lane_users[key]:
                del self._lane_users[key]
                if self._lanes.get(key) is lock:
                    del self._lanes[key]

    async def _send(self, adapter: Adapter, action: Action) -> SendResult:
        for attempt in range(1, MAX_SEND_ATTEMPTS + 1):
            try:
                return await adapter.send(action)
            except PermanentError as exc:  # e.g. the platform refused it: its words are the reason
                failure = Failure(str(exc), type(exc).__name__, exc.attempts or attempt)
                raise _GaveUp(failure) from exc
            except TransientError as exc:
                if attempt == MAX_SEND_ATTEMPTS:
                    reason = f"gave up after {attempt} attempts: {exc}"
                    raise _GaveUp(Failure(reason, type(exc).__name__, attempt)) from exc
                delay = exc.retry_after or min(self.retry_base * 2 ** (attempt - 1), 60)
                self.metrics.retries.labels("send").inc()
                log.warning("send %s failed (%s); retrying in %.1fs", action.id, exc, delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def _failed(self, delivery: Delivery, action: Action, failure: Failure) -> None:
        self.metrics.actions.labels(action.platform, "failed").inc()
        details = {
            "platform": action.platform,
            "bot": action.bot,
            "channel_id": action.channel_id,
            "type": action.type,
            "reason": failure.reason,
        }
        async with self.db.transaction() as db:
            audit.record(
                db, "system", "delivery.failed", ("action", str(action.id)), details=details
            )
        await dead_letter_now(delivery, failure, self.metrics)

    async def _report_sent(
        self, action: Action, result: SendResult, traceparent: str | None
    ) -> None:
        """Publish `message.sent`; hold on through a bus outage, since the platform has it."""
        event = sent_event(action, result)
        delay = 0.5
        while True:
            try:
                await publish_event(self.bus, event, traceparent, shards=self.settings.bus.shards)
                return
            except BusUnavailable as exc:
                log.warning("cannot report sent %s yet: %s", action.id, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30)


def _attributes(action: Action) -> dict[str, str]:
    return {
        "botgate.action.id": str(action.id),
        "botgate.action.type": action.type,
        "botgate.platform": action.platform,
        "botgate.bot": action.bot,
    }


def sent_event(action: Action, result: SendResult) -> Event:
    now = utcnow()
    message_id = result.message_id or str(action.id)
    return Event(
        type="message.sent",
        platform=action.platform,
        bot=action.bot,
        dedupe_key=f"{action.platform}:{action.bot}:sent:{action.id}",
        occurred_at=now,
        received_at=now,
        conversation_key=conversation_key(
            action.platform, action.bot, action.channel_id, action.thread_id
        ),
        channel=ChannelRef(id=action.channel_id),
        thread_id=action.thread_id,
        message=MessageBody(
            id=message_id,
            text=result.text if result.text is not None else action.text or "",
            reply_to_id=action.reply_to_id,
            in_reply_to=action.in_reply_to,
            citations=action.citations,
        ),
        raw=dict(result.raw),
    )


class SendLedger:
    """Group commit of the send ledger: sends finishing together share one transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._rows: list[tuple[dict[str, object], asyncio.Future[None]]] = []
        self._arrived = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._writer = asyncio.create_task(self._write_forever(), name="send-ledger")

    async def stop(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
        for _, waiter in self._rows:
            waiter.cancel()

    async def sent_before(self, action_id: uuid.UUID) -> SendResult | None:
        """What the platform said when this action was sent before; None if it was not."""
        async with self.db.begin() as db:
            found = await outbox.already_sent(db, [action_id])
        if action_id not in found:
            return None
        return SendResult(message_id=found[action_id])

    async def record(self, action: Action, result: SendResult) -> None:
        row: dict[str, object] = {
            "id": action.id,
            "platform": action.platform,
            "bot": action.bot,
            "channel_id": action.channel_id,
            "message_id": result.message_id,
            "sent_at": utcnow(),
        }
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._rows.append((row, waiter))
        self._arrived.set()
        await waiter

    async def _write_forever(self) -> None:
        delay = 0.5
        while True:
            await self._arrived.wait()
            self._arrived.clear()
            taken, self._rows = self._rows, []
            try:
                async with self.db.begin() as db:
                    await outbox.record_sent(db, [row for row, _ in taken])
            except Exception as exc:  # the sends happened: hold their acks and try again
                log.warning("cannot write the send ledger yet (%s); retrying", exc)
                self._rows = taken + self._rows
                self._arrived.set()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30)
                continue
            delay = 0.5
            for _, waiter in taken:
                if not waiter.done():
                    waiter.set_result(None)
