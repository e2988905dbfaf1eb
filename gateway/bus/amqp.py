"""The RabbitMQ bus (`amqp://`, `amqps://`) through aio-pika.

Why it is built this way:
- The first connect fails fast, so start-up and `botgate check` report a wrong URL or a
  stopped broker at once. After that aio-pika's robust connection reconnects on its own and
  restores channels, QoS, exchanges, queues and bindings, and each consumer subscribes again
  from the channel's reopen callback: a broker restart is a pause.
- One publishing channel with publisher confirms. aiormq matches each confirm to its delivery
  tag, so many publishes are in flight at once; nothing serialises them behind a lock.
- The hot path (publish, ack, reject) talks to aiormq's channel directly, without an
  `aio_pika.Message`, and waits for no socket write (the confirm is what counts; an ack is
  never answered). Publishes and acks are encoded by gateway/bus/amqp_wire.py and queued for
  aiormq's writer in one step.
  It only waits for aio-pika's robust channel after a reconnection replaced the aiormq one.
- One channel per consumer, so `prefetch` is that consumer's own QoS, and cancelling it
  (closing its channel) hands exactly its unsettled messages back to the queue.
- Handlers run in tasks of our own rather than aiormq's, which are cancelled with their
  channel. A delivery that outlives its channel settles as a no-op; the broker redelivers it,
  as the in-process bus does.
- A message this process published and now consumes carries the publisher's model, as on the
  in-process bus, instead of being parsed and validated again (`_OwnModels`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aio_pika
import aiormq
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractRobustChannel,
    AbstractRobustConnection,
    ExchangeType,
    TimeoutType,
)
from aio_pika.exceptions import CONNECTION_EXCEPTIONS, ChannelNotFoundEntity
from aiormq.abc import DeliveredMessage
from pamqp.commands import Basic

from gateway.bus.amqp_control import ControlLink
from gateway.bus.amqp_wire import ConfirmedPublisher, UnsettledTags, WriteBatches, try_ack
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
from gateway.bus.connect_errors import explain, quiet_first_connect
from gateway.bus.reconnect_log import quiet_reconnects
from gateway.bus.topology import (
    DEFAULT_EXCHANGE,
    EXCHANGES,
    Binding,
    ExchangeSpec,
    QueueSpec,
    dead_queue,
)
from gateway.errors import BusUnavailable
from gateway.outage import Outage, is_bus_outage, reason
from gateway.urls import hide_password

log = logging.getLogger(__name__)


def _not_a_cancelled_call(record: logging.LogRecord) -> bool:
    """aiormq warns when a call of ours on a channel is cancelled (a timeout, a consumer
    given up while the broker was away): the outage is already one line (gateway/outage.py),
    and a call that really fails raises to its caller."""
    return not (record.levelno == logging.WARNING and "cancelled" in str(record.msg))


logging.getLogger("aiormq.channel").addFilter(_not_a_cancelled_call)

CONNECT_TIMEOUT = 10.0
CLOSE_TIMEOUT = 5.0
OPERATION_TIMEOUT = 15.0  # declare, delete, consume, inspect: rare, and quorum queues are slow
DEFAULT_CONTENT_TYPE = "application/json"
DELIVERY_COUNT = "x-delivery-count"  # set by quorum queues; exposed as `attempt`, not a header
# Models kept for this process's own consumers. All roles in one process consume nearly all
# they publish within a few hundred messages; with the roles apart, the oldest age out.
OWN_MODELS_KEPT = 1024
_BROKER_ERRORS = (*CONNECTION_EXCEPTIONS, TimeoutError)


class _ClosedIfRefused(aio_pika.RobustConnection):
    """A robust connection that closes itself when its first connect fails. Left open,
    aio-pika's `__del__` calls `close()` from the garbage collector, where no loop runs it
    ("coroutine 'RobustConnection.close' was never awaited", at a random later moment)."""

    async def connect(self, timeout: TimeoutType = None) -> None:
        try:
            await super().connect(timeout)
        except BaseException:
            await self.close()
            raise


class AmqpBus:
    """`amqp://user:pass@host:5672/vhost`: the `Bus` on RabbitMQ."""

    def __init__(
        self,
        url: str,
        *,
        publish_timeout: float = 5.0,
        reconnect_interval: float = 2.0,
        queue_type: str = "quorum",
    ) -> None:
        self.url_for_display = hide_password(url)
        self._queue_type = queue_type  # of the shared durable queues: "quorum" or "classic"
        self._url = url
        self._publish_timeout = publish_timeout
        self._reconnect_interval = reconnect_interval
        self._connection: AbstractRobustConnection | None = None
        self._publisher: AbstractRobustChannel | None = None
        self._confirming: aiormq.Channel | None = None  # the publisher's current aiormq channel
        self._topology: AbstractRobustChannel | None = None
        self._exchanges: dict[str, AbstractExchange] = {}
        self._consumers: set[_Consumer | _ExclusiveConsumer] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.own_models = _OwnModels(OWN_MODELS_KEPT)
        self.write_batches = WriteBatches()  # a loop turn's publishes and acks, together
        self._publishing = ConfirmedPublisher(self.write_batches)
        self.control = ControlLink(url, OPERATION_TIMEOUT)  # locks and inspection
        self.outage = Outage(f"RabbitMQ at {self.url_for_display}", is_outage=is_bus_outage)

    async def connect(self) -> None:
        if self._connection is not None:
            return
        quiet_reconnects()
        try:
            with quiet_first_connect():
                self._connection = await aio_pika.connect_robust(
                    self._url,
                    timeout=CONNECT_TIMEOUT,
                    reconnect_interval=self._reconnect_interval,
                    client_properties={"connection_name": "botgate"},
                    connection_class=_ClosedIfRefused,
                )
        except _BROKER_ERRORS as exc:
            raise BusUnavailable(explain(exc, self._url, self.url_for_display)) from exc
        # One line when the connection drops, one when aio-pika has it back (gateway/outage.py)
        self._connection.close_callbacks.add(self._lost)
        self._connection.reconnect_callbacks.add(lambda *_: self.outage.back())
        try:
            await self._declare_topology(self._connection)
        except BaseException:
            await self.close()
            raise

    def _lost(self, _connection: object, exc: BaseException | None = None) -> None:
        if exc is not None and self._connection is not None:  # not our own close()
            self.outage.lost(reason(exc))

    async def probe(self) -> None:
        """Connect and close again, declaring nothing: `botgate check` creates nothing."""
        try:
            with quiet_first_connect():
                connection = await aio_pika.connect(self._url, timeout=CONNECT_TIMEOUT)
        except _BROKER_ERRORS as exc:
            raise BusUnavailable(explain(exc, self._url, self.url_for_display)) from exc
        await connection.close()

    async def _declare_topology(self, connection: AbstractRobustConnection) -> None:
        async with _answer("declaring the botgate exchanges", OPERATION_TIMEOUT):
            self._publisher = await _open_channel(connection, confirms=True)
            self._topology = await _open_channel(connection, confirms=False)
            for name in EXCHANGES:
                self._exchanges[name] = await self._publisher.declare_exchange(
                    name, ExchangeType.TOPIC, durable=True
                )
        self._exchanges[DEFAULT_EXCHANGE] = self._publisher.default_exchange
        await self.declare_queue(dead_queue())

    async def close(self) -> None:
        for consumer in list(self._consumers):
            await consumer.cancel()
        await _finish(list(self._tasks))
        self._exchanges.clear()
        connection, self._connection = self._connection, None
        self._publisher = self._topology = self._confirming = None
        if connection is not None:
            await connection.close()
        await self.control.close()

    def _live(self) -> AbstractRobustConnection:
        if self._connection is None or self._connection.is_closed:
            raise BusUnavailable(f"the bus {self.url_for_display} is not connected")
        return self._connection

    async def publish(self, message: Message) -> None:
        self._live()
        if message.exchange not in self._exchanges:
            raise BusUnavailable(f"exchange {message.exchange!r} is not declared")
        self.own_models.keep(message)  # before the publish: a consumer here may get it first
        try:
            await self._confirmed(message)
        except _BROKER_ERRORS as exc:
            what = f"publishing message {message.message_id}"
            raise _unavailable(what, self._publish_timeout, exc) from exc

    async def _confirmed(self, message: Message) -> None:
        """Publish and wait for the broker's confirm, all within one publish timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._publish_timeout
        channel = self._confirming
        if channel is None or channel.is_closed:
            channel = await self._reopened_publisher(deadline)
        if loop.time() >= deadline:
            raise TimeoutError
        # not mandatory: an unroutable message is dropped, as on the in-process bus
        await self._publishing.publish(channel, message, deadline)

    async def _reopened_publisher(self, deadline: float) -> aiormq.Channel:
        """The publisher's aiormq channel, once aio-pika has restored it after a reconnection."""
        publisher = self._channel(self._publisher)
        async with asyncio.timeout_at(deadline):
            await publisher.ready()
            channel = await publisher.get_underlay_channel()
        assert isinstance(channel, aiormq.Channel)  # for `wait=False`, not in the abstract API
        self._confirming = channel
        return channel

    async def declare_queue(self, spec: QueueSpec) -> None:
        channel = self._channel(self._topology)
        options = _queue_options(spec, self._queue_type)
        try:
            async with _answer(f"declaring queue {spec.name!r}", OPERATION_TIMEOUT):
                queue = await channel.declare_queue(spec.name, **options)
                for binding in spec.bindings:
                    await queue.bind(
                        binding.exchange, binding.pattern, arguments=_binding_arguments(binding)
                    )
        except BusUnavailable as exc:
            if isinstance(exc.__cause__, aiormq.exceptions.ChannelPreconditionFailed):
                raise BusUnavailable(_inequivalent(spec.name, self._queue_type)) from exc
            raise

    async def declare_exchange(self, spec: ExchangeSpec) -> None:
        channel = self._channel(self._topology)
        arguments: dict[str, Any] | None = None
        if spec.alternate:
            arguments = {"alternate-exchange": spec.alternate}
        async with _answer(f"declaring exchange {spec.name!r}", OPERATION_TIMEOUT):
            exchange = await channel.declare_exchange(
                spec.name, ExchangeType(spec.kind), durable=True, arguments=arguments
            )
            for source in spec.sources:
                await exchange.bind(
                    source.exchange, source.pattern, arguments=_binding_arguments(source)
                )
        self._exchanges[spec.name] = exchange

    async def unbind_queue(self, name: str, binding: Binding) -> None:
        # On a channel of its own: a missing queue closes the channel it was asked on, and the
        # topology channel keeps the bindings it made to restore them after a reconnection.
        channel = aio_pika.Channel(self._live(), publisher_confirms=False)
        try:
            async with _answer(f"unbinding queue {name!r}", OPERATION_TIMEOUT), channel:
                underlay = await channel.get_underlay_channel()
                await underlay.queue_unbind(
                    queue=name,
                    exchange=binding.exchange,
                    routing_key=binding.pattern,
                    arguments=_binding_arguments(binding),
                )
        except BusUnavailable as exc:
            if not isinstance(exc.__cause__, ChannelNotFoundEntity):
                raise

    async def delete_queue(self, name: str) -> None:
        channel = self._channel(self._topology)
        async with _answer(f"deleting queue {name!r}", OPERATION_TIMEOUT):
            await channel.queue_delete(name)

    def _channel(self, channel: AbstractRobustChannel | None) -> AbstractRobustChannel:
        self._live()
        assert channel is not None
        return channel

    async def consume(
        self, queue: str, handler: Handler, *, prefetch: int, exclusive: bool = False
    ) -> _Consumer | _ExclusiveConsumer:
        if await self.queue_stats(queue) is None:
            raise BusUnavailable(f"queue {queue!r} is not declared")
        if exclusive:
            return await self._consume_exclusive(queue, handler, prefetch)
        async with _answer(f"consuming from {queue!r}", OPERATION_TIMEOUT):
            channel = await _open_channel(self._live(), confirms=False)
        consumer = _Consumer(self, channel, handler)
        try:
            async with _answer(f"consuming from {queue!r}", OPERATION_TIMEOUT):
                await channel.set_qos(prefetch_count=prefetch)
                # Declared (passively) on this channel so that after a reconnection aio-pika
                # restores this channel only once the queue exists again (one that expired or
                # died with the connection is re-declared by the topology channel), and only
                # then calls `_resubscribe`.
                await channel.declare_queue(queue, passive=True)
                await consumer.start(queue)
        except BaseException:
            await consumer.cancel()
            raise
        self._consumers.add(consumer)
        return consumer

    async def _consume_exclusive(
        self, queue: str, handler: Handler, prefetch: int
    ) -> _ExclusiveConsumer:
        """Hold the queue's lock (`<queue>.lock`, on the control connection), then consume.
        RabbitMQ's own exclusive consumer is no lock on a quorum queue (a second one is let
        in). On a plain channel, not restored after a reconnection: the consumer is `lost`
        then, as another process may hold the queue by then."""
        async with _answer(f"locking {queue!r}", OPERATION_TIMEOUT):
            generation = await self.control.lock(lock_name(queue))
        if generation is None:
            raise QueueInUse(f"queue {queue!r} is held by another consumer")
        channel = aio_pika.Channel(self._live(), publisher_confirms=False)
        consumer = _ExclusiveConsumer(self, channel, handler, queue, generation)
        try:
            async with _answer(f"consuming from {queue!r}", OPERATION_TIMEOUT):
                await channel.initialize()
                await channel.set_qos(prefetch_count=prefetch)
                await consumer.start()
        except BaseException:
            await consumer.cancel()
            raise
        self._consumers.add(consumer)
        return consumer

    async def queue_depth(self, name: str) -> int:
        stats = await self.queue_stats(name)
        return stats.ready if stats else 0

    async def has_queue(self, name: str) -> bool:
        return await self.queue_stats(name) is not None

    async def queue_stats(self, name: str) -> QueueStats | None:
        self._live()
        try:
            async with _answer(f"inspecting queue {name!r}", OPERATION_TIMEOUT):
                return await self.control.stats(name)
        except BusUnavailable as exc:
            if not isinstance(exc.__cause__, aiormq.exceptions.ChannelLockedResource):
                raise
        return await self._own_queue_stats(name)  # an exclusive queue of this connection

    async def _own_queue_stats(self, name: str) -> QueueStats | None:
        # A plain (not robust) channel: a 404 closes it, and it must not be restored.
        channel = aio_pika.Channel(self._live(), publisher_confirms=False)
        try:
            async with _answer(f"inspecting queue {name!r}", OPERATION_TIMEOUT), channel:
                declared = await channel.declare_queue(name, passive=True)
        except BusUnavailable as exc:
            if isinstance(exc.__cause__, ChannelNotFoundEntity):
                return None
            raise
        result = declared.declaration_result
        return QueueStats(int(result.message_count or 0), int(result.consumer_count or 0))

    async def healthy(self) -> bool:
        connection = self._connection
        return connection is not None and not connection.is_closed and connection.connected.is_set()

    async def ack_all(self, deliveries: Sequence[Delivery]) -> None:
        """Acknowledge the deliveries: with one multiple ack per channel where they are its
        oldest unsettled ones (a core's batch, as a rule), otherwise one by one."""
        together: dict[UnsettledTags, list[_AmqpDelivery]] = {}
        for delivery in deliveries:
            if isinstance(delivery, _AmqpDelivery) and delivery.unsettled_here():
                together.setdefault(delivery.tags, []).append(delivery)
            else:
                await delivery.ack()
        for group in together.values():
            if len(group) == 1 or not _ack_together(self.write_batches, group):
                for delivery in group:
                    await delivery.ack()

    def forget(self, consumer: _Consumer | _ExclusiveConsumer) -> None:
        self._consumers.discard(consumer)

    def spawn(self, handling: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(handling)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


class _Closing:
    """What a delivery needs of its consumer: `_cancelled`, set once its channel is closed or
    being closed, and the unsettled delivery tags of the channel it consumes on (a fresh
    record for each channel: a robust consumer's changes when the connection comes back)."""

    _cancelled: bool
    _tags_of: tuple[aiormq.abc.AbstractChannel, UnsettledTags] | None = None

    def unsettled_on(self, channel: aiormq.abc.AbstractChannel) -> UnsettledTags:
        if self._tags_of is None or self._tags_of[0] is not channel:
            self._tags_of = (channel, UnsettledTags())
        return self._tags_of[1]


class _Consumer(_Closing):
    """One consumer on its own channel; also the `Subscription` handed to the caller.

    It consumes on aiormq's channel under aio-pika's robust one: a delivery arrives as
    aiormq's `DeliveredMessage`, without aio-pika's `IncomingMessage` and its task (measured:
    the costliest part of receiving). After a reconnection the robust channel restores the
    QoS and the queue, then calls `_resubscribe`, which consumes again on the new aiormq
    channel.
    """

    def __init__(self, bus: AmqpBus, channel: AbstractRobustChannel, handler: Handler) -> None:
        self._bus, self._channel, self._handler = bus, channel, handler
        self._queue = ""
        self._tag: str | None = None
        self._cancelled = self._paused = False

    async def start(self, queue: str) -> None:
        self._queue = queue
        await self._subscribe()
        self._channel.reopen_callbacks.add(self._resubscribe)

    async def _subscribe(self) -> None:
        underlay = await self._channel.get_underlay_channel()
        self._tag = (await underlay.basic_consume(self._queue, self._on_message)).consumer_tag

    async def _resubscribe(self, _channel: AbstractRobustChannel | None, /) -> None:
        if self._cancelled or self._paused:
            return
        try:
            await self._subscribe()
        except Exception:
            log.exception("could not consume from %r again after reconnecting", self._queue)
            raise

    async def _on_message(self, incoming: DeliveredMessage) -> None:
        _hand_over(self._bus, self._handler, incoming, self._queue, self)

    @property
    def lost(self) -> bool:
        return False  # restored with the connection

    async def pause(self) -> None:
        if not (self._cancelled or self._paused):
            self._paused = True
            await _stop_consuming(self._channel, self._tag, self._queue)

    async def cancel(self) -> None:
        """Closing the channel stops deliveries and returns unsettled messages to the queue."""
        if self._cancelled:
            return
        self._cancelled = True
        self._bus.forget(self)
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await self._channel.close()
        except _BROKER_ERRORS:
            log.warning("consumer channel did not close cleanly; the broker requeues its messages")


class _ExclusiveConsumer(_Closing):
    """An exclusive consumer on a plain channel: `lost` once the channel or its lock is gone."""

    def __init__(
        self, bus: AmqpBus, channel: aio_pika.Channel, handler: Handler, queue: str, lock: int
    ) -> None:
        self._bus, self._channel, self._handler, self._queue = bus, channel, handler, queue
        self._lock = lock  # the control connection's generation that holds the lock
        self._tag: str | None = None
        self._cancelled = self._paused = False

    async def start(self) -> None:
        underlay = await self._channel.get_underlay_channel()
        self._tag = (await underlay.basic_consume(self._queue, self.on_message)).consumer_tag

    async def on_message(self, incoming: DeliveredMessage) -> None:
        _hand_over(self._bus, self._handler, incoming, self._queue, self)

    @property
    def lost(self) -> bool:
        return not self._cancelled and (
            self._channel.is_closed or not self._bus.control.holds_since(self._lock)
        )

    async def pause(self) -> None:
        """basic.cancel: nothing more is delivered, the lock stays; what is in hand can still
        be acknowledged, and `cancel` (closing the channel) returns the rest in order."""
        if not (self._cancelled or self._paused or self._channel.is_closed):
            self._paused = True
            await _stop_consuming(self._channel, self._tag, self._queue)

    async def cancel(self) -> None:
        """Close the channel (its unsettled messages go back to the head of the queue, for
        the next holder), then give the lock up."""
        if self._cancelled:
            return
        lost = self.lost  # its connection dropped: the outage was logged where it was seen
        self._cancelled = True
        self._bus.forget(self)
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT):
                if not self._channel.is_closed:
                    await self._channel.close()
                await self._bus.control.unlock(lock_name(self._queue), self._lock)
        except _BROKER_ERRORS:
            log.log(
                logging.DEBUG if lost else logging.WARNING,
                "consumer channel did not close cleanly; the broker requeues its messages",
            )


