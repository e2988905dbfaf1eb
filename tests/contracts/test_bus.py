"""The bus conformance suite: every test runs on `memory://` and on the real RabbitMQ.

Where a test must show that something did *not* arrive, it publishes a later message to the
same queue and waits for that one: queues are FIFO, so everything before it has been seen.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace

import pytest

from gateway.bus.base import Bus, Delivery, Failure, Message, QueueStats
from gateway.bus.factory import create_bus
from gateway.bus.topology import (
    DEAD_EXCHANGE,
    DEAD_QUEUE,
    DEFAULT_EXCHANGE,
    EVENTS_EXCHANGE,
    HEADER_ATTEMPTS,
    HEADER_ERROR,
    HEADER_ORIGIN_EXCHANGE,
    HEADER_ORIGIN_QUEUE,
    HEADER_REASON,
    Binding,
    QueueSpec,
    topic_matches,
)
from gateway.errors import BusUnavailable
from tests.contracts.inbox import WAIT, Inbox, wait_for_all
from tests.contracts.routing_table import ROUTES
from tests.support.pipeline import eventually

QUEUE = "test.work"
QUEUE_KINDS = {
    "quorum": QueueSpec(QUEUE, (Binding(EVENTS_EXCHANGE, "#"),)),
    "classic": QueueSpec(QUEUE, (Binding(EVENTS_EXCHANGE, "#"),), quorum=False),
}


@pytest.fixture
async def work_queue(bus: Bus) -> str:
    await bus.declare_queue(QUEUE_KINDS["quorum"])
    return QUEUE


def event(message_id: str, routing_key: str = "telegram.helpdesk.message.created") -> Message:
    return Message(EVENTS_EXCHANGE, routing_key, b'{"n": 1}', message_id)


def to_queue(queue: str, message_id: str) -> Message:
    return Message(DEFAULT_EXCHANGE, queue, b"{}", message_id)


def ids(deliveries: list[Delivery]) -> list[str]:
    return [delivery.message.message_id for delivery in deliveries]


async def test_round_trip_keeps_id_headers_and_content_type(bus: Bus, work_queue: str) -> None:
    inbox = Inbox()
    await bus.consume(work_queue, inbox, prefetch=10)
    sent = Message(
        EVENTS_EXCHANGE,
        "telegram.helpdesk.message.created",
        '{"text": "héllo"}'.encode(),
        "0192f7c2-1b2a-7c3d-8e4f-0123456789ab",
        {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "x-k": "v"},
        reply_to="botgate.replies.1",
        content_type="application/vnd.botgate.event+json",
    )
    await bus.publish(sent)
    received = await inbox.next()
    assert received.message == sent
    assert received.attempt == 1
    await received.ack()


@pytest.mark.parametrize(("pattern", "routing_key", "matches"), ROUTES)
def test_topic_matcher_follows_the_table(pattern: str, routing_key: str, matches: bool) -> None:
    assert topic_matches(pattern, routing_key) is matches


async def test_bindings_route_as_the_table_says(bus: Bus) -> None:
    patterns = sorted({pattern for pattern, _, _ in ROUTES})
    keys = sorted({key for _, key, _ in ROUTES})
    queues = {pattern: f"route.{i}" for i, pattern in enumerate(patterns)}
    for pattern, queue in queues.items():
        await bus.declare_queue(
            QueueSpec(queue, (Binding(EVENTS_EXCHANGE, pattern),), durable=False, exclusive=True)
        )
    for key in keys:
        await bus.publish(event(key, routing_key=key))
    routed = {pattern: await _drain(bus, queue) for pattern, queue in queues.items()}

    for pattern, key, matches in ROUTES:
        assert (key in routed[pattern]) is matches, (pattern, key)
    for pattern in patterns:  # and every other pair agrees with the matcher
        assert routed[pattern] == {k for k in keys if topic_matches(pattern, k)}, pattern


async def _drain(bus: Bus, queue: str) -> set[str]:
    """Message ids routed to `queue` so far, found by sending a marker behind them."""
    await bus.publish(to_queue(queue, "marker"))
    inbox = Inbox()
    subscription = await bus.consume(queue, inbox, prefetch=100)
    received = await inbox.until("marker")
    for delivery in received:
        await delivery.ack()
    await subscription.cancel()
    return set(ids(received))


async def test_prefetch_limits_unsettled_messages(bus: Bus, work_queue: str) -> None:
    for n in range(5):
        await bus.publish(event(f"m{n}"))
    inbox = Inbox()
    await bus.consume(work_queue, inbox, prefetch=2)
    first = await inbox.take(2)
    assert await bus.queue_depth(work_queue) == 3
    assert inbox.pending() == 0

    await first[0].ack()
    third = await inbox.next()
    assert ids([*first, third]) == ["m0", "m1", "m2"]
    assert await bus.queue_depth(work_queue) == 2


async def test_prefetch_bounds_concurrent_handlers(bus: Bus, work_queue: str) -> None:
    in_hand, peak, done = 0, 0, asyncio.Event()
    handled: list[str] = []

    async def slow(delivery: Delivery) -> None:
        nonlocal in_hand, peak
        in_hand += 1
        peak = max(peak, in_hand)
        await asyncio.sleep(0.01)  # simulated work, giving the bus room to over-deliver
        in_hand -= 1
        handled.append(delivery.message.message_id)
        await delivery.ack()
        if len(handled) == 20:
            done.set()

    await bus.consume(work_queue, slow, prefetch=3)
    await asyncio.gather(*(bus.publish(event(f"m{n}")) for n in range(20)))
    await wait_for_all(done)
    assert peak == 3
    assert sorted(handled) == sorted(f"m{n}" for n in range(20))


@pytest.mark.parametrize(("kind", "third_attempt"), [("quorum", 3), ("classic", 2)])
async def test_reject_with_requeue_redelivers_with_a_higher_attempt(
    bus: Bus, kind: str, third_attempt: int
) -> None:
    # A classic queue only knows "redelivered", so its attempts stop at 2.
    await bus.declare_queue(QUEUE_KINDS[kind])
    inbox = Inbox()
    await bus.consume(QUEUE, inbox, prefetch=10)
    await bus.publish(event("m1"))
    attempts = []
    for _ in range(3):
        delivery = await inbox.next()
        assert delivery.message.message_id == "m1"
        attempts.append(delivery.attempt)
        await delivery.reject(requeue=True)
    assert attempts == [1, 2, third_attempt]
    await (await inbox.next()).ack()


async def test_reject_without_requeue_drops_the_message(bus: Bus, work_queue: str) -> None:
    inbox = Inbox()
    await bus.consume(work_queue, inbox, prefetch=10)
    await bus.publish(event("m1"))
    await (await inbox.next()).reject(requeue=False)
    await bus.publish(event("m2"))
    assert ids(await inbox.take(1)) == ["m2"]


async def test_dead_letter_moves_the_message_to_botgate_dead(bus: Bus, work_queue: str) -> None:
    inbox, dead = Inbox(), Inbox()
    await bus.consume(work_queue, inbox, prefetch=10)
    await bus.consume(DEAD_QUEUE, dead, prefetch=10)
    sent = Message(EVENTS_EXCHANGE, "slack.helpdesk.message.created", b"{}", "m1", {"x-k": "v"})
    await bus.publish(sent)
    await (await inbox.next()).dead_letter(
        Failure("schema botgate.event/0 is not supported", "PermanentError")
    )

    moved = await dead.next()
    assert moved.message.exchange == DEAD_EXCHANGE
    assert moved.message.routing_key == sent.routing_key
    assert (moved.message.message_id, moved.message.body) == (sent.message_id, sent.body)
    assert moved.message.headers == {
        "x-k": "v",
        HEADER_REASON: "schema botgate.event/0 is not supported",
        HEADER_ORIGIN_EXCHANGE: EVENTS_EXCHANGE,
        HEADER_ORIGIN_QUEUE: work_queue,
        HEADER_ERROR: "PermanentError",
        HEADER_ATTEMPTS: "1",
    }
    await moved.ack()
    await bus.publish(event("m2"))  # the dead-lettered message was acked, not requeued
    assert ids(await inbox.take(1)) == ["m2"]


async def test_settling_twice_is_a_no_op(bus: Bus, work_queue: str) -> None:
    inbox = Inbox()
    await bus.consume(work_queue, inbox, prefetch=10)
    await bus.publish(event("m1"))
    delivery = await inbox.next()
    await delivery.ack()
    await delivery.ack()
    await delivery.reject(requeue=True)
    await delivery.dead_letter(Failure("too late"))
    await bus.publish(event("m2"))
    assert ids(await inbox.take(1)) == ["m2"]
    assert await bus.queue_depth(DEAD_QUEUE) == 0


async def test_cancel_returns_unsettled_messages_to_another_consumer(
    bus: Bus, work_queue: str
) -> None:
    for n in range(3):
        await bus.publish(event(f"m{n}"))
    first = Inbox()
    subscription = await bus.consume(work_queue, first, prefetch=10)
    held = await first.take(3)
    await held[0].ack()
    await subscription.cancel()

    second = Inbox()
    await bus.consume(work_queue, second, prefetch=10)
    returned = await second.take(2)
    assert sorted(ids(returned)) == ["m1", "m2"]
    assert [delivery.attempt for delivery in returned] == [2, 2]
    await held[1].ack()  # settling after cancel changes nothing: the queue has it back
    await bus.publish(event("m3"))
    assert ids(await second.take(1)) == ["m3"]
    assert first.pending() == 0


async def test_default_exchange_routes_to_the_queue_by_name(bus: Bus) -> None:
    await bus.declare_queue(QueueSpec("botgate.replies.1", durable=False, exclusive=True))
    inbox = Inbox()
    await bus.consume("botgate.replies.1", inbox, prefetch=10)
    await bus.publish(to_queue("botgate.replies.1", "r1"))
    received = await inbox.next()
    assert (received.message.exchange, received.message.routing_key) == (
        DEFAULT_EXCHANGE,
        "botgate.replies.1",
    )
    assert received.message.message_id == "r1"


async def test_a_consumer_in_the_publishing_process_gets_the_publishers_model(
    bus: Bus, work_queue: str
) -> None:
    model = object()
    inbox = Inbox()
    await bus.consume(work_queue, inbox, prefetch=10)
    await bus.publish(replace(event("m1"), model=model))
    await bus.publish(event("m2"))  # published without a model: parsed by whoever consumes
    await bus.publish(replace(event("m1"), model=model))  # same id again: kept again
    received = await inbox.take(3)
    assert [d.message.model for d in received] == [model, None, model]
    assert received[0].message.body == event("m1").body


async def test_unroutable_publishes_do_not_raise(bus: Bus) -> None:
    await bus.publish(event("m1", routing_key="nobody.listens.here"))
    await bus.publish(to_queue("no-such-queue", "m2"))


async def test_publish_to_an_undeclared_exchange_raises(bus: Bus) -> None:
    with pytest.raises(BusUnavailable):
        await bus.publish(Message("no.such.exchange", "a", b"{}", "m1"))


async def test_queue_depth_counts_ready_messages(bus: Bus, work_queue: str) -> None:
    assert await bus.queue_depth(work_queue) == 0
    await asyncio.gather(*(bus.publish(event(f"m{n}")) for n in range(50)))
    assert await bus.queue_depth(work_queue) == 50
    assert await bus.queue_depth("no-such-queue") == 0


async def test_queue_stats_count_ready_messages_and_consumers(bus: Bus, work_queue: str) -> None:
    assert await bus.queue_stats(work_queue) == QueueStats(ready=0, consumers=0)
    await asyncio.gather(*(bus.publish(event(f"m{n}")) for n in range(3)))
    inbox = Inbox()
    subscription = await bus.consume(work_queue, inbox, prefetch=1)
    await inbox.next()  # one in the consumer's hands: not counted as ready

    assert await bus.queue_stats(work_queue) == QueueStats(ready=2, consumers=1)
    await subscription.cancel()
    # the broker settles a closed channel's messages and consumer after it answered the close
    await eventually(lambda: _stats_are(bus, work_queue, QueueStats(ready=3, consumers=0)))
    assert await bus.queue_stats("no-such-queue") is None


async def _stats_are(bus: Bus, queue: str, expected: QueueStats) -> bool:
    return await bus.queue_stats(queue) == expected


async def test_unbinding_stops_routing_that_pattern_only(bus: Bus) -> None:
    joined, created = "*.helpdesk.member.joined", "*.helpdesk.message.created"
    spec = QueueSpec(QUEUE, (Binding(EVENTS_EXCHANGE, joined), Binding(EVENTS_EXCHANGE, created)))
    await bus.declare_queue(spec)
    inbox = Inbox()
    await bus.consume(QUEUE, inbox, prefetch=10)

    await bus.unbind_queue(QUEUE, Binding(EVENTS_EXCHANGE, joined))
    await bus.unbind_queue(QUEUE, Binding(EVENTS_EXCHANGE, "a.pattern.never.bound"))
    await bus.unbind_queue("no-such-queue", Binding(EVENTS_EXCHANGE, joined))
    await bus.publish(event("joined", "slack.helpdesk.member.joined"))
    await bus.publish(event("created", "slack.helpdesk.message.created"))

    assert ids(await inbox.until("created")) == []  # the joined event went nowhere
    await bus.publish(event("m2"))  # the bus still works after the failed unbinds


async def test_two_consumers_share_a_queue(bus: Bus, work_queue: str) -> None:
    received: dict[str, list[str]] = {"a": [], "b": []}
    all_in = asyncio.Event()

    def consumer(name: str) -> Callable[[Delivery], Awaitable[None]]:
        async def handle(delivery: Delivery) -> None:
            received[name].append(delivery.message.message_id)
            await delivery.ack()
            if sum(map(len, received.values())) == 20:
                all_in.set()

        return handle

    await bus.consume(work_queue, consumer("a"), prefetch=1)
    await bus.consume(work_queue, consumer("b"), prefetch=1)
    for n in range(20):
        await bus.publish(event(f"m{n}"))
    await wait_for_all(all_in)
    assert received["a"]
    assert received["b"]
    assert sorted(received["a"] + received["b"]) == sorted(f"m{n}" for n in range(20))


async def test_consume_from_an_undeclared_queue_raises(bus: Bus) -> None:
    with pytest.raises(BusUnavailable):
        await bus.consume("no-such-queue", Inbox(), prefetch=1)


async def test_exclusive_queues_die_with_their_connection(bus: Bus, bus_url: str) -> None:
    owner = create_bus(bus_url)
    await owner.connect()
    await owner.declare_queue(QueueSpec("botgate.temp", durable=False, exclusive=True))
    await owner.close()
    with pytest.raises(BusUnavailable):
        await bus.consume("botgate.temp", Inbox(), prefetch=1)


async def test_a_closed_bus_refuses_to_publish(bus_url: str) -> None:
    bus = create_bus(bus_url)
    await bus.connect()
    assert await bus.healthy()
    await bus.close()
    assert not await bus.healthy()
    with pytest.raises(BusUnavailable):
        await bus.publish(event("m1"))


async def test_a_handler_runs_while_earlier_ones_wait(bus: Bus, work_queue: str) -> None:
    release = asyncio.Event()
    started: list[str] = []
    both_started = asyncio.Event()

    async def waits(delivery: Delivery) -> None:
        started.append(delivery.message.message_id)
        if len(started) == 2:
            both_started.set()
        await asyncio.wait_for(release.wait(), WAIT)
        await delivery.ack()

    await bus.consume(work_queue, waits, prefetch=2)
    await bus.publish(event("m1"))
    await bus.publish(event("m2"))
    await wait_for_all(both_started)  # the second started although the first had not finished
    assert started == ["m1", "m2"]
    release.set()


async def test_bindings_made_later_apply_to_later_publishes(bus: Bus) -> None:
    key = "slack.helpdesk.message.created"
    first = QueueSpec("late.first", (Binding(EVENTS_EXCHANGE, "slack.#"),), durable=False)
    second = QueueSpec("late.second", (Binding(EVENTS_EXCHANGE, "*.helpdesk.*.*"),), durable=False)
    await bus.declare_queue(first)
    await bus.publish(event("before", routing_key=key))
    await bus.declare_queue(second)  # the route of `key` is known now: it must take this in
    await bus.publish(event("after", routing_key=key))
    await bus.delete_queue(first.name)
    await bus.publish(event("deleted", routing_key=key))  # goes to `second` only, no error

    assert await _drain(bus, second.name) == {"after", "deleted"}
    await bus.delete_queue(second.name)


async def test_a_handler_that_only_takes_deliveries_gets_them_in_order(
    bus: Bus, work_queue: str
) -> None:
    taken: list[Delivery] = []
    all_taken = asyncio.Event()

    def take(delivery: Delivery) -> None:  # returns no work: the bus runs no task for it
        taken.append(delivery)
        if len(taken) == 3:
            all_taken.set()

    await bus.consume(work_queue, take, prefetch=10)
    for n in range(3):
        await bus.publish(event(f"taken-{n}"))
    await wait_for_all(all_taken)

    assert ids(taken) == ["taken-0", "taken-1", "taken-2"]
    for delivery in taken:
        await delivery.ack()


async def test_a_taking_handler_that_raises_leaves_the_message_to_be_redelivered(
    bus: Bus, work_queue: str
) -> None:
    taken: list[Delivery] = []
    later_taken = asyncio.Event()

    def take(delivery: Delivery) -> None:
        if delivery.message.message_id == "refused":
            raise RuntimeError("cannot take it")
        taken.append(delivery)
        later_taken.set()

    subscription = await bus.consume(work_queue, take, prefetch=10)
    await bus.publish(event("refused"))
    await bus.publish(event("later"))
    await wait_for_all(later_taken)
    assert ids(taken) == ["later"]  # the failure stopped nothing
    await taken[0].ack()
    await subscription.cancel()

    inbox = Inbox()
    await bus.consume(work_queue, inbox, prefetch=10)
    again = await inbox.next()
    assert again.message.message_id == "refused"
    assert again.attempt == 2
    await again.ack()


async def test_a_single_active_queue_feeds_one_consumer_until_it_goes(bus: Bus) -> None:
    spec = QueueSpec("test.single", single_active=True)
    await bus.declare_queue(spec)
    first, second = Inbox(), Inbox()
    one = await bus.consume(spec.name, first, prefetch=10)
    await bus.consume(spec.name, second, prefetch=10)
    for n in range(4):
        await bus.publish(to_queue(spec.name, f"m{n}"))
    taken = await first.take(4)
    assert ids(taken) == ["m0", "m1", "m2", "m3"]
    assert second.pending() == 0
    await taken[0].ack()
    await one.cancel()  # the rest go back, in order, to the consumer next in line
    assert ids(await second.take(3)) == ["m1", "m2", "m3"]


async def test_a_delay_queue_moves_messages_on_after_its_ttl_in_order(bus: Bus) -> None:
    target = QueueSpec("test.target", quorum=False)
    delay = QueueSpec("test.delay", quorum=False, ttl_s=0.2, dead_letter_to=target.name)
    await bus.declare_queue(target)
    await bus.declare_queue(delay)
    inbox = Inbox()
    await bus.consume(target.name, inbox, prefetch=10)
    loop = asyncio.get_running_loop()
    started = loop.time()
    for n in range(3):
        await bus.publish(Message(DEFAULT_EXCHANGE, delay.name, b"{}", f"d{n}", {"k": str(n)}))
    back = await inbox.take(3)
    assert loop.time() - started >= 0.19
    assert ids(back) == ["d0", "d1", "d2"]
    assert [d.message.headers["k"] for d in back] == ["0", "1", "2"]
    assert await bus.queue_depth(delay.name) == 0
