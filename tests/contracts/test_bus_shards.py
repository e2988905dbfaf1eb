"""What sharding asks of a bus, on `memory://` and on the real RabbitMQ: a headers exchange fed
from `botgate.events` with an alternate exchange for what it cannot route, single active
consumer queues, and exclusive consumers that lock a queue."""

from __future__ import annotations

import pytest

from gateway.bus.base import Bus, Message, QueueInUse
from gateway.bus.factory import create_bus
from gateway.bus.topology import (
    EVENTS_EXCHANGE,
    HEADER_SHARD,
    SHARDS_EXCHANGE,
    UNROUTED_QUEUE,
    Binding,
    QueueSpec,
    shard_queue,
    shard_queue_name,
    shards_exchange,
    unrouted_exchange,
    unrouted_queue,
)
from tests.contracts.inbox import Inbox

PUBLIC = "test.public"  # another service's queue on the public exchange


@pytest.fixture
async def sharded(bus: Bus) -> Bus:
    await bus.declare_exchange(unrouted_exchange())
    await bus.declare_exchange(shards_exchange())
    await bus.declare_queue(unrouted_queue())
    for index in range(2):
        await bus.declare_queue(shard_queue(index, 2))
    await bus.declare_queue(QueueSpec(PUBLIC, (Binding(EVENTS_EXCHANGE, "*.*.message.created"),)))
    return bus


def stamped(message_id: str, shard: str | None) -> Message:
    headers = {HEADER_SHARD: shard} if shard is not None else {}
    return Message(EVENTS_EXCHANGE, "generic.demo.message.created", b"{}", message_id, headers)


async def test_events_reach_their_shard_the_public_queue_and_the_rest_the_unrouted_queue(
    sharded: Bus,
) -> None:
    inboxes = {name: Inbox() for name in (*map(shard_queue_name, (0, 1)), UNROUTED_QUEUE, PUBLIC)}
    for name, inbox in inboxes.items():
        await sharded.consume(name, inbox, prefetch=10)
    for message_id, shard in [("a", "0/2"), ("b", "1/2"), ("c", "1/4"), ("d", None), ("e", "0/2")]:
        await sharded.publish(stamped(message_id, shard))
    public = await inboxes[PUBLIC].take(5)
    assert [d.message.message_id for d in public] == ["a", "b", "c", "d", "e"]
    for name, expected in [
        (shard_queue_name(0), ["a", "e"]),
        (shard_queue_name(1), ["b"]),
        (UNROUTED_QUEUE, ["c", "d"]),
    ]:
        got = await inboxes[name].take(len(expected))
        assert [d.message.message_id for d in got] == expected, name
        assert got[0].message.routing_key == "generic.demo.message.created"
    # and nothing more: a later message to each queue is the next one it gets
    await sharded.publish(stamped("z0", "0/2"))
    await sharded.publish(stamped("z1", "1/2"))
    await sharded.publish(stamped("zu", "7/9"))
    assert (await inboxes[shard_queue_name(0)].next()).message.message_id == "z0"
    assert (await inboxes[shard_queue_name(1)].next()).message.message_id == "z1"
    assert (await inboxes[UNROUTED_QUEUE].next()).message.message_id == "zu"


async def test_a_shard_can_be_published_to_directly(sharded: Bus) -> None:
    inbox = Inbox()
    await sharded.consume(shard_queue_name(1), inbox, prefetch=10)
    headers = {HEADER_SHARD: "1/2"}
    await sharded.publish(Message(SHARDS_EXCHANGE, "x.y.message.created", b"{}", "m", headers))
    assert (await inbox.next()).message.message_id == "m"


async def test_one_consumer_at_a_time_and_the_next_gets_the_unsettled_in_order(
    sharded: Bus,
) -> None:
    queue = shard_queue_name(0)
    first, second = Inbox(), Inbox()
    subscription = await sharded.consume(queue, first, prefetch=10)
    await sharded.consume(queue, second, prefetch=10)
    for n in range(6):
        await sharded.publish(stamped(f"m{n}", "0/2"))
    taken = await first.take(6)
    await taken[0].ack()
    await taken[1].ack()
    assert second.pending() == 0
    await subscription.cancel()
    again = await second.take(4)
    assert [d.message.message_id for d in again] == ["m2", "m3", "m4", "m5"]
    assert all(d.attempt == 2 for d in again)


async def test_an_exclusive_consumer_locks_the_queue_until_it_goes(
    sharded: Bus, bus_url: str
) -> None:
    other = create_bus(bus_url)  # another process: its own connection
    await other.connect()
    try:
        queue = shard_queue_name(1)
        holder = await sharded.consume(queue, Inbox(), prefetch=10, exclusive=True)
        assert not holder.lost
        with pytest.raises(QueueInUse):
            await other.consume(queue, Inbox(), prefetch=10, exclusive=True)
        stats = await sharded.queue_stats(queue)
        assert stats is not None
        assert stats.consumers == 1
        await holder.cancel()
        inbox = Inbox()
        await other.consume(queue, inbox, prefetch=10, exclusive=True)
        await sharded.publish(stamped("after", "1/2"))
        assert (await inbox.next()).message.message_id == "after"
    finally:
        await other.close()


async def test_a_paused_consumer_keeps_its_lock_and_what_it_held_comes_back_first_in_order(
    sharded: Bus, bus_url: str
) -> None:
    """How a core hands a shard over: pause, acknowledge the batch in hand, cancel. The next
    consumer gets what was left unsettled, in order, before what arrived meanwhile."""
    other = create_bus(bus_url)
    await other.connect()
    try:
        queue = shard_queue_name(0)
        first = Inbox()
        holder = await sharded.consume(queue, first, prefetch=10, exclusive=True)
        for n in range(5):
            await sharded.publish(stamped(f"m{n}", "0/2"))
        taken = await first.take(5)
        await holder.pause()
        await sharded.publish(stamped("m5", "0/2"))
        with pytest.raises(QueueInUse):  # paused, it still holds the queue
            await other.consume(queue, Inbox(), prefetch=10, exclusive=True)
        await taken[0].ack()  # the batch in hand
        await holder.cancel()
        assert first.pending() == 0  # nothing was delivered after the pause
        second = Inbox()
        await other.consume(queue, second, prefetch=10, exclusive=True)
        again = await second.take(5)
        assert [d.message.message_id for d in again] == ["m1", "m2", "m3", "m4", "m5"]
    finally:
        await other.close()
