"""Publishes and acks on the hot path, encoded here and handed straight to aiormq's writer.

Why: aiormq's `basic_publish` marshals every frame through pamqp's per-field encoders, takes
the channel's lock, and opens two context managers and a timeout for each message; an ack
goes through the same marshalling. On RabbitMQ that was the largest single cost of an event
(three publishes and three acks each; about a sixth of the process's CPU). Here a publish is
a few `struct.pack` calls appended to the loop turn's batch on the connection's write
queue, and its confirm is awaited with one timer.

Ordering: the broker numbers a channel's publishes in the order it receives them, and aiormq
matches each confirm to the number we take from `channel.delivery_tag`. Taking the number
and queueing the frames happen in one synchronous step, and aiormq's single writer sends
the queue in order, so the numbers agree. The frames of one loop turn travel together
(`WriteBatches`); when the queue is full, a publish waits for room holding
`ConfirmedPublisher._turn`, and every later publish queues behind it.

It relies on aiormq's channel attributes (`delivery_tag`, `confirmations`, `write_queue`,
`create_future`), hence the pinned aiormq major version; tests/contracts/test_amqp_wire.py
checks the bytes against pamqp and the order on a real broker.
"""

from __future__ import annotations

import asyncio
import struct
from collections import deque
from collections.abc import Collection, Mapping

import aiormq

from gateway.bus.base import Message

FRAME_END = b"\xce"
_FRAME = struct.Struct(">BHI")  # type, channel, payload size
_METHOD, _HEADER, _BODY = 1, 2, 3
_BASIC = 60
_PUBLISH, _ACK = 40, 80
_ACK_FRAME = struct.Struct(">BHIHHQB")  # frame head + class, method, tag, multiple
_ACK_SIZE = _ACK_FRAME.size - _FRAME.size
_HEADER_HEAD = struct.Struct(">HHQH")  # class, weight, body size, property flags
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


def body_frames(channel: int, body: bytes, room: int) -> bytes:
    """The body cut into frames of at most `room` bytes (aiormq's `max_content_size`: the
    connection's negotiated frame size less a frame's own bytes)."""
    if len(body) <= room:
        return _frame(_BODY, channel, body) if body else b""
    return b"".join(
        _frame(_BODY, channel, body[start : start + room]) for start in range(0, len(body), room)
    )


def ack_frame(channel: int, delivery_tag: int, *, multiple: bool = False) -> bytes:
    """Basic.Ack; `multiple` acknowledges every unsettled delivery up to the tag too."""
    head = _ACK_FRAME.pack(_METHOD, channel, _ACK_SIZE, _BASIC, _ACK, delivery_tag, multiple)
    return head + FRAME_END


class _Batch:
    """Frames that travel as one item of aiormq's write queue (its writer reads `payload`,
    `should_close`, `should_drain`; nothing waits for a batch to be written). Frames join
    it until the writer takes it."""

    __slots__ = ("parts", "taken")
    should_close = False
    should_drain = False

    def __init__(self, first: bytes) -> None:
        self.parts = [first]
        self.taken = False

    @property
    def payload(self) -> bytes:
        self.taken = True
        return b"".join(self.parts)

    def drain(self) -> None:
        """Nothing to do: nobody waits for the write."""


class WriteBatches:
    """Puts the frames queued during one event-loop turn into one item of a connection's
    write queue: one pass of aiormq's writer and one socket write for a batch's acks or a
    burst of publishes, and the ten-item queue is never the limit.

    A frame that joins the open batch may overtake frames aiormq queued after that batch
    (another channel's, or a consumer channel's cancel or close): harmless for an ack or a
    publish. Publishes keep their order among themselves (ConfirmedPublisher).
    """

    def __init__(self) -> None:
        self._open: _Batch | None = None
        self._queue: asyncio.Queue[object] | None = None

    def add(self, queue: asyncio.Queue[object], frames: bytes) -> bool:
        """Queue `frames` now; False when the queue is full and no batch is open."""
        batch = self._open
        if batch is not None and not batch.taken and self._queue is queue:
            batch.parts.append(frames)
            return True
        if queue.full():
            return False
        batch = self._start(queue, _Batch(frames))
        queue.put_nowait(batch)
        return True

    async def add_when_room(self, queue: asyncio.Queue[object], frames: bytes) -> None:
        """Queue `frames` as a new batch once the queue has room; later frames join it."""
        batch = _Batch(frames)
        await queue.put(batch)
        self._start(queue, batch)

    def _start(self, queue: asyncio.Queue[object], batch: _Batch) -> _Batch:
        self._open, self._queue = batch, queue
        return batch


