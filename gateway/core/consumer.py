"""The core consumer: takes events from `botgate.core` in batches, records each batch in one
transaction, publishes the answers, and only then acknowledges.

- Order: a batch is recorded in delivery order, so one conversation's events keep theirs.
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
from dataclasses import dataclass

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from gateway import codec
from gateway.bus.base import Bus, Delivery, Failure, Message, Subscription
from gateway.bus.processing import dead_letter_now, give_up_or_retry
from gateway.bus.topology import CORE_QUEUE, DEFAULT_EXCHANGE, HEADER_TRACEPARENT, core_queue
from gateway.config import Settings
from gateway.core.dispatch import Dispatcher
from gateway.core.recorder import Outcome, Recorder
from gateway.errors import BusUnavailable, PermanentError, StoreUnavailable
from gateway.events import Event, decode_event
from gateway.metrics import Metrics
from gateway.publisher import action_message
from store.database import Database

log = logging.getLogger(__name__)
OUTAGE_ERRORS = (OperationalError, InterfaceError, StoreUnavailable, OSError)


def is_outage(exc: BaseException) -> bool:
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OUTAGE_ERRORS)


@dataclass
class _Item:
    delivery: Delivery
    event: Event


class CoreConsumer:
    def __init__(
        self,
        bus: Bus,
        db: Database,
        settings: Settings,
        bot_ids: dict[str, uuid.UUID],
        metrics: Metrics,
        dispatcher: Dispatcher | None = None,
    ) -> None:
        self.bus, self.db, self.settings, self.metrics = bus, db, settings, metrics
        self.recorder = Recorder(settings, dispatcher or Dispatcher(settings.core), bot_ids)
        self._inbox: asyncio.Queue[Delivery] = asyncio.Queue()
        self._arrived = asyncio.Event()  # set by each delivery into the inbox
        self._filled = asyncio.Event()  # set when a full batch is waiting in the inbox
        self._subscription: Subscription | None = None
        self._loop: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        # Recorded batches wait here to be published and acked, in order, while the next
        # batch is being recorded: database and bus work overlap.
        self._recorded: asyncio.Queue[tuple[list[_Item], list[Outcome]] | None] = asyncio.Queue(2)
        self._finisher: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.bus.declare_queue(core_queue())
        self._loop = asyncio.create_task(self._run(), name="core-consumer")
        self._finisher = asyncio.create_task(self._finish_in_order(), name="core-finisher")
        self._subscription = await self.bus.consume(
            CORE_QUEUE, self._inbox_put, prefetch=self.settings.bus.prefetch
        )

    async def stop(self) -> None:
        """Stop intake, let the batch in hand finish, hand back what was never started."""
        self._stopping.set()
        if self._subscription is not None:
            await self._subscription.cancel()
        grace = self.settings.server.shutdown_grace.total_seconds()
        try:
            if self._loop is not None:
                await asyncio.wait_for(self._loop, grace)
            if self._finisher is not None:
                await self._recorded.put(None)
                await asyncio.wait_for(self._finisher, grace)
        except TimeoutError:
            # wait_for cancelled the work; its deliveries return to the queue with the bus
            log.warning("core batch did not finish within the shutdown grace; handing it back")
        while not self._inbox.empty():
            await self._inbox.get_nowait().reject(requeue=True)

    def _inbox_put(self, delivery: Delivery) -> None:
        self._inbox.put_nowait(delivery)  # unbounded: the bus's prefetch bounds it
        self._arrived.set()
        if self._inbox.qsize() >= self.settings.core.batch_size:
            self._filled.set()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            batch = await self._next_batch()
            if batch:
                await self.process(batch)

    async def _next_batch(self) -> list[Delivery]:
        """Group commit: what queued up while the last batch was written goes next, at once.
        Only after an idle spell does the core linger (`batch_wait`, or until a full batch
        is waiting) so that a burst is written together rather than event by event."""
        size = self.settings.core.batch_size
        if self._inbox.empty():
            self._arrived.clear()
            if not await _set_within(self._arrived, 0.2):  # 0.2 s: look at _stopping again
                return []
            if self._inbox.qsize() < size:
                self._filled.clear()
                await _set_within(self._filled, self.settings.core.batch_wait.total_seconds())
        batch: list[Delivery] = []
        while len(batch) < size and not self._inbox.empty():
            batch.append(self._inbox.get_nowait())
        return batch

    async def process(self, batch: list[Delivery]) -> None:
        items = [item for item in [await self._decode(d) for d in batch] if item is not None]
        if not items:
            return
        self.metrics.batch_size.observe(len(items))
        started = time.perf_counter()
        outcomes = await self._record_held(items)
        if outcomes is None:
            await self._one_by_one(items)
        elif outcomes:  # empty: the batch was already settled (handed back or failed)
            await self._recorded.put((items, outcomes))
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
            await dead_letter_now(delivery, Failure(str(exc), type(exc).__name__))
            return None
        return _Item(delivery, event)

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
                log.warning(
                    "database unavailable (%s); holding %d events", type(exc).__name__, len(items)
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
        async with self.db.begin() as db:
            return await self.recorder.record(db, [(i.event, i.delivery.attempt) for i in items])

    async def _one_by_one(self, items: list[_Item]) -> None:
        for item in items:
            outcomes = await self._record_held([item])
            if outcomes:
                await self._recorded.put(([item], outcomes))

    async def _finish_in_order(self) -> None:
        """Start publishing each recorded batch's answers as soon as it is recorded, in order,
        and ack each batch when its own confirms are in: a slow confirm holds up no later
        batch."""
        finishing: set[asyncio.Task[None]] = set()
        while (recorded := await self._recorded.get()) is not None:
            task = asyncio.create_task(self._finish(*recorded))
            finishing.add(task)
            task.add_done_callback(lambda done: _report_failure(done, finishing))
        await asyncio.gather(*finishing, return_exceptions=True)  # each reports its own

    async def _finish(self, items: list[_Item], outcomes: list[Outcome]) -> None:
        """Publish the answers, then ack. If the bus fails, hand back: redelivery replays the
        stored answers. Any other failure counts as an attempt (`bus.max_attempts`)."""
        answers = [
            message
            for item, outcome in zip(items, outcomes, strict=True)
            for message in _answers(item, outcome)
        ]
        try:
            # gather starts the publishes in list order, and the bus sends them in the order
            # they start: a conversation's answers leave in order, without waiting on confirms.
            await asyncio.gather(*(self.bus.publish(message) for message in answers))
        except BusUnavailable as exc:
            await self._hand_back(items, f"bus unavailable while publishing answers: {exc}")
            return
        except Exception as exc:  # not the broker: retry a few times, then dead-letter
            log.exception("publishing the answers of %d events failed", len(items))
            reason = f"publishing its answers failed: {type(exc).__name__}: {exc}"
            for item in items:
                await give_up_or_retry(
                    item.delivery, reason, self.settings.bus.max_attempts, type(exc).__name__
                )
            return
        for item in items:
            await item.delivery.ack()
        duplicates = sum(1 for outcome in outcomes if outcome.duplicate)
        self.metrics.processed.labels("recorded").inc(len(outcomes) - duplicates)
        if duplicates:
            self.metrics.processed.labels("duplicate").inc(duplicates)

    async def _hand_back(self, items: list[_Item], reason: str) -> None:
        log.warning("handing back %d events: %s", len(items), reason)
        for item in items:
            await item.delivery.reject(requeue=True)

    async def _failed(self, item: _Item, exc: Exception) -> None:
        log.exception("event %s failed", item.event.id, exc_info=exc)
        self.metrics.failed.labels(type(exc).__name__).inc()
        error = type(exc).__name__
        if isinstance(exc, PermanentError):
            await dead_letter_now(item.delivery, Failure(str(exc), error))
        else:
            await give_up_or_retry(
                item.delivery, f"{error}: {exc}", self.settings.bus.max_attempts, error
            )


def _report_failure(task: asyncio.Task[None], finishing: set[asyncio.Task[None]]) -> None:
    """A batch whose finishing failed even to settle stays unacked (the bus redelivers it on
    reconnection or restart); say why."""
    finishing.discard(task)
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("finishing a recorded batch failed", exc_info=exc)


def _answers(item: _Item, outcome: Outcome) -> list[Message]:
    """The event's actions, carrying its trace context, and the answer to a webhook waiting
    for them (`?wait=1`)."""
    trace = item.delivery.message.headers.get(HEADER_TRACEPARENT)
    answers = [action_message(a, trace) for a in outcome.actions]
    if item.delivery.message.reply_to:
        answers.append(reply_message(item.delivery.message.reply_to, outcome))
    return answers


async def _set_within(event: asyncio.Event, seconds: float) -> bool:
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True


def reply_message(reply_to: str, outcome: Outcome) -> Message:
    """The RPC-style answer to a webhook waiting for the bot's replies (`?wait=1`)."""
    body = codec.dumps(
        {
            "event_id": str(outcome.event.id),
            "replies": [a.model_dump(mode="json", by_alias=True) for a in outcome.replies],
        }
    )
    return Message(DEFAULT_EXCHANGE, reply_to, body, str(outcome.event.id))
