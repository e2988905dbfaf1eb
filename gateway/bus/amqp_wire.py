"""Publishes and acks on the hot path, encoded here and handed straight to aiormq's writer.

Why: aiormq's `basic_publish` marshals every frame through pamqp's per-field encoders, takes
the channel's lock, and opens two context managers and a timeout for each message; an ack
goes through the same marshalling. On RabbitMQ that was the largest single cost of an event
(three publishes and three acks each; about a sixth of the process's CPU). Here a publish is
a few `struct.pack` calls and one `put_nowait` on the connection's write queue, and its
confirm is awaited with one timer.

Ordering: the broker numbers a channel's publishes in the order it receives them, and aiormq
matches each confirm to the number we take from `channel.delivery_tag`. Taking the number
and queueing the frames happen in one synchronous step, and aiormq's single writer sends
the queue in order, so the numbers agree. When the queue is full, a publish waits for room
holding `ConfirmedPublisher._turn`, and every later publish queues behind it.

It relies on aiormq's channel attributes (`delivery_tag`, `confirmations`, `write_queue`,
`create_future`), hence the pinned aiormq major version; tests/contracts/test_amqp_wire.py
checks the bytes against pamqp and the order on a real broker.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Mapping

import aiormq
from aiormq.abc import ChannelFrame

from gateway.bus.base import Message

FRAME_END = b"\xce"
_FRAME = struct.Struct(">BHI")  # type, channel, payload size
_METHOD, _HEADER, _BODY = 1, 2, 3
_BASIC = 60
_PUBLISH, _ACK = 40, 80
_ACK_FRAME = struct.Struct(">BHIHHQB")  # frame head + class, method, tag, multiple
_ACK_SIZE = _ACK_FRAME.size - _FRAME.size
_HEADER_HEAD = struct.Struct(">HHQH")  # class, weight, body size, property flags
_FRAME_OVERHEAD = _FRAME.size + len(FRAME_END)
PERSISTENT = 2  # delivery mode

# Basic.Properties flags (AMQP 0-9-1, 4.2.6.1): the properties botgate sets
_CONTENT_TYPE, _HEADERS, _DELIVERY_MODE = 1 << 15, 1 << 13, 1 << 12
_CORRELATION_ID, _REPLY_TO, _MESSAGE_ID = 1 << 10, 1 << 9, 1 << 7

_MAX_CACHED_METHODS = 4096  # (channel, exchange, routing key) triples; there are a few dozen


def short_string(text: str) -> bytes:
    data = text.encode()
    if len(data) > 255:
        raise ValueError(f"AMQP short string longer than 255 bytes: {text[:40]!r}...")
    return bytes((len(data),)) + data


def _text_table(headers: Mapping[str, str]) -> bytes:
    """A field table of long strings ('S'), as pamqp writes text values."""
    parts = []
    for name, value in headers.items():
        data = value.encode()
        parts.append(short_string(name) + b"S" + len(data).to_bytes(4, "big") + data)
    table = b"".join(parts)
    return len(table).to_bytes(4, "big") + table


def _frame(kind: int, channel: int, payload: bytes) -> bytes:
    return _FRAME.pack(kind, channel, len(payload)) + payload + FRAME_END


def publish_method(channel: int, exchange: str, routing_key: str) -> bytes:
    """Basic.Publish (ticket 0, not mandatory, not immediate) as a whole frame."""
    payload = (
        struct.pack(">HHH", _BASIC, _PUBLISH, 0)
        + short_string(exchange)
        + short_string(routing_key)
        + b"\x00"
    )
    return _frame(_METHOD, channel, payload)


def content_header(channel: int, message: Message) -> bytes:
    """The message's properties: content type, text headers, persistent, correlation id,
    reply address, message id (those botgate sets, in the order AMQP lists them)."""
    flags = _CONTENT_TYPE | _DELIVERY_MODE | _MESSAGE_ID
    fields = [short_string(message.content_type)]
    if message.headers:
        flags |= _HEADERS
        fields.append(_text_table(message.headers))
    fields.append(bytes((PERSISTENT,)))
    if message.correlation_id is not None:
        flags |= _CORRELATION_ID
        fields.append(short_string(message.correlation_id))
    if message.reply_to is not None:
        flags |= _REPLY_TO
        fields.append(short_string(message.reply_to))
    fields.append(short_string(message.message_id))
    payload = _HEADER_HEAD.pack(_BASIC, 0, len(message.body), flags) + b"".join(fields)
    return _frame(_HEADER, channel, payload)


def body_frames(channel: int, body: bytes, frame_max: int) -> bytes:
    """The body cut to the connection's negotiated frame size."""
    room = frame_max - _FRAME_OVERHEAD
    return b"".join(
        _frame(_BODY, channel, body[start : start + room]) for start in range(0, len(body), room)
    )


