"""A broker or database outage is one WARNING line when it starts and one INFO line when it
ends, however many reconnect attempts and failing loops there are in between (the drivers'
own reconnect chatter is dropped, gateway/bus/reconnect_log.py). The connection is really cut:
a TCP proxy that drops it and refuses new ones."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import pytest

from gateway.bus.amqp import AmqpBus
from gateway.bus.topology import shard_queue_name
from gateway.outage import Outage
from tests.support.pipeline import (
    GenericClient,
    count_rows,
    eventually,
    make_settings,
    message,
    running,
)
from tests.support.tcp_proxy import TcpProxy

RETRIES_SEEN = 3  # reconnect attempts refused while down: enough to show they are quiet


def _lines(caplog: pytest.LogCaptureFixture) -> tuple[list[str], list[str]]:
    """(every WARNING or worse, the outage's recovery lines)"""
    loud = [
        f"{r.levelname} {r.name}: {r.getMessage()}"
        for r in caplog.records
        if r.levelno >= logging.WARNING
    ]
    back = [
        r.getMessage()
        for r in caplog.records
        if r.name == "gateway.outage" and r.levelno == logging.INFO
    ]
    return loud, back


async def _outage(
    proxy: TcpProxy,
    outage: Outage,
    ready: Callable[[], Awaitable[bool]],
    during: Callable[[], Awaitable[object]] | None = None,
) -> object:
    """Cut the connection; what `during` returns, once the process has retried a few times
    while refused; then let it back in and wait until it is ready again."""
    proxy.refuse()
    await proxy.drop()
    result = await during() if during else None

    async def retried() -> bool:
        return proxy.refused >= RETRIES_SEEN and outage.down

    await eventually(retried)
    proxy.accept()

    async def recovered() -> bool:
        return not outage.down and await ready()

    await eventually(recovered)
    return result


@pytest.mark.rabbitmq
async def test_a_rabbitmq_reconnect_is_one_warning_and_one_line_on_recovery(
    sqlite_url: str, amqp_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with TcpProxy.to(amqp_url) as proxy:
        url = proxy.url(amqp_url)
        async with running(
            make_settings(sqlite_url, url, bus={"reconnect_interval": "100ms"})
        ) as runtime:
            bus = runtime.bus
            assert isinstance(bus, AmqpBus)
            caplog.clear()

            async def ready() -> bool:
                return await bus.has_queue(shard_queue_name(0))

            await _outage(proxy, bus.outage, ready)
            client = GenericClient(runtime.http.url)
            status, body = await client.post(message("after the outage"), wait=True)
            await client.close()
    _assert_one_line_each_way(
        caplog,
        "WARNING gateway.outage: RabbitMQ at amqp://guest:***@127.0.0.1",
        "is unreachable (AMQPConnectionError",
        "RabbitMQ at ",
    )
    assert status == 200
    assert body["replies"]


@pytest.mark.postgres
async def test_a_postgresql_reconnect_is_one_warning_and_one_line_on_recovery(
    postgres_url: str, memory_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with (
        TcpProxy("127.0.0.1", 5432) as proxy,
        running(make_settings(proxy.url(postgres_url), memory_url)) as runtime,
    ):
        client = GenericClient(runtime.http.url)
        assert (await client.post(message("before"), wait=True))[0] == 200
        caplog.clear()

        async def ready() -> bool:
            try:
                await runtime.db.ping()
            except Exception:
                return False
            return True

        # an event arrives while the database is away: the core holds it, the loops fail
        during = await _outage(
            proxy, runtime.db.outage, ready, lambda: client.post(message("during the outage"))
        )
        status, body = await client.post(message("after the outage"), wait=True)
        await client.close()

        async def all_recorded() -> bool:  # before, during, after and their three answers
            return await count_rows(runtime, "messages") == 6

        await eventually(all_recorded)
    assert during == (202, during[1])  # type: ignore[index]
    _assert_one_line_each_way(
        caplog,
        "WARNING gateway.outage: the database postgresql+asyncpg://",
        "is unreachable (",
        "the database ",
    )
    assert status == 200
    assert body["replies"]


def _assert_one_line_each_way(
    caplog: pytest.LogCaptureFixture, lost: str, lost_reason: str, back_prefix: str
) -> None:
    """One WARNING when the backend went away, one line when it came back; nothing else."""
    loud, back = _lines(caplog)
    assert len(loud) == 1, loud
    assert loud[0].startswith(lost)
    assert lost_reason in loud[0]
    assert len(back) == 1, back
    assert back[0].startswith(back_prefix)
    assert "is reachable again after" in back[0]
