"""The core's share of the shard queues (docs/scaling.md).

Events reach one of `[bus] shards` queues by their conversation (gateway/bus/topology.py).
Each core consumes a shard queue only exclusively, so one core at a time records a
conversation; the broker drops an exclusive consumer with its connection, so a core that dies
(SIGKILL included) frees its shards at once, and its unacknowledged batch goes back to the head
of each queue for the next holder (the inbox drops what was recorded already).

Every core also consumes `botgate.core.members.<shards>`, whose consumer count is the number
of cores. Every `interval` a core holding more than its fair share (shards / cores, rounded
up) hands the surplus back and a core holding less claims free shards: cores joining or
leaving re-balance within a few intervals. The shard queues are declared single-active-consumer
too, so even a consumer that is not ours cannot split a conversation.

A shard is handed over in order: the consumer takes no more of its deliveries into a batch
and its deliveries stop (the lock kept), the batch in hand is committed and acknowledged, and
only then is the channel closed (the broker returns what was never started, in order, ahead
of newer messages) and the lock given up. The next holder never starts while this core still
records anything of the shard.

A core refuses to start while a core with another shard count is running, and drains the shard
queues of a larger layout left behind (their events are sent on to the shards of this one).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import replace
from typing import Any

from gateway.bus.base import Bus, Delivery, Failure, Handler, QueueInUse, Subscription
from gateway.bus.processing import dead_letter_now
from gateway.bus.topology import (
    CORE_QUEUE,
    EVENTS_EXCHANGE,
    HEADER_REROUTED,
    HEADER_SHARD,
    SHARDS_EXCHANGE,
    Binding,
    members_queue,
    shard_label,
    shard_of,
    shard_queue,
    shard_queue_name,
    shards_exchange,
    unrouted_exchange,
    unrouted_queue,
)
from gateway.errors import BusUnavailable, ConfigError, PermanentError
from gateway.events import decode_event
from gateway.loops import StopSignal, stop_between_passes
from gateway.metrics import Metrics

log = logging.getLogger(__name__)

REBALANCE_INTERVAL = 1.0
UNROUTED_PREFETCH = 50
RELEASE_TIMEOUT = 60.0  # seconds for the batch in hand to be settled before a hand-over


async def _nothing() -> None:
    return None


class ShardHolder:
    def __init__(
        self,
        bus: Bus,
        shards: int,
        *,
        intake: Handler,
        reroute: Handler,
        prefetch: int,
        on_claim: Callable[[], None] = lambda: None,
        between_batches: Callable[[], Awaitable[None]] = _nothing,
        interval: float = REBALANCE_INTERVAL,
        release_timeout: float = RELEASE_TIMEOUT,
    ) -> None:
        self.bus, self.shards, self.prefetch, self.interval = bus, shards, prefetch, interval
        self._intake, self._reroute, self._on_claim = intake, reroute, on_claim
        self._between_batches = between_batches  # returns once no batch is in hand
        self.release_timeout = release_timeout
        self.held: dict[int, Subscription] = {}
        self._releasing: dict[int, asyncio.Task[None]] = {}  # shards being handed back
        self._logged: set[int] = set()  # the shards the last "holding shards" line named
        self._holdings: dict[int, object] = {}  # shard -> the token of its current holding
        self._holding_of: weakref.WeakKeyDictionary[Delivery, tuple[int, object]] = (
            weakref.WeakKeyDictionary()
        )
        self._stale: list[str] = []  # shard queues of a larger layout, drained into this one
        self._draining: dict[str, Subscription] = {}
        self._fixed: list[Subscription] = []  # membership and the unrouted queue
        self._order = random.sample(range(shards), shards)  # cores look at free shards apart
        self._task: asyncio.Task[None] | None = None
        self._stop = StopSignal()

    async def start(self) -> None:
        await declare_topology(self.bus, self.shards)
        self._stale = await _stale_queues(self.bus, self.shards)
        await _check_layouts(self.bus, self.shards, self.shards + len(self._stale))
        if await self.bus.has_queue(CORE_QUEUE):  # from before sharding: drain it, then quiet
            await self.bus.unbind_queue(CORE_QUEUE, Binding(EVENTS_EXCHANGE, "#"))
            self._stale.insert(0, CORE_QUEUE)
        if self._stale:
            log.warning(
                "shard queues %s..%s are left from a layout with more shards than bus.shards = "
                "%d; their events are sent on to the current shards",
                self._stale[0],
                self._stale[-1],
                self.shards,
            )
        members = members_queue(self.shards).name
        self._fixed.append(await self.bus.consume(members, _keep_out, prefetch=1))
        self._fixed.append(
            await self.bus.consume(unrouted_queue().name, self._reroute, prefetch=UNROUTED_PREFETCH)
        )
        await self.balance()
        self._task = asyncio.create_task(self._keep_balancing(), name="core-shards")

    async def pause(self, grace: float) -> None:
        """The first half of a stop: no more deliveries from anywhere, the locks kept, so the
        consumer can finish its batch in hand before `stop`. Hand-overs under way get `grace`
        seconds to finish."""
        # Not a bare cancel-and-await: the cancel can be lost. On Python 3.11 an
        # `asyncio.wait_for` (aiormq's RPC timeouts, the control link's) whose answer arrives in
        # the loop pass of the cancel returns the answer and drops the cancel; the balancing
        # loop went on and this await never returned (a stop hung for good after an outage).
        # The loop also looks at the signal between passes, so it ends all the same.
        await stop_between_passes(self._stop, [self._task], grace=0)
        if self._releasing:
            _, late = await asyncio.wait(list(self._releasing.values()), timeout=grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        for subscription in [*self._draining.values(), *self._fixed]:
            await subscription.cancel()
        self._draining.clear()
        self._fixed.clear()
        for subscription in self.held.values():
            with contextlib.suppress(BusUnavailable):  # then `stop` closes it as it is
                await subscription.pause()

    async def stop(self) -> None:
        """Close the shards' consumers (the broker returns what they held, in order) and give
        their locks up."""
        await self.pause(0)
        for subscription in self.held.values():
            await subscription.cancel()
        self.held.clear()
        self._holdings.clear()

    async def _keep_balancing(self) -> None:
        while not await self._stop.pause(self.interval):
            try:
                await self.balance()
            except BusUnavailable as exc:  # the broker is away: the connection comes back
                log.warning("cannot re-balance the shards now: %s", exc)

    async def balance(self) -> None:
        """Hand back the surplus over a fair share, or claim free shards up to it."""
        lost = [index for index, subscription in self.held.items() if subscription.lost]
        if lost:  # their channels or locks are gone: another core may hold them now
            # INFO: the broker outage itself is the one WARNING (gateway/outage.py)
            log.info("lost shards %s with the broker connection; claiming again", _listed(lost))
        for index in lost:  # not paused: its consumer (or its lock) still keeps others out
            self._release(index, pause=False)
        share = math.ceil(self.shards / await self._cores())
        while len(self.held) > share:
            index = max(self.held)
            log.info("handing shard %d back (fair share: %d)", index, share)
            self._release(index, pause=True)
        for index in self._order:
            if len(self.held) >= share:
                break
            if index not in self.held and index not in self._releasing:
                await self._claim(index)
        if set(self.held) != self._logged:  # one line for what changed, not one per shard
            self._logged = set(self.held)
            log.info(
                "holding shards %s (%d of %d)",
                _listed(list(self.held)) or "none",
                len(self.held),
                self.shards,
            )
        await self._drain_stale()

    def _release(self, index: int, *, pause: bool) -> None:
        """Hand the shard back in the background: its batch in hand may take a while."""
        task = asyncio.create_task(self._hand_over(index, self.held.pop(index), pause))
        self._releasing[index] = task
        task.add_done_callback(lambda _: self._releasing.pop(index, None))

    async def _hand_over(self, index: int, subscription: Subscription, pause: bool) -> None:
        """Close the shard's consumer and give its lock up only once no batch of it is being
        recorded. Closed with a batch in hand (as before), the next holder began on the same
        events while this core still recorded them, and two cores recorded one conversation
        at once (docs/scaling.md). A shard lost with the connection is not paused: while its
        lock or its consumer is left, no other core takes it; when both are gone (the
        connection dropped), nothing here can keep the next holder waiting."""
        self._holdings.pop(index, None)  # from now the consumer takes none of its deliveries
        try:
            async with asyncio.timeout(self.release_timeout):
                if pause:
                    with contextlib.suppress(BusUnavailable):  # then the close stops them too
                        await subscription.pause()
                await self._between_batches()  # the batch in hand is committed and acked
        except TimeoutError:
            log.warning(
                "handing shard %d back: a batch was still being recorded after %gs; closing "
                "its consumer all the same",
                index,
                self.release_timeout,
            )
        finally:
            await subscription.cancel()  # the broker returns the rest, in order, ahead

    def still_held(self, delivery: Delivery) -> bool:
        """Whether the shard the delivery came from is still held as it was then. One that
        was handed back has been redelivered to the shard's next holder: recording it here
        too, after that core recorded later events of the conversation, would answer them
        out of order."""
        try:
            index, holding = self._holding_of.get(delivery, (None, None))
        except TypeError:  # not one of ours (it cannot be referred to weakly)
            return True
        return index is None or self._holdings.get(index) is holding

    async def _cores(self) -> int:
        stats = await self.bus.queue_stats(members_queue(self.shards).name)
        return max(1, stats.consumers if stats else 1)

    async def _claim(self, index: int) -> None:
        name = shard_queue_name(index)
        self._on_claim()  # before its first delivery can arrive
        holding = object()  # this holding of the shard, as against a later one

        def intake(delivery: Delivery) -> Coroutine[Any, Any, None] | None:
            self._holding_of[delivery] = (index, holding)
            return self._intake(delivery)

        # Held from before the consume: the first deliveries arrive while it is answered, and
        # one taken for a holding that ended would be left unsettled (see `still_held`). Set
        # only once the consume returned (as before), a waiting shard's first events were
        # left, or (earlier still) rejected to the back of the queue: recorded after later ones.
        self._holdings[index] = holding
        subscription: Subscription | None = None
        try:
            subscription = await _take(self.bus, name, intake, self.prefetch)
        finally:
            if subscription is None and self._holdings.get(index) is holding:
                del self._holdings[index]
        if subscription is not None:
            self.held[index] = subscription
            log.debug("holding shard %d", index)

    async def _drain_stale(self) -> None:
        for name in self._stale:
            current = self._draining.get(name)
            if current is None or current.lost:
                subscription = await _take(self.bus, name, self._reroute, self.prefetch)
                if subscription is not None:
                    self._draining[name] = subscription


async def declare_topology(bus: Bus, shards: int) -> None:
    """The sharding exchanges and queues; what is there already stays (idempotent)."""
    await bus.declare_exchange(unrouted_exchange())
    await bus.declare_exchange(shards_exchange())
    await bus.declare_queue(unrouted_queue())
    await bus.declare_queue(members_queue(shards))
    for index in range(shards):
        await bus.declare_queue(shard_queue(index, shards))


async def _take(bus: Bus, queue: str, handler: Handler, prefetch: int) -> Subscription | None:
    stats = await bus.queue_stats(queue)
    if stats is None or stats.consumers:
        return None
    try:
        return await bus.consume(queue, handler, prefetch=prefetch, exclusive=True)
    except QueueInUse:
        return None  # another core was quicker


async def _keep_out(delivery: Delivery) -> None:
    """Nothing is published to the members queue; whatever is, is dropped."""
    await delivery.ack()


class Rerouter:
    """Sends an event that reached no shard (the unrouted queue, a larger layout's queue, the
    queue from before sharding) on to its shard in this layout. An event stamped for another
    shard count means a process has another `bus.shards`: said once a minute, in one line."""

    def __init__(self, bus: Bus, shards: int, metrics: Metrics | None = None) -> None:
        self.bus, self.shards, self.metrics = bus, shards, metrics
        self._said_at = -math.inf

    async def __call__(self, delivery: Delivery) -> None:
        message = delivery.message
        try:
            event = decode_event(message.body, message.model)
        except PermanentError as exc:  # counted as the core counts an invalid event
            if self.metrics is not None:
                self.metrics.failed.labels("invalid").inc()
                self.metrics.dead.labels("invalid").inc()
            await dead_letter_now(delivery, Failure(str(exc), type(exc).__name__), self.metrics)
            return
        label = shard_label(shard_of(event.conversation_key, self.shards), self.shards)
        if message.headers.get(HEADER_REROUTED):
            reason = f"no shard queue is bound to {HEADER_SHARD} {label}"
            await dead_letter_now(delivery, Failure(reason), self.metrics)
            return
        self._tell(message.headers.get(HEADER_SHARD))
        headers = {**message.headers, HEADER_SHARD: label, HEADER_REROUTED: "1"}
        onward = replace(message, exchange=SHARDS_EXCHANGE, headers=headers, model=None)
        try:
            await self.bus.publish(onward)
        except BusUnavailable:
            await delivery.reject(requeue=True)
            return
        await delivery.ack()

    def _tell(self, stamped: str | None) -> None:
        if stamped is None or stamped.endswith(f"/{self.shards}"):
            return
        now = asyncio.get_running_loop().time()
        if now - self._said_at >= 60:
            self._said_at = now
            log.error(
                "bus.shards: events arrive stamped for shard %s but this core has bus.shards = "
                "%d; give every process the same bus.shards (they are sent on meanwhile)",
                stamped,
                self.shards,
            )


async def _stale_queues(bus: Bus, shards: int) -> list[str]:
    """`botgate.core.<shards>` and up, while they exist: a larger layout's shards."""
    stale: list[str] = []
    index = shards
    while await bus.has_queue(shard_queue_name(index)):
        stale.append(shard_queue_name(index))
        index += 1
    return stale


async def _check_layouts(bus: Bus, shards: int, limit: int) -> None:
    """Refuse to run beside a core with another shard count: between them they would hand
    one conversation to two cores. A layout no core runs any more loses its bindings."""
    for other in range(1, limit + 1):
        if other == shards:
            continue
        stats = await bus.queue_stats(members_queue(other).name)
        if stats is None:
            continue
        if stats.consumers:
            raise ConfigError(
                f"bus.shards: this core has {shards} shards but {stats.consumers} running "
                f"core(s) have {other}; give every process the same bus.shards (to change it, "
                "stop the gateways, let the cores drain the queues, then restart all)"
            )
        await _forget_layout(bus, other)


async def _forget_layout(bus: Bus, shards: int) -> None:
    """Unbind a stopped layout's shard labels, so that a process still stamping events for it
    sends them to the unrouted queue (and on to the right shard) rather than split them."""
    for index in range(shards):
        queue = shard_queue(index, shards)
        for binding in queue.bindings:
            await bus.unbind_queue(queue.name, binding)
    await bus.delete_queue(members_queue(shards).name)


def _listed(indexes: list[int]) -> str:
    return ", ".join(str(index) for index in sorted(indexes))
