"""The in-process bus (`memory://`): the same routing, acknowledgement, redelivery and
dead-lettering as RabbitMQ, for the embedded mode and for tests.

Every `MemoryBus` of one process with the same URL shares one `MemoryBroker`, so roles run
in one process talk to each other as they would through RabbitMQ.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import ClassVar

from gateway.bus.base import (
    Delivery,
    Failure,
    Handler,
    Message,
    QueueInUse,
    QueueStats,
    dead_copy,
    start_handling,
)
from gateway.bus.topology import (
    DEFAULT_EXCHANGE,
    EXCHANGES,
    Binding,
    ExchangeSpec,
    QueueSpec,
    dead_queue,
    topic_matches,
)
from gateway.errors import BusUnavailable
from gateway.outage import Outage, is_bus_outage


@dataclass
class _Queue:
    spec: QueueSpec
    ready: deque[tuple[Message, int]] = field(default_factory=deque)
    consumers: list[_Consumer] = field(default_factory=list)
    turn: itertools.count[int] = field(default_factory=itertools.count)

    def locked(self) -> bool:
        return any(consumer.exclusive for consumer in self.consumers)


# Where a message goes from one exchange: queues, and exchanges bound to it
_Route = tuple[list[str], list[str]]


class MemoryBroker:
    """Exchanges, bindings and queues of one in-process bus."""

    _brokers: ClassVar[dict[str, MemoryBroker]] = {}

    def __init__(self) -> None:
        self.queues: dict[str, _Queue] = {}
        self.exchanges: set[str] = set(EXCHANGES)
        self.private: dict[str, ExchangeSpec] = {}  # declared with declare_exchange
        self.refuse_publishes = False  # simulates a broker that cannot confirm
        # (exchange, routing key or header values) -> where it goes; dropped when bindings change
        self._routes: dict[tuple[str, str], _Route] = {}
        self._header_names_of: dict[str, list[str]] = {}  # headers exchange -> names bound on

    @classmethod
    def named(cls, name: str) -> MemoryBroker:
        return cls._brokers.setdefault(name, cls())

    @classmethod
    def forget(cls, name: str) -> None:
        cls._brokers.pop(name, None)

    def declare(self, spec: QueueSpec) -> None:
        queue = self.queues.get(spec.name)
        if queue is None:
            self.queues[spec.name] = _Queue(spec)
        elif set(spec.bindings) - set(queue.spec.bindings):
            merged = tuple(dict.fromkeys(queue.spec.bindings + spec.bindings))
            queue.spec = replace(queue.spec, bindings=merged)
        self._changed()

    def declare_exchange(self, spec: ExchangeSpec) -> None:
        known = self.private.get(spec.name)
        if known is not None:
            sources = tuple(dict.fromkeys(known.sources + spec.sources))
            spec = replace(spec, sources=sources)
        self.private[spec.name] = spec
        self.exchanges.add(spec.name)
        self._changed()

    def unbind(self, name: str, binding: Binding) -> None:
        queue = self.queues.get(name)
        if queue is not None and binding in queue.spec.bindings:
            kept = tuple(b for b in queue.spec.bindings if b != binding)
            queue.spec = replace(queue.spec, bindings=kept)
            self._changed()

    def remove(self, name: str) -> None:
        self.queues.pop(name, None)
        self._changed()

    def route(self, message: Message) -> None:
        for name in dict.fromkeys(self._targets(message.exchange, message)):
            queue = self.queues[name]
            queue.ready.append((message, 1))
            if queue.spec.ttl_s is not None:
                self._expire_later(queue)
            self.dispatch(queue)

    def _expire_later(self, queue: _Queue) -> None:
        """A delay queue: its oldest message moves on after the queue's TTL. One TTL for the
        whole queue, so messages expire in the order they came."""
        assert queue.spec.ttl_s is not None
        asyncio.get_running_loop().call_later(queue.spec.ttl_s, self._expire, queue)

    def _expire(self, queue: _Queue) -> None:
        if not queue.ready or self.queues.get(queue.spec.name) is not queue:
            return
        message, _attempt = queue.ready.popleft()
        target = queue.spec.dead_letter_to
        if target is not None:
            self.route(replace(message, exchange=DEFAULT_EXCHANGE, routing_key=target))

    def _targets(self, exchange: str, message: Message) -> list[str]:
        """The queues a message reaches from `exchange`, through the exchanges bound to it
        and, where an exchange routes it nowhere, through its alternate exchange."""
        spec = self.private.get(exchange)
        if spec is None or spec.kind == "topic":
            queues, exchanges = self._bound(exchange, message.routing_key)
        else:
            queues, exchanges = self._matched(spec, message)
        names = list(queues)
        for downstream in exchanges:
            names.extend(self._targets(downstream, message))
        if not queues and not exchanges and spec is not None and spec.alternate:
            names.extend(self._targets(spec.alternate, message))
        return names

    def _bound(self, exchange: str, routing_key: str) -> _Route:
        """Topic matching, done once per routing key."""
        key = (exchange, routing_key)
        route = self._routes.get(key)
        if route is None:
            if exchange == DEFAULT_EXCHANGE:
                route = ([routing_key] if routing_key in self.queues else [], [])
            else:
                route = (
                    [name for name, q in self.queues.items() if _topic(q.spec.bindings, key)],
                    [name for name, x in self.private.items() if _topic(x.sources, key)],
                )
            self._cache(key, route)
        return route

    def _matched(self, spec: ExchangeSpec, message: Message) -> _Route:
        """A headers exchange (one header per binding, matched exactly) or a fanout."""
        values = ""
        if spec.kind == "headers":
            names = self._header_names(spec.name)
            values = "\0".join(message.headers.get(name, "\1") for name in names)
        key = (spec.name, values)
        route = self._routes.get(key)
        if route is None:
            headers = message.headers if spec.kind == "headers" else None
            route = (
                [n for n, q in self.queues.items() if _takes(spec.name, q.spec.bindings, headers)],
                [n for n, x in self.private.items() if _takes(spec.name, x.sources, headers)],
            )
            self._cache(key, route)
        return route

    def _header_names(self, exchange: str) -> list[str]:
        names = self._header_names_of.get(exchange)
        if names is None:
            names = self._header_names_of[exchange] = self._find_header_names(exchange)
        return names

    def _find_header_names(self, exchange: str) -> list[str]:
        bindings = [b for q in self.queues.values() for b in q.spec.bindings]
        bindings += [b for x in self.private.values() for b in x.sources]
        return sorted({b.header[0] for b in bindings if b.exchange == exchange and b.header})

    def _changed(self) -> None:
        self._routes.clear()
        self._header_names_of.clear()

    def _cache(self, key: tuple[str, str], route: _Route) -> None:
        if len(self._routes) > 10_000:  # routing keys are few; never let it grow unbounded
            self._changed()
        self._routes[key] = route

    def requeue(self, queue: _Queue, message: Message, attempt: int) -> None:
        queue.ready.appendleft((message, _next_attempt(queue.spec, attempt)))
        self.dispatch(queue)

    def dispatch(self, queue: _Queue) -> None:
        while queue.ready:
            consumer = self._free_consumer(queue)
            if consumer is None:
                return
            message, attempt = queue.ready.popleft()
            consumer.deliver(_MemoryDelivery(self, queue, consumer, message, attempt))

    def _free_consumer(self, queue: _Queue) -> _Consumer | None:
        if queue.spec.single_active:  # only the oldest consumer gets messages
            first = queue.consumers[0] if queue.consumers else None
            return first if first is not None and first.has_capacity() else None
        count = len(queue.consumers)
        start = next(queue.turn)
        for i in range(count):
            consumer = queue.consumers[(start + i) % count]
            if consumer.has_capacity():
                return consumer
        return None


def _topic(bindings: tuple[Binding, ...], key: tuple[str, str]) -> bool:
    exchange, routing_key = key
    return any(
        b.exchange == exchange and b.header is None and topic_matches(b.pattern, routing_key)
        for b in bindings
    )


def _takes(exchange: str, bindings: tuple[Binding, ...], headers: Mapping[str, str] | None) -> bool:
    """Bound to a fanout (`headers` None), or to a headers exchange by a header it has."""
    for b in bindings:
        if b.exchange != exchange:
            continue
        if headers is None or (b.header is not None and headers.get(b.header[0]) == b.header[1]):
            return True
    return False


def _next_attempt(spec: QueueSpec, attempt: int) -> int:
    """Quorum queues count deliveries; a classic queue only knows "redelivered" (attempt 2)."""
    counts = spec.quorum and spec.durable and not spec.exclusive
    return attempt + 1 if counts else 2


class _Consumer:
    def __init__(
        self,
        broker: MemoryBroker,
        queue: _Queue,
        handler: Handler,
        prefetch: int,
        exclusive: bool = False,
    ):
        self.broker, self.queue, self.handler, self.prefetch = broker, queue, handler, prefetch
        self.exclusive = exclusive
        self.unsettled: set[_MemoryDelivery] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.active = True
        self.paused = False  # still the queue's consumer (a single-active queue waits for it)

    def has_capacity(self) -> bool:
        # prefetch 0 means no limit, as in AMQP's basic.qos
        return (
            self.active
            and not self.paused
            and (self.prefetch <= 0 or len(self.unsettled) < self.prefetch)
        )

    def deliver(self, delivery: _MemoryDelivery) -> None:
        self.unsettled.add(delivery)
        work = start_handling(self.handler, delivery)
        if work is None:
            return  # taken: the handler has no work of its own to run
        task = asyncio.get_running_loop().create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def settled(self, delivery: _MemoryDelivery) -> None:
        self.unsettled.discard(delivery)
        self.broker.dispatch(self.queue)

    async def cancel(self) -> None:
        if not self.active:
            return
        self.active = False
        if self in self.queue.consumers:
            self.queue.consumers.remove(self)
        # All back at the head, in their order, before anyone gets one (single active consumer)
        for delivery in sorted(self.unsettled, key=lambda d: d.sequence, reverse=True):
            delivery.settled_as = "returned"
            attempt = _next_attempt(self.queue.spec, delivery.attempt)
            self.queue.ready.appendleft((delivery.message, attempt))
        self.unsettled.clear()
        self.broker.dispatch(self.queue)


class _MemoryDelivery:
    _sequence = itertools.count()

    def __init__(
        self,
        broker: MemoryBroker,
        queue: _Queue,
        consumer: _Consumer,
        message: Message,
        attempt: int,
    ) -> None:
        self.broker, self.queue, self.consumer = broker, queue, consumer
        self.message, self.attempt = message, attempt
        self.sequence = next(self._sequence)
        self.settled_as: str | None = None

    def _settle(self, how: str) -> bool:
        if self.settled_as is not None:
            return False  # settling twice (or after the consumer went away) is a no-op
        self.settled_as = how
        self.consumer.settled(self)
        return True

    async def ack(self) -> None:
        self._settle("ack")

    async def reject(self, *, requeue: bool) -> None:
        if self._settle("reject") and requeue:
            self.broker.requeue(self.queue, self.message, self.attempt)

    async def dead_letter(self, failure: Failure) -> None:
        if self.settled_as is not None:
            return
        if self.broker.refuse_publishes:
            raise BusUnavailable("the in-process broker refused the message (simulated outage)")
        self.broker.route(dead_copy(self.message, failure, self.queue.spec.name, self.attempt))
        self._settle("dead")


class _MemorySubscription:
    def __init__(self, consumer: _Consumer) -> None:
        self._consumer = consumer

    async def cancel(self) -> None:
        await self._consumer.cancel()

    async def pause(self) -> None:
        self._consumer.paused = True

    @property
    def lost(self) -> bool:
        return False  # the in-process broker never drops a connection


class MemoryBus:
    """`memory://[name]`: an in-process broker shared by every bus of the same name."""

    def __init__(self, url: str = "memory://") -> None:
        self.url_for_display = url
        self.outage = Outage(f"the bus {url}", is_outage=is_bus_outage)  # only once closed
        self._name = url.removeprefix("memory://") or "default"
        self._broker: MemoryBroker | None = None
        self._consumers: list[_Consumer] = []
        self._exclusive: set[str] = set()

    @property
    def broker(self) -> MemoryBroker:
        if self._broker is None:
            raise BusUnavailable("the bus is not connected")
        return self._broker

    async def connect(self) -> None:
        self._broker = MemoryBroker.named(self._name)
        self._broker.declare(dead_queue())

    async def close(self) -> None:
        for consumer in self._consumers:
            await consumer.cancel()
        for task in [t for c in self._consumers for t in c.tasks]:
            task.cancel()
        self._consumers.clear()
        for name in self._exclusive:  # exclusive queues die with their connection
            self.broker.remove(name)
        self._exclusive.clear()
        self._broker = None

    async def publish(self, message: Message) -> None:
        broker = self.broker
        if broker.refuse_publishes:
            raise BusUnavailable("the in-process broker refused the message (simulated outage)")
        if message.exchange != DEFAULT_EXCHANGE and message.exchange not in broker.exchanges:
            raise BusUnavailable(f"exchange {message.exchange!r} is not declared")
        broker.route(message)

    async def declare_queue(self, spec: QueueSpec) -> None:
        self.broker.declare(spec)
        if spec.exclusive:
            self._exclusive.add(spec.name)

    async def declare_exchange(self, spec: ExchangeSpec) -> None:
        self.broker.declare_exchange(spec)

    async def unbind_queue(self, name: str, binding: Binding) -> None:
        self.broker.unbind(name, binding)

    async def delete_queue(self, name: str) -> None:
        self.broker.remove(name)

    async def has_queue(self, name: str) -> bool:
        return name in self.broker.queues

    async def consume(
        self, queue: str, handler: Handler, *, prefetch: int, exclusive: bool = False
    ) -> _MemorySubscription:
        broker = self.broker
        if queue not in broker.queues:
            raise BusUnavailable(f"queue {queue!r} is not declared")
        target = broker.queues[queue]
        if exclusive and target.locked():
            raise QueueInUse(f"queue {queue!r} has a consumer that holds it exclusively")
        consumer = _Consumer(broker, target, handler, prefetch, exclusive)
        target.consumers.append(consumer)
        self._consumers.append(consumer)
        broker.dispatch(target)
        return _MemorySubscription(consumer)

    async def ack_all(self, deliveries: Sequence[Delivery]) -> None:
        for delivery in deliveries:
            await delivery.ack()

    async def queue_depth(self, name: str) -> int:
        queue = self.broker.queues.get(name)
        return len(queue.ready) if queue else 0

    async def queue_stats(self, name: str) -> QueueStats | None:
        queue = self.broker.queues.get(name)
        return QueueStats(len(queue.ready), len(queue.consumers)) if queue else None

    async def healthy(self) -> bool:
        return self._broker is not None and not self._broker.refuse_publishes