async def _stop_consuming(channel: AbstractChannel, tag: str | None, queue: str) -> None:
    if tag is not None:
        async with _answer(f"pausing the consumer of {queue!r}", CLOSE_TIMEOUT):
            underlay = await channel.get_underlay_channel()
            await underlay.basic_cancel(tag)


class _OwnModels:
    """The models of messages this process published, for its own consumers of them.

    A delivery takes the model only if its id and its body are those published here, so a
    message with a borrowed id is parsed like any other. Each model is taken once (a message
    routed to two queues here is parsed by the second consumer; a redelivery is parsed).
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._kept: OrderedDict[str, tuple[bytes, object]] = OrderedDict()

    def keep(self, message: Message) -> None:
        if message.model is None or not message.message_id:
            return
        self._kept[message.message_id] = (message.body, message.model)
        if len(self._kept) > self._limit:
            self._kept.popitem(last=False)

    def take(self, message_id: str, body: bytes) -> object | None:
        kept = self._kept.pop(message_id, None)
        return kept[1] if kept is not None and kept[0] == body else None

    def __len__(self) -> int:
        return len(self._kept)


def _hand_over(
    bus: AmqpBus, handler: Handler, incoming: DeliveredMessage, queue: str, consumer: _Closing
) -> None:
    """A delivery to its handler; the work it returns runs in a task of the bus's own."""
    work = start_handling(handler, _AmqpDelivery(bus, incoming, queue, consumer))
    if work is not None:
        bus.spawn(work)


