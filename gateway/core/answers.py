"""Answering after the commit: each owed answer runs its bot's responder chain, its actions are
published, and the owed row is settled.

- Order: one lane per conversation answers its events one at a time, in the order they were
  recorded; lanes run concurrently, at most `core.max_in_flight` answers at once, so a slow
  tool holds up its own conversation only.
- Durability: the recording transaction wrote an owed row (`store.outbox`) for every answer;
  this process claims its rows and renews the claim while it works. Rows of a process that
  died lose their claim after `core.answer_lease` and are answered again, by a sweep or by the
  first lane that meets their conversation (which answers them before its own).
- Exactly once towards the platform: an answer's actions have ids derived from its row, so an
  answer given again publishes the same ids, marked as a replay, and the adapters' send ledger
  drops what was sent already.
- Settling: answered rows are deleted, with the event's result and the tool calls, in the
  core's next recording transaction (or a transaction of their own when the core is idle).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from gateway import codec
from gateway.bus.base import Bus, Message
from gateway.bus.topology import DEFAULT_EXCHANGE, HEADER_REPUBLISHED
from gateway.config import Settings
from gateway.core.cache import BoundedCache
from gateway.core.streams import STREAMING_PLATFORMS, ActionStream, message_action
from gateway.errors import BusUnavailable
from gateway.events import Action, Event, StreamRef, decode_event, utcnow
from gateway.ids import derived_id
from gateway.loops import StopSignal, stop_between_passes
from gateway.metrics import Metrics
from gateway.publisher import action_message
from gateway.tools.base import Refs, Reply, Services, Turn
from gateway.tools.chain import Chain
from gateway.tools.texts import language_of, say
from store import outbox
from store.database import CoreConnection, Database, before_commit

log = logging.getLogger(__name__)
SETTLE_IDLE = 0.02  # seconds after an answer before its settlement may be written apart
CORE_ACTIVE = 0.5  # seconds: a core that took settlements this recently takes the next ones

TAKE_OVER_POLL = 0.5  # seconds between looks at answers another process owes first


@dataclass
class Owed:
    """An answer owed, in this process's hands. `id` is its row's (and its ledger entry's)."""

    id: uuid.UUID
    event: Event
    refs: Refs
    reply_to: str | None = None
    traceparent: str | None = None
    replay: bool = False  # answered again after a crash: the adapters check their ledger
    waiters: list[str] = field(default_factory=list)  # further webhooks waiting (?wait)


@dataclass
class Settled:
    """Answers published and not yet settled in the database."""

    ids: list[uuid.UUID] = field(default_factory=list)
    results: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)  # the answered events' dedupe keys

    def __bool__(self) -> bool:
        return bool(self.ids)

    def add(
        self, row_id: uuid.UUID, result: dict[str, Any], calls: list[dict[str, Any]], key: str
    ) -> None:
        """One answer published."""
        self.ids.append(row_id)
        self.results[row_id] = result
        self.tool_calls += calls
        self.keys.append(key)

    def merge(self, other: Settled) -> None:
        self.ids += other.ids
        self.results |= other.results
        self.tool_calls += other.tool_calls
        self.keys += other.keys

    async def write(self, db: CoreConnection) -> None:
        await outbox.settle(db, self.ids, self.results, self.tool_calls)


def action_id(turn: uuid.UUID, index: int) -> uuid.UUID:
    return derived_id(turn, f"action:{index}")


def _headers(owed: Owed) -> dict[str, str]:
    """An answer published again after a crash says so: the adapter checks its ledger."""
    return {HEADER_REPUBLISHED: "1"} if owed.replay else {}


def to_actions(
    event: Event, replies: list[Reply], turn: uuid.UUID, streamed: StreamRef | None = None
) -> list[Action]:
    """`message.send` actions answering `event` where it was said, with stable ids; the first
    ends the stream `streamed` when the answer was shown while it was written."""
    return [
        message_action(
            event,
            action_id(turn, index),
            reply.text,
            format=reply.format,
            buttons=list(reply.buttons),
            citations=list(reply.citations),
            stream=streamed if index == 0 else None,
        )
        for index, reply in enumerate(replies)
    ]


