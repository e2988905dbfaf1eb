"""The action runner: sends each bot's actions through its adapter and reports what was sent.

Order: each bot's action queue has a single active consumer, so one adapter process at a time
sends for a bot. Within it, one conversation's (chat's) actions go out one at a time, in the
order they came; different chats go concurrently (`_Lanes`).

Retries: a send that failed for a transient reason (429, 5xx, network) is held, with every
later send of its chat, and retried from a delay queue with growing delays for up to
`[sends] retry_for` (gateway/held.py); other chats keep flowing. A permanent refusal is
dead-lettered at once with the platform's words, and recorded in `audit_log`. Each accepted
`message.send` becomes a `message.sent` event.

Exactly once: what the platform accepted is written to the send ledger (`sent_actions`, by
action id) before the action is acknowledged. An action delivered again (a redelivery, an
answer the core published again after a crash, a held send) is looked up there first and not
sent twice. What stays at-least-once: a crash after the platform accepted a send and before
its ledger entry was written (milliseconds), where Discord's `nonce` still guards the send.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from opentelemetry.trace import Span, SpanKind

from adapters.base import Adapter, SendResult
from gateway import tracing
from gateway.bus.base import Bus, Delivery, Failure, Handler, Message, Subscription, dead_copy
from gateway.bus.processing import dead_letter_now
from gateway.bus.topology import (
    ACTIONS_EXCHANGE,
    HEADER_REPUBLISHED,
    HEADER_TRACEPARENT,
    HEADER_WAKE,
    actions_queue,
    adapter_queue,
)
from gateway.config import Settings
from gateway.errors import BusUnavailable, PermanentError, TransientError
from gateway.events import (
    FIRST_DELIVERY,
    Action,
    Event,
    conversation_key,
    decode_action,
    utcnow,
)
from gateway.held import HeldSends, since, wake_of
from gateway.metrics import Metrics
from gateway.pacing import StreamPacer
from gateway.publisher import publish_event
from gateway.tracing import current_traceparent
from store import audit, outbox
from store.database import Database, before_commit
from store.sending import Held, ToHold

log = logging.getLogger(__name__)
# A bot whose queue was quiet this long reads its held lanes again before it sends: it may have
# just become the queue's active consumer, after another process that held some.
QUIET_BEFORE_REFRESH = 1.0


@dataclass
class _Item:
    delivery: Delivery
    action: Action


class _Bot:
    """One bot's side of the runner: its adapter, held lanes, and chats with work queued."""

    def __init__(self, runner: ActionRunner, adapter: Adapter, held: HeldSends) -> None:
        self.runner, self.adapter, self.held = runner, adapter, held
        self.lanes: dict[str, deque[_Item]] = {}
        self.last_seen = float("-inf")
        self.refreshing: list[_Item] | None = None  # arrivals while held lanes are read

    def take(self, delivery: Delivery) -> None:
        """The bus handler: settle bad input and snapshots now; queue the rest on its lane,
        in arrival order (no await before it is queued)."""
        runner = self.runner
        if runner.stopping:  # left unsettled: the consumer's cancel hands all back, in order
            return
        try:
            action = decode_action(delivery.message.body, delivery.message.model)
        except PermanentError as exc:
            runner.spawn(
                dead_letter_now(delivery, Failure(str(exc), type(exc).__name__), runner.metrics)
            )
            return
        if action.snapshot:
            runner.spawn(runner.snapshot(self.adapter, delivery, action))
            return
        item = _Item(delivery, action)
        now = time.monotonic()
        quiet, self.last_seen = now - self.last_seen > QUIET_BEFORE_REFRESH, now
        if self.refreshing is not None:
            self.refreshing.append(item)
        elif quiet:
            self.refreshing = [item]
            runner.spawn(self._refresh())
        else:
            self._queue(item)

    async def _refresh(self) -> None:
        try:
            await self.held.refresh()
        except Exception as exc:  # the lanes this process knows stay as they were
            self.runner.db.outage.failed(
                log, exc, "cannot read the held sends of %s yet: %s", self.held.bot, exc
            )
        waiting, self.refreshing = self.refreshing or [], None
        for item in waiting:
            self._queue(item)

    def _queue(self, item: _Item) -> None:
        lane = item.action.channel_id
        queued = self.lanes.get(lane)
        if queued is not None:
            queued.append(item)
            return
        self.lanes[lane] = deque([item])
        self.runner.busy(+1)
        self.runner.spawn(self._work(lane))

    async def _work(self, lane: str) -> None:
        queued = self.lanes[lane]
        try:
            while queued:
                await self.runner.one(self, lane, queued[0])
                queued.popleft()
        except Exception:  # e.g. the database is down while holding: try the lane again later
            log.exception("sending to %s failed unexpectedly; handing its actions back", lane)
            await asyncio.sleep(1.0)
            for item in reversed(queued):  # last first: each goes back to the queue's head
                await item.delivery.reject(requeue=True)
        finally:
            del self.lanes[lane]
            self.runner.busy(-1)


