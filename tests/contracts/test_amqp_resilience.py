"""RabbitMQ outages: fail fast on the first connect, recover after a drop, never hang a publish.

The broker is reached through a TCP proxy that can drop every connection or refuse new ones.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from yarl import URL

from gateway.bus.amqp import AmqpBus, _OwnModels
from gateway.bus.base import Message, QueueStats
from gateway.bus.topology import (
    DEFAULT_EXCHANGE,
    EVENTS_EXCHANGE,
    Binding,
    QueueSpec,
    adapter_queue,
    reply_queue,
)
from gateway.errors import BusUnavailable
from tests.contracts.inbox import WAIT, Inbox
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.rabbitmq

QUEUE = QueueSpec("test.work", (Binding(EVENTS_EXCHANGE, "#"),))


def event(message_id: str) -> Message:
    return Message(EVENTS_EXCHANGE, "telegram.helpdesk.message.created", b"{}", message_id)


@pytest.fixture
async def proxy(amqp_url: str) -> AsyncIterator[TcpProxy]:
    async with TcpProxy.to(amqp_url) as proxy:
        yield proxy


@pytest.fixture
async def proxied_bus(amqp_url: str, proxy: TcpProxy) -> AsyncIterator[AmqpBus]:
    bus = AmqpBus(proxy.url(amqp_url), publish_timeout=1.0, reconnect_interval=0.1)
    await bus.connect()
    yield bus
    await bus.close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def eventually(attempt: Callable[[], Awaitable[None]]) -> None:
    """Retry `attempt` while the bus is still reconnecting, within WAIT seconds."""
    async with asyncio.timeout(WAIT):
        while True:
            try:
                return await attempt()
            except BusUnavailable:
                await asyncio.sleep(0.1)  # back-off between attempts, not synchronisation


def test_own_models_need_the_same_id_and_body_and_are_bounded() -> None:
    own = _OwnModels(limit=2)
    model = object()
    own.keep(Message(EVENTS_EXCHANGE, "a", b"{}", "m1", model=model))
    assert own.take("m1", b'{"forged": true}') is None  # a borrowed id, another body
    assert own.take("m1", b"{}") is None  # taken (and dropped) once
    for n in range(3):
        own.keep(Message(EVENTS_EXCHANGE, "a", b"{}", f"k{n}", model=model))
    assert len(own) == 2
    assert own.take("k0", b"{}") is None  # the oldest aged out
    assert own.take("k2", b"{}") is model


async def test_connect_to_an_unreachable_broker_fails_fast(amqp_url: str) -> None:
    bus = AmqpBus(str(URL(amqp_url).with_host("127.0.0.1").with_port(closed_port())))
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(BusUnavailable, match=r"connection refused; is RabbitMQ running there\?"):
        await asyncio.wait_for(bus.connect(), WAIT)
    assert loop.time() - started < 2
    assert not await bus.healthy()
    await bus.close()


async def test_password_is_hidden_in_the_error(amqp_url: str) -> None:
    url = URL(amqp_url).with_port(closed_port()).with_password("s3cret-pw")
    bus = AmqpBus(str(url))
    with pytest.raises(BusUnavailable) as raised:
        await bus.connect()
    assert "s3cret-pw" not in str(raised.value)
    assert ":***@" in bus.url_for_display


async def test_consumer_recovers_after_the_connection_drops(
    proxied_bus: AmqpBus, proxy: TcpProxy
) -> None:
    await proxied_bus.declare_queue(QUEUE)
    inbox = Inbox()
    await proxied_bus.consume(QUEUE.name, inbox, prefetch=10)
    await proxied_bus.publish(event("before"))
    held = await inbox.next()

    await proxy.drop()
    redelivered = await inbox.next()
    assert (redelivered.message.message_id, redelivered.attempt) == ("before", 2)
    await held.ack()  # its channel is gone: a no-op, the redelivered copy is what counts
    await redelivered.ack()

    await eventually(lambda: proxied_bus.publish(event("after")))
    after = await inbox.next()
    assert (after.message.message_id, after.attempt) == ("after", 1)
    await after.ack()
    assert await proxied_bus.healthy()


async def test_a_reply_sent_while_its_waiter_reconnects_is_kept(
    amqp_url: str, proxied_bus: AmqpBus, proxy: TcpProxy
) -> None:
    """The core (here a second, direct connection) answers while the waiter's link is down."""
    spec = reply_queue("botgate.replies.test")
    await proxied_bus.declare_queue(spec)
    inbox = Inbox()
    await proxied_bus.consume(spec.name, inbox, prefetch=10)
    core = AmqpBus(amqp_url)
    await core.connect()
    try:
        proxy.refuse()
        await proxy.drop()
        await core.publish(Message(DEFAULT_EXCHANGE, spec.name, b"{}", "answer"))
        assert await core.queue_depth(spec.name) == 1
        proxy.accept()
        received = await inbox.next()
    finally:
        await core.close()
    assert (received.message.message_id, received.message.routing_key) == ("answer", spec.name)


async def test_an_expiring_queue_is_removed_once_unused(proxied_bus: AmqpBus) -> None:
    spec = QueueSpec("test.expiring", durable=True, quorum=False, expires_s=0.2)
    await proxied_bus.declare_queue(spec)
    subscription = await proxied_bus.consume(spec.name, Inbox(), prefetch=1)
    await asyncio.sleep(0.5)  # longer than expires_s: a consumed queue stays
    assert await proxied_bus.queue_stats(spec.name) == QueueStats(ready=0, consumers=1)
    await subscription.cancel()
    # Looking renews the lease (a passive declare counts as use), so look after it ran out.
    await asyncio.sleep(1.0)
    assert await proxied_bus.queue_stats(spec.name) is None


async def test_publish_during_an_outage_fails_within_the_timeout(
    proxied_bus: AmqpBus, proxy: TcpProxy
) -> None:
    await proxied_bus.declare_queue(QUEUE)
    proxy.refuse()
    await proxy.drop()
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(BusUnavailable):
        await asyncio.wait_for(proxied_bus.publish(event("lost")), WAIT)
    assert loop.time() - started < 1.0 + 0.5  # publish_timeout, plus slack
    assert not await proxied_bus.healthy()

    proxy.accept()
    await eventually(lambda: proxied_bus.publish(event("kept")))
    assert await proxied_bus.queue_depth(QUEUE.name) == 1


@pytest.mark.rabbitmq
async def test_a_queue_declared_before_with_other_settings_is_named_with_what_to_do(
    amqp_url: str,
) -> None:
    """An action queue an older botgate declared (without single active consumer)."""
    bus = AmqpBus(amqp_url)
    await bus.connect()
    try:
        spec = adapter_queue("telegram", "helpdesk")
        await bus.declare_queue(QueueSpec(spec.name, spec.bindings))
        with pytest.raises(BusUnavailable, match=r"exists on RabbitMQ with other settings.*delete"):
            await bus.declare_queue(spec)
    finally:
        await bus.close()
