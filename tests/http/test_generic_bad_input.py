"""Every bad input of CONTRACT section 3 gets its status, and nothing is recorded or published."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from gateway.app import Runtime
from gateway.bus.memory import MemoryBroker
from gateway.bus.topology import EVENTS_EXCHANGE, Binding, QueueSpec
from tests.support.pipeline import GenericClient, count_rows, make_settings, message, running
from tests.support.tcp_proxy import TcpProxy

SPY_QUEUE = "test.spy.events"


@pytest.fixture
async def gateway(backend: tuple[str, str]) -> AsyncIterator[tuple[Runtime, GenericClient]]:
    """A running pipeline, a client, and a spy queue that sees every published event."""
    async with running(make_settings(*backend)) as runtime:
        await runtime.bus.declare_queue(
            QueueSpec(SPY_QUEUE, (Binding(EVENTS_EXCHANGE, "#"),), durable=False, quorum=False)
        )
        client = GenericClient(runtime.http.url)
        yield runtime, client
        await client.close()


async def assert_nothing_happened(runtime: Runtime) -> None:
    assert await runtime.bus.queue_depth(SPY_QUEUE) == 0
    for table in ("processed_events", "messages", "platform_users", "platform_channels"):
        assert await count_rows(runtime, table) == 0, table


BAD_REQUESTS: list[tuple[str, dict[str, Any], int, str]] = [
    ("unknown bot", {"bot": "nobody"}, 404, "no bot 'nobody'"),
    ("missing signature", {"headers": {"X-Botgate-Signature": ""}}, 401, "missing"),
    (
        "wrong signature",
        {"headers": {"X-Botgate-Signature": "sha256=" + "0" * 64}},
        401,
        "does not match",
    ),
    ("stale timestamp", {"age": 310}, 401, "stale"),
    ("future timestamp", {"age": -310}, 401, "stale"),
    (
        "timestamp not a number",
        {"headers": {"X-Botgate-Timestamp": "yesterday"}},
        401,
        "unix seconds",
    ),
]


@pytest.mark.parametrize(
    ("case", "options", "status", "reason"), BAD_REQUESTS, ids=[b[0] for b in BAD_REQUESTS]
)
async def test_refused_requests(
    gateway: tuple[Runtime, GenericClient],
    case: str,
    options: dict[str, Any],
    status: int,
    reason: str,
) -> None:
    runtime, client = gateway
    if "age" in options:
        options = {"signed_at": time.time() - options["age"]}
    answer = await client.post(message("/help"), **options)
    assert answer[0] == status, case
    assert reason in answer[1]["error"]
    await assert_nothing_happened(runtime)


BAD_BODIES: list[tuple[str, bytes]] = [
    ("not JSON", b"{not json"),
    ("JSON but not an object", b"[1, 2]"),
    ("no text", b'{"user": {"id": "u"}, "channel": {"id": "c"}}'),
    ("no user id", b'{"user": {}, "channel": {"id": "c"}, "text": "hi"}'),
    ("empty channel id", b'{"user": {"id": "u"}, "channel": {"id": ""}, "text": "hi"}'),
    (
        "unknown channel type",
        b'{"user": {"id": "u"}, "channel": {"id": "c", "type": "forum"}, "text": "hi"}',
    ),
]


@pytest.mark.parametrize(("case", "body"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
async def test_malformed_bodies_are_400(
    gateway: tuple[Runtime, GenericClient], case: str, body: bytes
) -> None:
    runtime, client = gateway
    status, answer = await client.post(body)
    assert status == 400, case
    assert "not a generic message" in answer["error"]
    await assert_nothing_happened(runtime)


async def test_body_over_one_mebibyte_is_413(gateway: tuple[Runtime, GenericClient]) -> None:
    runtime, client = gateway
    status, answer = await client.post(message("x" * (1024 * 1024)))
    assert status == 413
    assert "limit" in answer["error"]
    await assert_nothing_happened(runtime)


async def test_unknown_bot_wins_over_size_and_signature(
    gateway: tuple[Runtime, GenericClient],
) -> None:
    runtime, client = gateway
    status, _ = await client.post(
        b"x" * (2 * 1024 * 1024), bot="nobody", headers={"X-Botgate-Signature": ""}
    )
    assert status == 404
    await assert_nothing_happened(runtime)


async def test_size_is_checked_before_the_signature(gateway: tuple[Runtime, GenericClient]) -> None:
    _, client = gateway
    status, _ = await client.post(
        b"x" * (1024 * 1024 + 1), headers={"X-Botgate-Signature": "sha256=00"}
    )
    assert status == 413


async def test_bus_outage_is_503_and_nothing_recorded(tmp_path: Any, memory_url: str) -> None:
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}", memory_url)
    async with running(settings) as runtime:
        client = GenericClient(runtime.http.url)
        MemoryBroker.named(memory_url.removeprefix("memory://")).refuse_publishes = True
        status, answer = await client.post(message("/help"), wait=True)
        MemoryBroker.named(memory_url.removeprefix("memory://")).refuse_publishes = False
        await client.close()
        assert status == 503
        assert "refused" in answer["error"]
        assert await count_rows(runtime, "processed_events") == 0


@pytest.mark.rabbitmq
async def test_rabbitmq_outage_is_503_then_service_resumes(tmp_path: Any, amqp_url: str) -> None:
    async with TcpProxy.to(amqp_url) as proxy:
        settings = make_settings(
            f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}",
            proxy.url(amqp_url),
            bus={"publish_timeout": "2s", "reconnect_interval": "0.2s"},
        )
        async with running(settings) as runtime:
            client = GenericClient(runtime.http.url)
            proxy.refuse()
            await proxy.drop()
            status, _ = await client.post(message("/help", event_id="during-outage"), wait=True)
            assert status == 503
            assert await count_rows(runtime, "processed_events") == 0
            proxy.accept()
            status, body = await _retry_until_accepted(
                client, message("/help", event_id="during-outage")
            )
            await client.close()
    assert status == 200
    assert len(body["replies"]) == 1


async def _retry_until_accepted(client: GenericClient, payload: dict[str, Any]) -> tuple[int, Any]:
    """What a platform does after a 503: send the same event again, a little later."""
    import asyncio

    for _ in range(50):
        status, body = await client.post(payload, wait=True)
        if status != 503:
            return status, body
        await asyncio.sleep(0.2)
    return status, body


async def test_refusals_log_the_reason_never_the_signature_or_body(
    gateway: tuple[Runtime, GenericClient], caplog: pytest.LogCaptureFixture
) -> None:
    _, client = gateway
    bad_signature = "sha256=" + "ab" * 32
    caplog.set_level("DEBUG")
    status, _ = await client.post(
        message("my secret question"), headers={"X-Botgate-Signature": bad_signature}
    )
    assert status == 401
    assert "signature does not match" in caplog.text
    for leaked in (bad_signature, "ab" * 32, "my secret question", client.secret):
        assert leaked not in caplog.text