@dataclass(eq=False)
class _ChatLane:
    """One chat's send lock, with how many sends hold it or wait for it."""

    key: tuple[str, str, str]
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


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
        self._locks: dict[tuple[str, str, str], _ChatLane] = {}
        self._subscriptions: list[Subscription] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.stopping = False
        self._busy = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self.ledger = SendLedger(db)
        self.pacer = StreamPacer(self._show)

    async def start(self) -> None:
        await self.ledger.start()
        for (platform, bot), adapter in self.adapters.items():
            await self.bus.declare_queue(adapter_queue(platform, bot))
            held = HeldSends(self.bus, self.db, self.settings.sends, platform, bot)
            await held.declare()
            handler: Handler = _Bot(self, adapter, held).take
            queue = actions_queue(platform, bot)
            self._subscriptions.append(
                await self.bus.consume(queue, handler, prefetch=self.settings.bus.prefetch)
            )

    async def stop(self) -> None:
        """Take no new action, let the sends under way finish (a send cut short would be sent
        again after the restart), then hand back the rest."""
        self.stopping = True
        grace = self.settings.server.shutdown_grace.total_seconds()
        try:
            await asyncio.wait_for(self._idle.wait(), grace)
        except TimeoutError:
            log.warning("%d chats still sending after the grace; handing them back", self._busy)
        for subscription in self._subscriptions:
            await subscription.cancel()
        self._subscriptions.clear()
        await asyncio.sleep(0)  # tasks spawned but not started begin, so they can be cancelled
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.pacer.stop()
        await self.ledger.stop()

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(_logged(work))
        self._tasks.add(task)
        task.add_done_callback(partial(self._spawned_done, work))  # one callback, one handle

    def _spawned_done(self, work: Coroutine[Any, Any, None], task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        work.close()  # a task cancelled at shutdown before its first step never awaited `work`

    def busy(self, change: int) -> None:
        self._busy += change
        if self._busy:
            self._idle.clear()
        else:
            self._idle.set()

    async def one(self, bot: _Bot, lane: str, item: _Item) -> None:
        """One delivery of a lane: a wake-up sends the held lane; an action of a held lane is
        held behind it; any other action is sent."""
        delivery, action = item.delivery, item.action
        wake = wake_of(delivery.message.headers)
        if wake is not None:
            await self._send_held(bot, lane, delivery, wake)
        elif lane in bot.held.lanes and await bot.held.occupied(lane):
            fresh = await bot.held.hold(lane, [_to_hold(delivery.message, action)], utcnow())
            self.metrics.actions.labels(action.platform, "held").inc()
            if not fresh:  # held before this process crashed: send the lane now
                await self._send_held(bot, lane, delivery, None)
                return
            await delivery.ack()
        else:
            await self.handle(bot, lane, delivery, action)

    async def handle(self, bot: _Bot, lane: str, delivery: Delivery, action: Action) -> None:
        incoming = delivery.message.headers.get(HEADER_TRACEPARENT)
        with tracing.span(f"send {action.platform}", parent=incoming, kind=SpanKind.CLIENT) as span:
            if span is not None:
                span.set_attributes(_attributes(action))
            # the platform call and `message.sent` carry the send's span, or the action's context
            traceparent = tracing.traceparent_of(span) or incoming
            current_traceparent.set(traceparent)  # this handler runs in a task of its own
            await self._deliver(bot, lane, delivery, action, traceparent, span)

    async def _deliver(
        self,
        bot: _Bot,
        lane: str,
        delivery: Delivery,
        action: Action,
        traceparent: str | None,
        span: Span | None,
    ) -> None:
        """Send once: an action delivered again (a redelivery, a republish) is looked up in the
        send ledger first; what the platform accepted is in the ledger before the ack."""
        again = delivery.attempt > 1 or HEADER_REPUBLISHED in delivery.message.headers
        try:
            result = await self._send_once(bot.adapter, action, again)
        except PermanentError as exc:
            tracing.fail(span, exc)
            await self._failed(action, _refusal(exc), delivery=delivery)
            return
        except TransientError as exc:
            tracing.fail(span, exc)
            await self._hold(bot, lane, delivery, action, exc)
            return
        if result is not None and action.type == "message.send":
            await self._report_sent(action, result, traceparent)
        await delivery.ack()

    async def _send_once(self, adapter: Adapter, action: Action, again: bool) -> SendResult | None:
        """Send unless the ledger has it; the result, or None when it was sent before."""
        if action.stream is not None:
            await self.pacer.close(action.stream.id)
        lane = await self._enter_lane(action)
        try:
            result = await self.ledger.sent_before(action.id) if again else None
            if result is not None:
                self.metrics.actions.labels(action.platform, "duplicate").inc()
                return None
            result = await adapter.send(action)
            await self.ledger.record(action, result)  # before the ack: never sent twice
            self.metrics.actions.labels(action.platform, "sent").inc()
            if action.stream is not None:
                self.pacer.finished(action.stream.id)
        finally:
            self._leave_lane(lane)
        return result

    async def _hold(
        self, bot: _Bot, lane: str, delivery: Delivery, action: Action, exc: TransientError
    ) -> None:
        """The first transient failure of a lane: hold it (and the lane behind it) and
        schedule its retry, then let the broker forget the delivery."""
        now = utcnow()
        await bot.held.hold(lane, [_to_hold(delivery.message, action)], now)
        row = (await bot.held.rows(lane))[0]
        delay = await bot.held.retry_later(row, now, str(exc), exc.retry_after)
        self.metrics.actions.labels(action.platform, "held").inc()
        self.metrics.retries.labels("send").inc()
        log.warning("send %s failed (%s); holding its chat, retry in %gs", action.id, exc, delay)
        await delivery.ack()

    async def _send_held(
        self, bot: _Bot, lane: str, wake_delivery: Delivery, wake: int | None
    ) -> None:
        """Send a held lane in order; stop at the first transient failure and wait again."""
        rows = await bot.held.rows(lane)
        if (
            rows
            and wake is not None
            and (
                str(rows[0].action_id) != wake_delivery.message.message_id
                or rows[0].attempts != wake
            )
        ):
            await wake_delivery.ack()  # stale: a newer wake-up is on its way for this lane
            return
        for row in rows:
            if not await self._send_row(bot, row):
                await wake_delivery.ack()
                return
        bot.held.done(lane)
        await wake_delivery.ack()

    async def _send_row(self, bot: _Bot, row: Held) -> bool:
        """One held send; False when it failed again (its next wake-up is published)."""
        message = _held_message(bot, row)
        try:
            action = decode_action(message.body, None)
        except PermanentError as exc:
            await self._dead(message, Failure(str(exc), type(exc).__name__, row.attempts))
            await bot.held.release(row.action_id)
            return True
        traceparent = row.headers.get(HEADER_TRACEPARENT)
        now = utcnow()
        try:
            result = await self._send_once(bot.adapter, action, again=True)
        except PermanentError as exc:
            await self._failed(action, _refusal(exc, row.attempts + 1), message=message)
        except TransientError as exc:
            if not bot.held.expired(row, now):
                delay = await bot.held.retry_later(row, now, str(exc), exc.retry_after)
                self.metrics.retries.labels("send").inc()
                log.warning("send %s failed again (%s); retry in %gs", action.id, exc, delay)
                return False
            waited = since(row.first_failed_at, now)
            reason = f"gave up after {row.attempts + 1} attempts over {waited}: {exc}"
            await self._failed(
                action, Failure(reason, type(exc).__name__, row.attempts + 1), message=message
            )
        else:
            if result is not None and action.type == "message.send":
                await self._report_sent(action, result, traceparent)
        await bot.held.release(row.action_id)
        return True

    async def snapshot(self, adapter: Adapter, delivery: Delivery, action: Action) -> None:
        """A passing state of an answer being written: handed to the pacer, which shows the
        newest of its stream when its turn comes; never retried, never recorded."""
        current_traceparent.set(delivery.message.headers.get(HEADER_TRACEPARENT))
        shown = self.pacer.offer(adapter, action)
        self.metrics.actions.labels(action.platform, "snapshot" if shown else "late").inc()
        await delivery.ack()

    async def _show(self, adapter: Adapter, action: Action) -> None:
        lane = await self._enter_lane(action)
        try:
            await adapter.send(action)
        except TransientError:
            self.metrics.actions.labels(action.platform, "slowed").inc()
            raise
        finally:
            self._leave_lane(lane)
        self.metrics.actions.labels(action.platform, "shown").inc()

    # One send at a time in a chat: a snapshot being shown and a send do not overlap. The
    # chat's lock is taken and given back by hand (`_enter_lane`, then `_leave_lane` in a
    # `finally`) rather than through an asynccontextmanager, whose async generator cost
    # several times the lock itself on every send.
    async def _enter_lane(self, action: Action) -> _ChatLane:
        key = (action.platform, action.bot, action.channel_id)
        lane = self._locks.get(key) or self._locks.setdefault(key, _ChatLane(key))
        lane.users += 1  # counted before waiting: a woken waiter still holds the lane
        try:
            await lane.lock.acquire()
        except BaseException:  # cancelled while waiting: an idle lane is not kept
            self._forget_lane(lane)
            raise
        return lane

    def _leave_lane(self, lane: _ChatLane) -> None:
        lane.lock.release()
        self._forget_lane(lane)

    def _forget_lane(self, lane: _ChatLane) -> None:
        """Forget the chat's lane once nobody holds or waits for it. `lock.locked()` would
        not do: between a release and the woken waiter's turn it reads False, and a send
        arriving then would get a new lock and overlap the waiter."""
        lane.users -= 1
        if not lane.users and self._locks.get(lane.key) is lane:
            del self._locks[lane.key]

    async def _failed(
        self,
        action: Action,
        failure: Failure,
        *,
        delivery: Delivery | None = None,
        message: Message | None = None,
    ) -> None:
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
        if delivery is not None:
            await dead_letter_now(delivery, failure, self.metrics)
        elif message is not None:
            await self._dead(message, failure)

    async def _dead(self, message: Message, failure: Failure) -> None:
        """Dead-letter a held send (its delivery was acknowledged when it was held)."""
        log.error("dead-lettering %s: %s", message.message_id, failure.reason)
        queue = actions_queue(*message.routing_key.split(".", 1))
        await self.bus.publish(dead_copy(message, failure, queue, failure.attempts or 1))
        self.metrics.dead_letters.labels(message.exchange).inc()

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
                self.bus.outage.failed(log, exc, "cannot report sent %s yet: %s", action.id, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30)


def _to_hold(message: Message, action: Action) -> ToHold:
    headers = {k: v for k, v in message.headers.items() if k != HEADER_WAKE}
    return ToHold(action.id, message.body.decode(), headers)


def _held_message(bot: _Bot, row: Held) -> Message:
    routing_key = f"{bot.held.platform}.{bot.held.bot}"
    return Message(
        ACTIONS_EXCHANGE, routing_key, row.body.encode(), str(row.action_id), row.headers
    )


def _refusal(exc: PermanentError, attempt: int | None = None) -> Failure:
    """The platform refused: its words are the reason."""
    return Failure(str(exc), type(exc).__name__, exc.attempts or attempt)


async def _logged(work: Coroutine[Any, Any, None]) -> None:
    try:
        await work
    except asyncio.CancelledError:
        raise
    except Exception:  # the delivery stays unsettled; the broker gives it again
        log.exception("sending failed unexpectedly")


def _attributes(action: Action) -> dict[str, str]:
    return {
        "botgate.action.id": str(action.id),
        "botgate.action.type": action.type,
        "botgate.platform": action.platform,
        "botgate.bot": action.bot,
    }


def sent_event(action: Action, result: SendResult) -> Event:
    """The event, validated once as a whole: nested dicts rather than nested models (one
    pydantic call instead of three; the same validators and bounds run)."""
    now = utcnow()
    return Event.model_validate(
        {
            "type": "message.sent",
            "platform": action.platform,
            "bot": action.bot,
            "dedupe_key": f"{action.platform}:{action.bot}:sent:{action.id}",
            "occurred_at": now,
            "received_at": now,
            "conversation_key": conversation_key(
                action.platform, action.bot, action.channel_id, action.thread_id
            ),
            "channel": {"id": action.channel_id},
            "thread_id": action.thread_id,
            "delivery": FIRST_DELIVERY,  # the default's value, without making one per event
            "message": {
                "id": result.message_id or str(action.id),
                "text": result.text if result.text is not None else action.text or "",
                "reply_to_id": action.reply_to_id,
                "in_reply_to": action.in_reply_to,
                "citations": action.citations,
            },
            "raw": dict(result.raw),
        }
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
                async with self.db.autocommit() as db:  # one statement: its own commit
                    await before_commit(db, outbox.record_sent, [row for row, _ in taken])
            except Exception as exc:  # the sends happened: hold their acks and try again
                self.db.outage.failed(
                    log, exc, "cannot write the send ledger yet (%s); retrying", exc
                )
                self._rows = taken + self._rows
                self._arrived.set()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30)
                continue
            delay = 0.5
            for _, waiter in taken:
                if not waiter.done():
                    waiter.set_result(None)