class _AmqpDelivery:
    def __init__(
        self, bus: AmqpBus, incoming: DeliveredMessage, queue: str, consumer: _Closing
    ) -> None:
        self._consumer = consumer
        self._bus, self._channel, self._queue = bus, incoming.channel, queue
        deliver = incoming.delivery
        assert isinstance(deliver, Basic.Deliver)
        properties = incoming.header.properties
        self.message = _message(deliver, properties, incoming.body, bus.own_models)
        self.attempt = _attempt(deliver, properties)
        self._tag = deliver.delivery_tag or 0
        self.tags = consumer.unsettled_on(self._channel)
        self.tags.delivered(self._tag)
        self._settled = False

    def unsettled_here(self) -> bool:
        """Not settled yet, and its channel still open for an ack."""
        return not (self._settled or self._gone())

    def settled_together(self) -> None:
        """It was acknowledged by a multiple ack (`_ack_together`)."""
        self._settled = True
        self.tags.settled(self._tag)

    async def ack(self) -> None:
        await self._settle(self._ack)

    async def reject(self, *, requeue: bool) -> None:
        await self._settle(lambda: self._reject(requeue))

    # An ack or reject is never answered, so there is nothing to wait for once it is queued
    # for the socket; if the connection drops first, the broker redelivers the message.
    async def _ack(self) -> None:
        self.tags.settled(self._tag)
        if not try_ack(self._bus.write_batches, self._channel, self._tag):
            await self._channel.basic_ack(self._tag, wait=False)

    async def _reject(self, requeue: bool) -> None:
        self.tags.settled(self._tag)
        await self._channel.basic_reject(self._tag, requeue=requeue, wait=False)

    async def dead_letter(self, failure: Failure) -> None:
        if self._settled or self._gone():
            return  # the broker has it back already; it will be redelivered
        self._settled = True
        try:
            await self._bus.publish(dead_copy(self.message, failure, self._queue, self.attempt))
        except BaseException:
            self._settled = False
            raise
        await _settle_quietly(self._ack, self.message)

    async def _settle(self, settle: Callable[[], Awaitable[None]]) -> None:
        if self._settled:
            return
        self._settled = True
        if self._gone():
            return  # the broker has it back, or will have once the channel's close is done
        await _settle_quietly(settle, self.message)

    def _gone(self) -> bool:
        """Whether its channel is closed or being closed. Nothing may go out on it then: a
        frame that reaches RabbitMQ after the channel's close (an ack sent while the close
        was on its way) closes the whole connection (`CHANNEL_ERROR - expected
        'channel.open'`), every consumer's channel with it; handing shards back met this."""
        return self._consumer._cancelled or self._channel.is_closed


