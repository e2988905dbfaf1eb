"""The bus's own AMQP encoding: byte for byte what pamqp writes, and in order on a real broker.

gateway/bus/amqp_wire.py encodes publishes and acks itself and queues them for aiormq's
writer, taking each publish's delivery tag as it queues it. A wrong byte closes the
connection; a tag out of step with the send order confirms the wrong publish.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pamqp import commands, frame
from pamqp.body import ContentBody
from pamqp.header import ContentHeader

from gateway.bus import amqp
from gateway.bus.amqp_wire import (
    PERSISTENT,
    ConfirmedPublisher,
    UnsettledTags,
    WriteBatches,
    ack_frame,
    body_frames,
    content_header,
    publish_method,
    short_string,
)
from gateway.bus.base import Bus, Message
from gateway.bus.topology import EVENTS_EXCHANGE, Binding, QueueSpec
from tests.contracts.inbox import Inbox

FRAME_MAX = 131072

MESSAGES = [
    Message(EVENTS_EXCHANGE, "telegram.helpdesk.message.created", b"{}", "m-1"),
    Message(
        "botgate.actions",
        "slack.helpdesk.send",
        '{"text": "grüße ✓"}'.encode(),
        "5f0c1a52-8d2e-4c8e-9a55-0a3d2a8b9f10",
        headers={"traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01", "x-ä": "ü"},
        reply_to="botgate.replies.abc",
        correlation_id="call-7",
    ),
    Message("", "botgate.dead", b"", "empty", headers={"x-reason": ""}, content_type="text/plain"),
    Message(EVENTS_EXCHANGE, "big", bytes(range(256)) * 1200, "big-body"),  # three body frames
]


def pamqp_publish(channel: int, message: Message) -> bytes:
    properties = commands.Basic.Properties(
        content_type=message.content_type,
        headers=dict(message.headers) if message.headers else None,
        delivery_mode=PERSISTENT,
        correlation_id=message.correlation_id,
        reply_to=message.reply_to,
        message_id=message.message_id,
    )
    publish = commands.Basic.Publish(exchange=message.exchange, routing_key=message.routing_key)
    parts = [
        frame.marshal(publish, channel),
        frame.marshal(ContentHeader(0, len(message.body), properties), channel),
    ]
    room = FRAME_MAX - 8
    for start in range(0, len(message.body), room):
        parts.append(frame.marshal(ContentBody(message.body[start : start + room]), channel))
    return b"".join(parts)


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: m.message_id)
def test_a_publish_is_encoded_as_pamqp_encodes_it(message: Message) -> None:
    ours = (
        publish_method(3, message.exchange, message.routing_key)
        + content_header(3, message)
        + body_frames(3, message.body, FRAME_MAX - 8)
    )
    assert ours == pamqp_publish(3, message)


def test_an_ack_is_encoded_as_pamqp_encodes_it() -> None:
    for tag in (1, 255, 2**40 + 7):
        assert ack_frame(9, tag) == frame.marshal(commands.Basic.Ack(delivery_tag=tag), 9)


def test_a_multiple_ack_is_encoded_as_pamqp_encodes_it() -> None:
    expected = frame.marshal(commands.Basic.Ack(delivery_tag=77, multiple=True), 9)
    assert ack_frame(9, 77, multiple=True) == expected


def test_a_multiple_ack_is_allowed_only_over_the_oldest_unsettled_deliveries() -> None:
    tags = UnsettledTags()
    for tag in range(1, 7):
        tags.delivered(tag)
    assert tags.oldest({1, 2, 3}) == 3
    assert tags.oldest({2, 3}) is None  # 1 is unsettled: a multiple ack of 3 would take it
    tags.settled(1)
    assert tags.oldest({2, 3}) == 3
    tags.settled(3)  # settled on its own, behind the unsettled 2
    assert tags.oldest({2, 4}) == 4  # 3 is settled already: nothing else is covered
    assert tags.oldest({2, 5}) is None  # 4 is not in it
    assert tags.oldest({7}) is None  # never delivered: RabbitMQ would close the channel
    assert len(tags) == 4
    for tag in (2, 4, 5, 6):
        tags.settled(tag)
    assert len(tags) == 0


def test_a_delivery_held_for_long_does_not_make_the_tags_grow() -> None:
    tags = UnsettledTags()
    tags.delivered(1)  # held, say by a handler that failed without settling it
    for tag in range(2, 100_000):
        tags.delivered(tag)
        tags.settled(tag)
    assert len(tags) == 1
    assert len(tags._order) + len(tags._done) < 3000  # not the 100,000 seen
    tags.delivered(100_000)
    assert tags.oldest({1, 100_000}) == 100_000
    assert tags.oldest({100_000}) is None  # 1 is still unsettled


async def test_a_batch_acked_together_settles_its_deliveries_and_no_other(
    bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> None:
    multiple_acks: list[int] = []
    real_try_ack = amqp.try_ack

    def recording(batches: WriteBatches, channel: Any, tag: int, *, multiple: bool = False) -> bool:
        if multiple:
            multiple_acks.append(tag)
        return real_try_ack(batches, channel, tag, multiple=multiple)

    monkeypatch.setattr(amqp, "try_ack", recording)
    queue = QueueSpec("test.wire.ack-all", (Binding(EVENTS_EXCHANGE, "ack-all.#"),))
    await bus.declare_queue(queue)
    for i in range(10):
        await bus.publish(Message(EVENTS_EXCHANGE, "ack-all.x", b"{}", f"m-{i}"))
    inbox = Inbox()
    subscription = await bus.consume(queue.name, inbox, prefetch=10)
    received = await inbox.take(10)
    await bus.ack_all(received[1:4])  # behind the unsettled m-0: acked one by one
    assert multiple_acks == []
    await bus.ack_all([received[0], received[4], received[5]])  # now the oldest: together
    if isinstance(bus, amqp.AmqpBus):
        assert len(multiple_acks) == 1
    await bus.ack_all([received[5]])  # settled already: nothing is sent again
    await subscription.cancel()  # the unsettled go back to the queue
    inbox = Inbox()
    await bus.consume(queue.name, inbox, prefetch=10)
    again = await inbox.take(4)
    assert [d.message.message_id for d in again] == [f"m-{i}" for i in range(6, 10)]
    await bus.ack_all(again)
    await asyncio.sleep(0.2)  # anything else would have arrived by now
    assert inbox.pending() == 0


def test_a_short_string_over_255_bytes_is_refused() -> None:
    assert short_string("é" * 127) == b"\xfe" + "é".encode() * 127
    with pytest.raises(ValueError, match="255 bytes"):
        short_string("é" * 128)


async def test_a_burst_larger_than_the_write_queue_is_confirmed_and_kept_in_order(
    bus: Bus,
) -> None:
    """aiormq's write queue holds ten frames: on RabbitMQ most of these publishes wait for
    room (the in-process bus keeps the same promise)."""
    queue = QueueSpec("test.wire.burst", (Binding(EVENTS_EXCHANGE, "burst.#"),))
    await bus.declare_queue(queue)
    sent = [
        Message(
            EVENTS_EXCHANGE,
            f"burst.{i % 7}",
            f'{{"n": {i}}}'.encode(),
            f"burst-{i}",
            headers={"traceparent": f"tp-{i}"},
            reply_to=f"replies.{i}" if i % 3 == 0 else None,
        )
        for i in range(500)
    ]
    await asyncio.gather(*(bus.publish(m) for m in sent))
    inbox = Inbox()
    await bus.consume(queue.name, inbox, prefetch=600)
    received = await inbox.take(len(sent))
    for delivery in received:
        await delivery.ack()
    assert [d.message.message_id for d in received] == [m.message_id for m in sent]
    for delivery, message in zip(received, sent, strict=True):
        assert delivery.message.body == message.body
        assert delivery.message.headers == message.headers
        assert delivery.message.reply_to == message.reply_to
        assert delivery.message.routing_key == message.routing_key
    await asyncio.sleep(0)  # the acks are queued for the writer; depth reads a fresh channel
    assert await bus.queue_depth(queue.name) == 0


class FakeChannel:
    """What ConfirmedPublisher uses of an aiormq channel, with a write queue of one item."""

    number = 1
    is_closed = False
    max_content_size = FRAME_MAX - 8

    def __init__(self) -> None:
        self.write_queue: asyncio.Queue[object] = asyncio.Queue(maxsize=1)
        self.delivery_tag = 0
        self.confirmations: dict[int, asyncio.Future[object]] = {}

    def create_future(self) -> asyncio.Future[object]:
        return asyncio.get_running_loop().create_future()


def event_named(name: str) -> Message:
    return Message(EVENTS_EXCHANGE, "k", name.encode(), name)


async def test_frames_of_one_loop_turn_travel_as_one_write_queue_item() -> None:
    batches = WriteBatches()
    queue: asyncio.Queue[object] = asyncio.Queue(maxsize=1)
    assert batches.add(queue, b"a")
    assert batches.add(queue, b"b")
    first = queue.get_nowait()
    assert first.payload == b"ab"  # type: ignore[attr-defined]  # the writer takes it
    assert batches.add(queue, b"c")  # a new batch: the taken one is closed
    other: asyncio.Queue[object] = asyncio.Queue(maxsize=1)
    other.put_nowait(object())
    assert not batches.add(other, b"y")  # full, and no batch of ours is open in it
    assert queue.get_nowait().payload == b"c"  # type: ignore[attr-defined]


async def test_publishes_that_wait_for_room_keep_their_delivery_tags_in_send_order() -> None:
    """The queue is full (another item) and holds no batch of ours: the first publish waits
    for room, and those that come once there is room queue behind it, not ahead."""
    channel = FakeChannel()
    channel.write_queue.put_nowait(object())  # e.g. a heartbeat, not ours
    publisher = ConfirmedPublisher(WriteBatches())
    deadline = asyncio.get_running_loop().time() + 10
    names = ["first", "second", "third"]
    publishes = [asyncio.create_task(publisher.publish(channel, event_named("first"), deadline))]  # type: ignore[arg-type]
    await asyncio.sleep(0)
    assert channel.delivery_tag == 1  # the first has its tag and waits for room
    publishes += [  # they take their first step before the first publish wakes up
        asyncio.create_task(publisher.publish(channel, event_named(n), deadline))  # type: ignore[arg-type]
        for n in names[1:]
    ]
    channel.write_queue.get_nowait()  # the writer takes the foreign item: room for one
    payloads = [await asyncio.wait_for(channel.write_queue.get(), 5)]
    while channel.delivery_tag < len(names) or not channel.write_queue.empty():
        payloads.append(await asyncio.wait_for(channel.write_queue.get(), 5))
    wire = b"".join(item.payload for item in payloads)  # type: ignore[attr-defined]
    positions = [wire.index(n.encode(), 20) for n in names]
    assert positions == sorted(positions)  # sent in publish order...
    for tag in (1, 2, 3):  # ...and the broker's confirms 1, 2, 3 answer them in that order
        channel.confirmations[tag].set_result(tag)
    await asyncio.wait_for(asyncio.gather(*publishes), 5)
    assert [p.done() and p.exception() is None for p in publishes] == [True] * 3