class ConfirmedPublisher:
    """Publishes on aiormq channels in confirm mode (one at a time: the bus's publisher).

    A publish takes the channel's next delivery tag and queues its frames in one synchronous
    step. Only when aiormq's write queue is full (and no batch is open) does it wait for
    room, holding `_turn`: every publish after it queues behind it, so that the tags stay
    in send order.
    """

    def __init__(self, batches: WriteBatches) -> None:
        self._batches = batches
        self._methods: dict[tuple[int, str, str], bytes] = {}
        self._turn = asyncio.Lock()

    async def publish(self, channel: aiormq.Channel, message: Message, deadline: float) -> None:
        """Queue the message and wait for its confirm until `deadline` (loop time)."""
        _refuse_closed(channel)
        frames = self._encode(channel, message)
        queued = not self._turn.locked() and self._batches.add(channel.write_queue, frames)
        if queued:
            confirmation = _next_confirmation(channel)
        else:
            async with asyncio.timeout_at(deadline), self._turn:
                confirmation = await self._queue_when_room(channel, frames)
        timer = asyncio.get_running_loop().call_at(deadline, _time_out, confirmation)
        try:
            await confirmation
        finally:
            timer.cancel()

    async def _queue_when_room(
        self, channel: aiormq.Channel, frames: bytes
    ) -> asyncio.Future[object]:
        _refuse_closed(channel)  # again: it may have closed while this waited for the turn
        confirmation = _next_confirmation(channel)
        if self._batches.add(channel.write_queue, frames):  # after the publish that waited
            return confirmation
        try:
            await self._batches.add_when_room(channel.write_queue, frames)
        except BaseException:
            # Never sent: give the tag back (we hold the turn, so it is still the last one)
            channel.confirmations.pop(channel.delivery_tag, None)
            channel.delivery_tag -= 1
            confirmation.cancel()
            raise
        return confirmation

    def _encode(self, channel: aiormq.Channel, message: Message) -> bytes:
        number = channel.number
        key = (number, message.exchange, message.routing_key)
        method = self._methods.get(key)
        if method is None:
            if len(self._methods) >= _MAX_CACHED_METHODS:
                self._methods.clear()
            method = self._methods[key] = publish_method(number, *key[1:])
        room = channel.max_content_size
        return method + content_header(number, message) + body_frames(number, message.body, room)


def _refuse_closed(channel: aiormq.Channel) -> None:
    if channel.is_closed:
        raise aiormq.exceptions.ChannelInvalidStateError(f"{channel!r} closed")


def _next_confirmation(channel: aiormq.Channel) -> asyncio.Future[object]:
    """The future aiormq resolves with the broker's confirm of the publish just queued; the
    channel's future store fails it if the channel closes first."""
    channel.delivery_tag += 1
    confirmation = channel.create_future()
    channel.confirmations[channel.delivery_tag] = confirmation
    return confirmation


def _time_out(confirmation: asyncio.Future[object]) -> None:
    if not confirmation.done():
        confirmation.set_exception(TimeoutError())


def try_ack(
    batches: WriteBatches, channel: aiormq.abc.AbstractChannel, tag: int, *, multiple: bool = False
) -> bool:
    """Queue an ack; False when it must go through aiormq (closing channel, full queue)."""
    if not isinstance(channel, aiormq.Channel) or channel.is_closed:
        return False
    return batches.add(channel.write_queue, ack_frame(channel.number, tag, multiple=multiple))


_COMPACT_AFTER = 1024  # settled tags kept behind an unsettled one before they are dropped


class UnsettledTags:
    """One channel's delivery tags not yet acked or rejected, oldest first.

    Why: a batch of deliveries can be acked with one `multiple` ack of its highest tag, but
    only when no other delivery of the channel below that tag is still unsettled (a multiple
    ack would settle it too) and the tag itself is unsettled (RabbitMQ closes the channel
    over an unknown tag). This keeps what it takes to know that.
    """

    __slots__ = ("_done", "_order")

    def __init__(self) -> None:
        self._order: deque[int] = deque()  # delivered, in tag order; the front is unsettled
        self._done: set[int] = set()  # settled, still behind an unsettled one in `_order`

    def delivered(self, tag: int) -> None:
        self._order.append(tag)

    def settled(self, tag: int) -> None:
        self._done.add(tag)
        order, done = self._order, self._done
        while order and order[0] in done:
            done.discard(order.popleft())
        if len(done) > _COMPACT_AFTER:  # one delivery held for long: do not grow behind it
            self._order = deque(t for t in order if t not in done)
            done.clear()

    def oldest(self, tags: Collection[int]) -> int | None:
        """The highest of `tags` when they are all of the unsettled tags up to it (so one
        multiple ack of it settles exactly these); otherwise None."""
        left = len(tags)
        for tag in self._order:
            if tag in tags:
                left -= 1
                if left == 0:
                    return tag
            elif tag not in self._done:
                return None  # an unsettled delivery not in `tags` comes first
        return None

    def __len__(self) -> int:
        return len(self._order) - len(self._done)