def _ack_together(batches: WriteBatches, group: list[_AmqpDelivery]) -> bool:
    """One multiple ack for deliveries of one channel, if they are its oldest unsettled ones
    and the ack can be queued now; False (nothing done) otherwise."""
    first = group[0]
    if first._gone():  # its channel began closing since the group was made
        return False
    top = first.tags.oldest({delivery._tag for delivery in group})
    if top is None or not try_ack(batches, first._channel, top, multiple=True):
        return False
    for delivery in group:
        delivery.settled_together()
    return True


@asynccontextmanager
async def _answer(what: str, seconds: float) -> AsyncIterator[None]:
    """Bound a broker operation in time and turn its failures into BusUnavailable."""
    try:
        async with asyncio.timeout(seconds):
            yield
    except _BROKER_ERRORS as exc:
        raise _unavailable(what, seconds, exc) from exc


def _unavailable(what: str, seconds: float, exc: BaseException) -> BusUnavailable:
    if isinstance(exc, TimeoutError):
        return BusUnavailable(f"{what}: RabbitMQ did not answer within {seconds}s")
    return BusUnavailable(f"{what}: {exc!r}")


async def _settle_quietly(settle: Callable[[], Awaitable[None]], message: Message) -> None:
    try:
        await settle()
    except _BROKER_ERRORS:
        # Its channel is gone: the broker requeued the message and redelivers it.
        log.info("message %s outlived its channel; the broker redelivers it", message.message_id)


