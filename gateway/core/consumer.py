"""The core consumer: takes events from its shards of `botgate.core.<i>` (see shards.py) in
batches, records each batch in one transaction (with the answers it owes), acknowledges it
once committed, and hands the owed answers to the answerer, which runs the bots' tools after
the commit.

- Order: a conversation's events are in one shard queue, which one core at a time consumes; a
  batch is recorded in delivery order, so they keep theirs, and its owed answers are queued in
  that order. A shard is handed over only after the batch in hand is committed and
  acknowledged (`_turn`); what the inbox holds of it is left unsettled, for the broker to
  return in order when the shard's consumer closes.
- A database outage holds the batch and retries it with back-off (nothing is acked or lost);
  on stop, held messages go back to the queue.
- Any other failure splits the batch so that one bad event cannot hold up the rest; that
  event is handed back and, after `bus.max_attempts`, dead-lettered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from dataclasses import dataclass

from opentelemetry.trace import Span, SpanKind

from gateway import codec, tracing
from gateway.bus.base import Bus, Delivery, Failure, Message
from gateway.bus.processing import dead_letter_now, give_up_or_retry
from gateway.bus.topology import (
    CORE_QUEUE,
    DEAD_QUEUE,
    DEFAULT_EXCHANGE,
    HEADER_TRACEPARENT,
)
from gateway.config import Settings
from gateway.core.answers import Answerer, Owed, reply_message
from gateway.core.recorder import Arrival, Outcome, Recorder
from gateway.core.shards import Rerouter, ShardHolder
from gateway.errors import BusUnavailable, PermanentError
from gateway.events import Event, decode_event
from gateway.metrics import Metrics
from gateway.outage import is_database_outage
from store.database import Database

log = logging.getLogger(__name__)

is_outage = is_database_outage


@dataclass
class _Item:
    delivery: Delivery
    event: Event
    traceparent: str | None = None  # what its answers carry: its own span's context if traced
    span: Span | None = None  # "process botgate.core", from its batch until it is settled


class CoreConsumer:
    def __init__(
        self,
        bus: Bus,
        db: Database,
        settings: Settings,
        bot_ids: dict[str, uuid.UUID],
        metrics: Metrics,
        answers: Answerer,
    ) -> None:
        self.bus, self.db, self.settings, self.metrics = bus, db, settings, metrics
        self.answers = answers
        self.recorder = Recorder(settings, bot_ids, answers.owner)
        # Deliveries in arrival order: a plain deque, as the loop waits on the two events
        # below and never on the inbox itself (an asyncio.Queue's bookkeeping cost more).
        self._inbox: deque[Delivery] = deque()
        self._arrived = asyncio.Event()  # set by each delivery into the inbox
        self._filled = asyncio.Event()  # set when a full batch is waiting in the inbox
        # Held while a batch is taken from the inbox, recorded and settled: a shard is handed
        # over between two batches, never during one (see `_between_batches`).
        self._turn = asyncio.Lock()
        self.shards = ShardHolder(
            bus,
            settings.bus.shards,
            intake=self._inbox_put,
            reroute=Rerouter(bus, settings.bus.shards, metrics),
            prefetch=settings.bus.prefetch,
            on_claim=answers.forget_takeovers,
            between_batches=self._between_batches,
        )
        self._loop: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        self._loop = asyncio.create_task(self._run(), name="core-consumer")
        try:
            await self.shards.start()
        except BaseException:
            self._loop.cancel()
            raise

    async def stop(self) -> None:
        """Stop intake, let the batch in hand finish, then close the shards' consumers: the
        broker returns what was never started, in order, ahead of newer messages. (Not
        rejected one by one: RabbitMQ 3.10's quorum queues put a rejected message behind
        those waiting, docs/scaling.md.)"""
        self._stopping.set()
        grace = self.settings.server.shutdown_grace.total_seconds()
        await self.shards.pause(grace)
        try:
            if self._loop is not None:
                await asyncio.wait_for(self._loop, grace)
        except TimeoutError:
            # wait_for cancelled the work; its deliveries return to the queue with the bus
            log.warning("core batch did not finish within the shutdown grace; handing it back")
        await self.shards.stop()
        while self._inbox:
            await self._inbox.popleft().reject(requeue=True)  # a no-op: the channels closed

    def _inbox_put(self, delivery: Delivery) -> None:
        self._inbox.append(delivery)  # unbounded: the bus's prefetch bounds it
        self._arrived.set()
        if len(self._inbox) >= self.settings.core.batch_size:
            self._filled.set()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            await self.answers.room()  # too many answers owed: let the queue hold the rest
            async with self._turn:  # a hand-over waits for this (at most an idle spell's wait)
                batch = await self._next_batch()
                if batch:
                    await self.process(batch)

    async def _next_batch(self) -> list[Delivery]:
        """Group commit: what queued up while the last batch was written goes next, at once.
        Only after an idle spell does the core linger (`batch_wait`, or until a full batch
        is waiting) so that a burst is written together rather than event by event. A
        delivery whose shard is being handed over (or was lost) is left unsettled: closing
        its consumer returns it to the queue, in order."""
        size = self.settings.core.batch_size
        if not self._inbox:
            self._arrived.clear()
            if not await _set_within(self._arrived, 0.2):  # 0.2 s: look at _stopping again
                return []
            if len(self._inbox) < size:
                self._filled.clear()
                await _set_within(self._filled, self.settings.core.batch_wait.total_seconds())
        batch: list[Delivery] = []
        while len(batch) < size and self._inbox:
            delivery = self._inbox.popleft()
            if self.shards.still_held(delivery):
                batch.append(delivery)
        return batch

    async def _between_batches(self) -> None:
        """Returns once no batch is in hand: one under way is committed and acknowledged."""
        async with self._turn:
            pass

    async def process(self, batch: list[Delivery]) -> None:
        items = [item for item in [await self._decode(d) for d in batch] if item is not None]
        if not items:
            return
        self.metrics.batch_size.observe(len(items))
        started = time.perf_counter()
        batch_span = _trace(items) if tracing.enabled() else None
        outcomes = await self._record_held(items)
        tracing.finish(batch_span)
        if outcomes is None:
            await self._one_by_one(items)
        elif outcomes:  # empty: the batch was already settled (handed back or failed)
            await self._finish(items, outcomes)
        self.metrics.processing_seconds.observe(time.perf_counter() - started)

    async def _decode(self, delivery: Delivery) -> _Item | None:
        try:
            event = decode_event(delivery.message.body, delivery.message.model)
            if event.bot not in self.recorder.bot_ids:
                raise PermanentError(
                    f"unknown bot {event.bot!r}: not in this gateway's configuration"
                )
        except PermanentError as exc:
            self.metrics.failed.labels("invalid").inc()
            await dead_letter_now(delivery, Failure(str(exc), type(exc).__name__), self.metrics)
            await self._dead(delivery, "invalid", "it is not a valid event for this gateway")
            return None
        return _Item(delivery, event, delivery.message.headers.get(HEADER_TRACEPARENT))

    async def _record_held(self, items: list[_Item]) -> list[Outcome] | None:
        """Record the batch, holding it through database outages; None if it must be split."""
        delay = 0.5
        while True:
            try:
                return await self._record(items)
            except Exception as exc:
                self.recorder.forget_cached()  # what the failed attempt cached was rolled back
                if not is_outage(exc) or self._stopping.is_set():
                    return await self._give_up(items, exc)
                self.db.outage.failed(
                    log, exc, "database unavailable; holding %d events", len(items)
                )
                with contextlib.suppress(TimeoutError):  # a stop cuts the pause short
                    await asyncio.wait_for(self._stopping.wait(), delay)
                delay = min(delay * 2, 30)

    async def _give_up(self, items: list[_Item], exc: Exception) -> list[Outcome] | None:
        """Settle a batch that failed: [] when settled here, None when it must be split."""
        if self._stopping.is_set():
            await self._hand_back(items, f"stopping while the batch failed ({type(exc).__name__})")
            return []
        if len(items) > 1:
            log.warning("batch of %d failed (%s); retrying one by one", len(items), exc)
            return None
        await self._failed(items[0], exc)
        return []

    async def _record(self, items: list[_Item]) -> list[Outcome]:
        arrivals = [_arrival(item) for item in items]
        settle = self.answers.take_settled()  # answers published since: settled in this one
        try:
            outcomes = await self.db.write(self.recorder.record, arrivals, settle)
        except BaseException as exc:
            self.answers.give_back(settle, suspect=not is_outage(exc))
            raise
        self.answers.written(settle)
        return outcomes

    async def _one_by_one(self, items: list[_Item]) -> None:
        """After a failed batch. An event that was not recorded holds back the later ones
        of its conversation: they go back to the queue behind it, so order holds."""
        behind: set[str] = set()
        for item in items:
            key = item.event.conversation_key
            if key in behind:
                await self._hand_back([item], "an earlier event of its conversation failed")
                continue
            outcomes = await self._record_held([item])
            if outcomes:
                await self._finish([item], outcomes)
            else:
                behind.add(key)

    async def _finish(self, items: list[_Item], outcomes: list[Outcome]) -> None:
        """Committed: hand the owed answers over in order, answer webhooks waiting on events
        that owe nothing (or were answered before), and acknowledge."""
        owed = [
            Owed(o.ledger_id, o.event, o.refs, i.delivery.message.reply_to, i.traceparent)
            for i, o in zip(items, outcomes, strict=True)
            if o.owed and o.ledger_id is not None and o.refs is not None
        ]
        self.answers.owe(owed)
        await self._answer_waiting(items, outcomes)
        await self.bus.ack_all([item.delivery for item in items])
        _end_spans(items)
        duplicates = sum(1 for outcome in outcomes if outcome.duplicate)
        self.metrics.processed.labels("recorded").inc(len(outcomes) - duplicates)
        if duplicates:
            self.metrics.processed.labels("duplicate").inc(duplicates)

    async def _answer_waiting(self, items: list[_Item], outcomes: list[Outcome]) -> None:
        for item, outcome in zip(items, outcomes, strict=True):
            reply_to = item.delivery.message.reply_to
            if not reply_to or outcome.owed:
                continue
            event = outcome.event
            replies = outcome.replies
            if replies is None:  # answered after this batch's settlements, or still under way
                if self.answers.wait_with(event.dedupe_key, reply_to):
                    continue  # under way: the answer goes to this waiter too
                replies = self.answers.given(event.dedupe_key)
            try:
                await self.bus.publish(reply_message(reply_to, event.id, replies or []))
            except BusUnavailable as exc:  # the webhook's wait ends without the replies
                log.warning("cannot answer the webhook waiting on %s: %s", event.id, exc)

    async def _hand_back(self, items: list[_Item], reason: str) -> None:
        log.warning("handing back %d events: %s", len(items), reason)
        for item in items:
            await item.delivery.reject(requeue=True)
        self.metrics.retries.labels("redelivery").inc(len(items))
        _end_spans(items, f"handed back: {reason}")

    async def _failed(self, item: _Item, exc: Exception) -> None:
        log.exception("event %s failed", item.event.id, exc_info=exc)
        self.metrics.failed.labels(type(exc).__name__).inc()
        _end_spans([item], exc)
        error = type(exc).__name__
        if isinstance(exc, PermanentError):
            await dead_letter_now(item.delivery, Failure(str(exc), error), self.metrics)
        elif not await give_up_or_retry(
            item.delivery,
            f"{error}: {exc}",
            self.settings.bus.max_attempts,
            error,
            self.metrics,
        ):
            return
        await self._dead(item.delivery, "record", _summary(exc))

    async def _dead(self, delivery: Delivery, stage: str, summary: str) -> None:
        """Count a dead letter, and tell a webhook waiting for the event (`?wait=1`) that it
        will not be answered, and why (`summary`: no exception text, which may hold SQL)."""
        self.metrics.dead.labels(stage).inc()
        if not delivery.message.reply_to:
            return
        try:
            await self.bus.publish(failure_message(delivery.message, summary))
        except BusUnavailable:
            log.warning("could not tell the webhook waiting for %s", delivery.message.message_id)


def _trace(items: list[_Item]) -> Span | None:
    """Start each event's span, a child of its trace, and one span for the batch linked to
    them; the event's answers carry its span's context from here on."""
    for item in items:
        event, message = item.event, item.delivery.message
        item.span = tracing.start(
            f"process {CORE_QUEUE}",
            parent=item.traceparent,
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.operation.type": "process",
                "messaging.destination.name": CORE_QUEUE,
                "messaging.message.id": message.message_id,
                "botgate.event.type": event.type,
                "botgate.platform": event.platform,
                "botgate.bot": event.bot,
                "botgate.delivery.attempt": item.delivery.attempt,
            },
        )
        item.traceparent = tracing.traceparent_of(item.span) or item.traceparent
    return tracing.start(
        "core.batch",
        attributes={"botgate.batch.size": len(items)},
        links=[item.traceparent for item in items],
    )


def _end_spans(items: list[_Item], error: BaseException | str | None = None) -> None:
    if not tracing.enabled():
        return
    for item in items:
        tracing.finish(item.span, error)
        item.span = None


def _arrival(item: _Item) -> Arrival:
    message = item.delivery.message
    return Arrival(
        item.event, message.body, item.delivery.attempt, message.reply_to, item.traceparent
    )


async def _set_within(event: asyncio.Event, seconds: float) -> bool:
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True


def _summary(exc: Exception) -> str:
    return f"the core could not record it ({type(exc).__name__}); it is in {DEAD_QUEUE}"


def failure_message(message: Message, summary: str) -> Message:
    """The answer to a webhook waiting for an event the core dead-lettered."""
    assert message.reply_to is not None
    body = codec.dumps({"event_id": message.message_id, "error": summary})
    return Message(DEFAULT_EXCHANGE, message.reply_to, body, message.message_id)