def reply_message(reply_to: str, event_id: uuid.UUID, replies: list[Action]) -> Message:
    """The RPC-style answer to a webhook waiting for the bot's replies (`?wait=1`)."""
    body = codec.dumps(
        {
            "event_id": str(event_id),
            "replies": [a.model_dump(mode="json", by_alias=True) for a in replies],
        }
    )
    return Message(DEFAULT_EXCHANGE, reply_to, body, str(event_id))


@dataclass
class _Lane:
    items: deque[Owed] = field(default_factory=deque)


class Answerer:
    def __init__(
        self,
        bus: Bus,
        db: Database,
        settings: Settings,
        services: Services,
        chains: Mapping[str, Chain],
        metrics: Metrics,
    ) -> None:
        self.bus, self.db, self.settings, self.metrics = bus, db, settings, metrics
        self.services, self.chains = services, chains
        self.owner = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lease = settings.core.answer_lease.total_seconds()
        self._bots = {bot.name: bot for bot in settings.bots}
        self._lanes: dict[str, _Lane] = {}
        # Lanes no worker has taken yet, in the order they were opened; `_standby`: a worker
        # has been started and has not yet run (it takes them when it does).
        self._ready: deque[tuple[str, _Lane]] = deque()
        self._standby = False
        self._working: set[asyncio.Task[None]] = set()  # the workers
        self._in_flight = asyncio.Semaphore(settings.core.max_in_flight)
        # For a duplicate's webhook (?wait): answers under way, and answers given but not yet
        # settled in the database, by dedupe key.
        self._by_key: dict[str, Owed] = {}
        self._given: dict[str, list[Action]] = {}
        self._checked: BoundedCache[str, bool] = BoundedCache()  # conversations taken over
        self._claims = 0  # shards this core claimed: a check begun before one is stale
        # Held by a sweep from its claim until its rows are in their lanes, and by a lane's
        # look at what others owe: rows a sweep claimed are either someone else's or queued.
        self._sweeping = asyncio.Lock()
        self._pending = 0
        self._room = asyncio.Event()
        self._room.set()
        self.settled = Settled()
        self._stop = StopSignal()  # for the loops below; lanes look at `_stopping`
        self._settle_soon = self._stop.wakes(asyncio.Event())
        # Settlements ride in the core's next recording transaction, unless doing so just
        # failed: then they are written apart until that works again, and can never again
        # hold up a batch of events.
        self._ride_along = True
        self._taken_at = 0.0  # when the core last took settlements into its transaction
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._every(self.lease / 3, self._renew), name="answers-renew"),
            asyncio.create_task(
                self._every(max(self.lease / 2, 0.5), self._sweep), name="answers-sweep"
            ),
            asyncio.create_task(self._settle_idle(), name="answers-settle"),
        ]

    async def stop(self) -> None:
        """Let the answers under way finish within the grace; what is left stays owed in the
        database (its claim lapses and it is answered after the restart)."""
        self._stopping = True
        await self._finish_workers(self.settings.server.shutdown_grace.total_seconds())
        await stop_between_passes(self._stop, self._tasks)
        with contextlib.suppress(Exception):  # what is not settled is answered again, once
            await self._settle_now()
            async with self.db.begin() as db:  # the next start takes over at once
                await outbox.release(db, self.owner, utcnow())

    async def _finish_workers(self, grace: float) -> None:
        """Wait for the workers within `grace` (a worker may start another as it goes: those
        are waited for too), then cancel the late ones."""
        deadline = time.monotonic() + grace
        while self._working:
            left = deadline - time.monotonic()
            _, late = await asyncio.wait(set(self._working), timeout=max(left, 0))
            if late:
                for task in late:
                    task.cancel()
                await asyncio.gather(*late, return_exceptions=True)
                break
        while self._ready:  # never taken by a worker (cancelled before it ran): still owed
            key, lane = self._ready.popleft()
            self._close(key, lane)

    # -- intake ------------------------------------------------------------------------------

    def owe(self, answers: list[Owed]) -> None:
        """Queue answers in recorded order; each conversation's lane answers them in turn."""
        for owed in answers:
            self._enqueue(owed)
        self._count(len(answers))  # once for the batch (a gauge update each cost as much)

    def wait_with(self, dedupe_key: str, reply_to: str) -> bool:
        """A duplicate's webhook waits for the answer under way to its first delivery."""
        owed = self._by_key.get(dedupe_key)
        if owed is not None:
            owed.waiters.append(reply_to)
        return owed is not None

    def given(self, dedupe_key: str) -> list[Action] | None:
        """The answer a first delivery got, while it is not yet settled in the database."""
        return self._given.get(dedupe_key)

    async def room(self) -> None:
        """Returns when fewer than `core.max_pending` answers are owed in this process."""
        await self._room.wait()

    def forget_takeovers(self) -> None:
        """This core took a shard: its conversations may have been answered elsewhere since
        this process last looked, so each lane checks again for answers others still owe."""
        self._checked.clear()
        self._claims += 1

    def _enqueue(self, owed: Owed, *, first: bool = False) -> None:
        """Queue one answer on its lane; the caller counts it (`_count`)."""
        key = owed.event.conversation_key
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = _Lane()
            self._ready.append((key, lane))
            self._wake()
        (lane.items.appendleft if first else lane.items.append)(owed)
        self._by_key[owed.event.dedupe_key] = owed

    def _count(self, change: int) -> None:
        self._pending += change
        self.metrics.answers_pending.set(self._pending)
        if self._pending >= self.settings.core.max_pending:
            self._room.clear()
        else:
            self._room.set()

    # -- lanes -------------------------------------------------------------------------------
    #
    # Workers drain the lanes: a worker takes the ready lanes one after another, and before
    # each it makes sure a standby worker is started if more are waiting. An answer that
    # does not wait (`/help`: nothing to wait for) leaves the standby nothing to do, so a
    # batch of answers costs a task or two rather than a task per conversation; an answer
    # that waits (a tool, the bus, the database, `max_in_flight`) lets the standby take the
    # next lane at once, and so on: every lane runs as soon as the ones before it wait, as
    # with a task per lane.

    def _wake(self) -> None:
        """Start a standby worker for the ready lanes, unless one is about to run."""
        if self._standby:
            return
        self._standby = True
        task = asyncio.create_task(self._work(), name="answers-lanes")
        self._working.add(task)
        task.add_done_callback(self._working.discard)

    async def _work(self) -> None:
        self._standby = False
        while self._ready:
            key, lane = self._ready.popleft()
            if self._ready:
                self._wake()  # for the lanes after this one, should its answers wait
            await self._drain(key, lane)

    async def _drain(self, key: str, lane: _Lane) -> None:
        try:
            while lane.items and not self._stopping:
                # Checked again whenever this core took a shard (the cache was cleared): the
                # conversation may have been answered elsewhere meanwhile. A swept row is
                # always checked: another core may have swept an earlier one of its turn.
                if lane.items[0].replay or self._checked.get(key) is None:
                    await self._take_over(key, lane)
                    if not lane.items or self._stopping:
                        break
                owed = lane.items.popleft()
                try:
                    async with self._in_flight:
                        await self._answer(owed)
                finally:
                    self._by_key.pop(owed.event.dedupe_key, None)
                    self._count(-1)
        finally:
            self._close(key, lane)

    def _close(self, key: str, lane: _Lane) -> None:
        if self._lanes.get(key) is lane:
            del self._lanes[key]
        if lane.items:  # stopping: left owed in the database
            self._count(-len(lane.items))

    async def _take_over(self, key: str, lane: _Lane) -> None:
        """Answers another process owes in this conversation, recorded before this lane's
        next one, come first: wait for them to be answered, or for their claims to lapse
        (their owner crashed) and answer them here. Later ones another core owes wait for
        ours (were both to wait for all, two cores would wait for each other). The lane skips
        this check from then on only once no other process owes anything in the conversation
        (until this core claims a shard again)."""
        while not self._stopping and lane.items:
            claims = self._claims
            # Not between a sweep's claim and its queueing: rows it claimed here would be
            # neither another's nor in the lane yet, and a later answer went out first.
            async with self._sweeping, self.db.begin() as db:
                theirs = await outbox.owed_in_conversation(db, key, self.owner, lane.items[0].id)
            earlier = [(row_id, until) for row_id, until, before in theirs if before]
            if not earlier:
                if not theirs and claims == self._claims:  # a claim meanwhile: look again
                    self._checked.put(key, True)
                return
            now = utcnow()
            lapsed = [row_id for row_id, until in earlier if until < now]
            if lapsed:
                claimed = await self._claim(lapsed, now)
                for owed in reversed(claimed):
                    self._enqueue(owed, first=True)
                self._count(len(claimed))
                continue
            wait = min(until for _, until in earlier) - now
            await asyncio.sleep(min(max(wait.total_seconds(), 0.05), TAKE_OVER_POLL))

    async def _answer(self, owed: Owed) -> None:
        started = time.perf_counter()
        stream = self._stream(owed)
        turn = await self._turn(owed, stream)
        try:
            replies = await self.chains[owed.event.bot].answer(turn)
        except Exception:  # a responder's own failure: the person still gets an answer
            log.exception("answering event %s failed", owed.event.id)
            replies = [Reply(say(turn.language, "apology", tool="help"))]
        streamed = await stream.close() if stream is not None else None
        actions = to_actions(owed.event, replies, owed.id, streamed)
        published = await self._publish(owed, actions)
        key = owed.event.dedupe_key
        self._given[key] = actions  # for a duplicate arriving before the settlement is written
        self.settled.add(owed.id, _result(published), turn.tool_calls, key)
        self._settle_soon.set()
        self.metrics.processing_seconds.observe(time.perf_counter() - started)

    def _stream(self, owed: Owed) -> ActionStream | None:
        if owed.event.platform not in STREAMING_PLATFORMS:
            return None

        async def publish(action: Action) -> None:
            await self.bus.publish(action_message(action, owed.traceparent, _headers(owed)))

        return ActionStream(owed.event, owed.id, publish)

    async def _turn(self, owed: Owed, stream: ActionStream | None = None) -> Turn:
        profiles = self.services.profiles
        user = owed.event.user
        chosen = await profiles.language(owed.refs.user_id)
        return Turn(
            id=owed.id,
            event=owed.event,
            bot=self._bots[owed.event.bot],
            refs=owed.refs,
            services=self.services,
            language=language_of(chosen, user.locale if user else None),
            session_tools=await profiles.session_tools(owed.refs.session_id),
            traceparent=owed.traceparent,
            stream=stream,
        )

    async def _publish(self, owed: Owed, actions: list[Action]) -> list[Message]:
        """Publish, holding on through a bus outage (the answer is owed until it is out); the
        actions' messages."""
        headers = _headers(owed)
        published = [action_message(a, owed.traceparent, headers) for a in actions]
        messages = published
        if owed.reply_to or owed.waiters:  # webhooks waiting for the replies (`?wait=1`)
            messages = published + [
                reply_message(target, owed.event.id, actions)
                for target in filter(None, [owed.reply_to, *owed.waiters])
            ]
        delay = 0.5
        while True:
            try:
                await self._publish_all(messages)
                return published
            except BusUnavailable as exc:
                if self._stopping:
                    raise
                what = "cannot publish the answer to %s yet: %s"
                self.bus.outage.failed(log, exc, what, owed.event.id, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30)

    async def _publish_all(self, messages: list[Message]) -> None:
        if len(messages) == 1:  # the usual answer: no task to make
            await self.bus.publish(messages[0])
            return
        # gather starts the publishes in list order and the bus sends them in that order: a
        # conversation's answers leave in order without waiting on confirms.
        await asyncio.gather(*(self.bus.publish(m) for m in messages))

    # -- claims ------------------------------------------------------------------------------

    async def _claim(self, ids: list[uuid.UUID], now: datetime) -> list[Owed]:
        until = now + timedelta(seconds=self.lease)
        async with self.db.begin() as db:
            rows = await outbox.claim(db, ids, self.owner, now, until)
        return [self._owed_from(row) for row in rows]

    async def _renew(self) -> None:
        if self._pending or self.settled:
            async with self.db.begin() as db:
                await outbox.renew(db, self.owner, utcnow() + timedelta(seconds=self.lease))

    async def _sweep(self) -> None:
        """Answers whose owner crashed, in conversations no new message brought here."""
        if self._pending >= self.settings.core.max_pending:
            return
        async with self._sweeping:
            now = utcnow()
            async with self.db.begin() as db:
                rows = await outbox.claim_expired(
                    db, self.owner, now, now + timedelta(seconds=self.lease), limit=100
                )
            # Ahead of what a lane holds already: a row whose owner stopped was nearly always
            # recorded before what this core recorded since in the conversation.
            for row in reversed(rows):
                log.info("answering event %s again: its owner stopped before answering", row.id)
                self._enqueue(self._owed_from(row), first=True)
            self._count(len(rows))

    @staticmethod
    def _owed_from(row: outbox.Owed) -> Owed:
        event = decode_event(codec.dumps(row.event))
        return Owed(row.id, event, Refs.from_json(row.refs), row.reply_to, row.traceparent, True)

    # -- settling ----------------------------------------------------------------------------

    def take_settled(self) -> Settled:
        """For the core's next recording transaction: `written` once it committed, else
        `give_back`."""
        if not self._ride_along:
            return Settled()
        self._taken_at = time.monotonic()
        taken, self.settled = self.settled, Settled()
        return taken

    def give_back(self, taken: Settled, *, suspect: bool = False) -> None:
        """Settlements whose transaction did not commit; `suspect` when they may be what
        failed it: they are then written on their own."""
        if not taken:
            return
        taken.merge(self.settled)
        self.settled = taken
        if suspect:
            self._ride_along = False
            self._settle_soon.set()

    def written(self, taken: Settled) -> None:
        for key in taken.keys:
            self._given.pop(key, None)

    async def _settle_idle(self) -> None:
        """Settle in a transaction of its own what the core has not taken within a moment.
        While the core is recording batches, they ride along with its next one instead (a
        transaction of their own each time cost a tenth of the service's CPU under load)."""
        delay = SETTLE_IDLE
        while not self._stop.is_set:
            await self._settle_soon.wait()
            self._settle_soon.clear()
            if await self._stop.pause(delay):
                return  # stop() settles what is left
            busy_for = CORE_ACTIVE - (time.monotonic() - self._taken_at)
            if self._ride_along and busy_for > 0:  # the core takes them with its next batch
                self._settle_soon.set()  # or, if it has gone idle, they are written then
                await self._stop.pause(busy_for)
                continue
            try:
                await self._settle_now()
                delay = SETTLE_IDLE
            except Exception:  # given back, and tried again later (logged in _settle_now)
                delay = min(delay * 4, 10)

    async def _settle_now(self) -> None:
        taken = self.take_settled()
        if not taken:
            return
        try:
            async with self.db.begin() as db:  # on SQLite: one hand-off, with the commit
                await before_commit(db, taken.write)
            self.written(taken)
            self._ride_along = True
        except Exception as exc:
            self.db.outage.failed(
                log, exc, "settling %d answers failed (%s); will retry", len(taken.ids), exc
            )
            self.give_back(taken)
            self._settle_soon.set()
            raise

    async def _every(self, seconds: float, work: Callable[[], Any]) -> None:
        while not self._stop.is_set:
            try:
                await work()
            except Exception as exc:
                name = getattr(work, "__name__", work)
                self.db.outage.failed(log, exc, "%s failed: %s", name, exc)
            await self._stop.pause(seconds)


def _result(published: list[Message]) -> dict[str, Any]:
    """The event's result: its actions as published (their JSON read back costs a fraction of
    dumping the models a second time, and is the same)."""
    return {"actions": [codec.loads(message.body) for message in published]}