async def _open_channel(
    connection: AbstractRobustConnection, *, confirms: bool
) -> AbstractRobustChannel:
    channel = connection.channel(publisher_confirms=confirms)
    await channel.initialize()
    return channel


async def _finish(tasks: list[asyncio.Task[None]]) -> None:
    tasks = [task for task in tasks if task is not asyncio.current_task()]  # close() in a handler
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _queue_options(spec: QueueSpec, queue_type: str = "quorum") -> dict[str, Any]:
    if spec.exclusive:
        return {"durable": False, "exclusive": True, "auto_delete": True}
    arguments: dict[str, Any] = {}
    if spec.quorum and spec.durable and queue_type == "quorum":
        arguments["x-queue-type"] = "quorum"
    if spec.single_active:
        arguments["x-single-active-consumer"] = True
    if spec.expires_s is not None:
        arguments["x-expires"] = int(spec.expires_s * 1000)
    if spec.ttl_s is not None:
        arguments["x-message-ttl"] = int(spec.ttl_s * 1000)
    if spec.dead_letter_to is not None:
        arguments["x-dead-letter-exchange"] = DEFAULT_EXCHANGE
        arguments["x-dead-letter-routing-key"] = spec.dead_letter_to
    return {"durable": spec.durable, "arguments": arguments or None}