def ack_frame(channel: int, delivery_tag: int) -> bytes:
    return _ACK_FRAME.pack(_METHOD, channel, _ACK_SIZE, _BASIC, _ACK, delivery_tag, 0) + FRAME_END


class ConfirmedPublisher:
    """Publishes on aiormq channels in confirm mode (one at a time: the bus's publisher).

    A publish takes the channel's next delivery tag and queues its frames in one synchronous
    step. Only when aiormq's write queue is full does it wait for room, holding `_turn` so
    that every publish after it queues behind it and the tags stay in send order.
    """

    def __init__(self) -> None:
        self._methods: dict[tuple[int, str, str], bytes] = {}
        self._turn = asyncio.Lock()

    async def publish(self, channel: aiormq.Channel, message: Message, deadline: float) -> None:
        """Queue the message and wait for its confirm until `deadline` (loop time)."""
        frames = self._encode(channel, message)
        confirmation = None if self._turn.locked() else _queue_now(channel, frames)
        if confirmation is None:
            async with asyncio.timeout_at(deadline), self._turn:
                confirmation = await _queue_when_room(channel, frames)
        timer = asyncio.get_running_loop().call_at(deadline, _time_out, confirmation)
        try:
            await confirmation
        finally:
            timer.cancel()

    def _encode(self, channel: aiormq.Channel, message: Message) -> bytes:
        number = channel.number
        key = (number, message.exchange, message.routing_key)
        method = self._methods.get(key)
        if method is None:
            if len(self._methods) >= _MAX_CACHED_METHODS:
                self._methods.clear()
            method = self._methods[key] = publish_method(number, *key[1:])
        frame_max = channel.max_content_size + channel.CONTENT_FRAME_SIZE
        return (
            method + content_header(number, message) + body_frames(number, message.body, frame_max)
        )


def _queue_now(channel: aiormq.Channel, frames: bytes) -> asyncio.Future[object] | None:
    if channel.write_queue.full():
        return None
    confirmation = _next_confirmation(channel)
    channel.write_queue.put_nowait(ChannelFrame(payload=frames, should_close=False))
    return confirmation


async def _queue_when_room(channel: aiormq.Channel, frames: bytes) -> asyncio.Future[object]:
    confirmation = _next_confirmation(channel)
    try:
        await channel.write_queue.put(ChannelFrame(payload=frames, should_close=False))
    except BaseException:
        # Never sent: give the tag back (we hold the turn, so it is still the last one)
        channel.confirmations.pop(channel.delivery_tag, None)
        channel.delivery_tag -= 1
        confirmation.cancel()
        raise
    return confirmation


def _next_confirmation(channel: aiormq.Channel) -> asyncio.Future[object]:
    """The future aiormq resolves with the broker's confirm of the next publish; the
    channel's future store fails it if the channel closes first."""
    if channel.is_closed:
        raise aiormq.exceptions.ChannelInvalidStateError(f"{channel!r} closed")
    channel.delivery_tag += 1
    confirmation = channel.create_future()
    channel.confirmations[channel.delivery_tag] = confirmation
    return confirmation


def _time_out(confirmation: asyncio.Future[object]) -> None:
    if not confirmation.done():
        confirmation.set_exception(TimeoutError())


def try_ack(channel: aiormq.abc.AbstractChannel, delivery_tag: int) -> bool:
    """Queue an ack; False when it must go through aiormq (closing channel, full queue)."""
    if not isinstance(channel, aiormq.Channel) or channel.is_closed:
        return False
    if channel.write_queue.full():
        return False
    frame_bytes = ack_frame(channel.number, delivery_tag)
    channel.write_queue.put_nowait(ChannelFrame(payload=frame_bytes, should_close=False))
    return True