def lock_name(queue: str) -> str:
    return f"{queue}.lock"


def _binding_arguments(binding: Binding) -> dict[str, Any] | None:
    if binding.header is None:
        return None
    name, value = binding.header
    return {"x-match": "all", name: value}


def _inequivalent(queue: str, queue_type: str) -> str:
    return (
        f"queue {queue!r} exists on RabbitMQ with other settings (an older botgate declared "
        f'it, or one with another bus.queue_type than "{queue_type}"); stop every botgate '
        f"process, let the queue drain, delete it (rabbitmqctl delete_queue {queue}), then "
        "start again"
    )


def _message(
    deliver: Basic.Deliver, properties: Basic.Properties, body: bytes, own: _OwnModels
) -> Message:
    message_id = properties.message_id or ""
    return Message(
        exchange=deliver.exchange or DEFAULT_EXCHANGE,
        routing_key=deliver.routing_key or "",
        body=body,
        message_id=message_id,
        headers=_text_headers(properties.headers),
        reply_to=properties.reply_to,
        content_type=properties.content_type or DEFAULT_CONTENT_TYPE,
        correlation_id=properties.correlation_id,
        model=own.take(message_id, body),
    )


def _text_headers(headers: Mapping[str, Any] | None) -> dict[str, str]:
    return {
        name: value.decode(errors="replace") if isinstance(value, bytes) else str(value)
        for name, value in (headers or {}).items()
        if name != DELIVERY_COUNT
    }


def _attempt(deliver: Basic.Deliver, properties: Basic.Properties) -> int:
    count = (properties.headers or {}).get(DELIVERY_COUNT)
    counted = 1 + count if isinstance(count, int) else 1
    return max(counted, 2 if deliver.redelivered else 1)
