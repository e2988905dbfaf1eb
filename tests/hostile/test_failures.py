"""Failure paths against the real services: the connection stopped, not a flag set."""

from __future__ import annotations

import random
import uuid

import pytest
from sqlalchemy import select

from benchmarks.hostile import ROUTES, RawRequest, send, valid_request
from gateway import codec
from gateway.app import Runtime
from gateway.bus.base import Message
from gateway.bus.topology import (
    EVENTS_EXCHANGE,
    HEADER_TRACEPARENT,
)
from gateway.events import CLIPPED, DEDUPE_KEY_MAX, ID_MAX, LOCALE_MAX, NAME_MAX
from store.models import DeadLetter, PlatformChannel, PlatformUser, ProcessedEvent
from store.models import Message as MessageRow
from tests.hostile.target import fuzz_target
from tests.support.pipeline import (
    GenericClient,
    count_rows,
    eventually,
    make_settings,
    message,
    running,
)
from tests.support.tcp_proxy import TcpProxy

WEBHOOKS = [route for route in ROUTES if route != "admin"]


def test_the_schema_limits_are_the_columns() -> None:
    columns = {
        ID_MAX: [
            PlatformUser.external_id,
            PlatformChannel.external_id,
            MessageRow.external_id,
            MessageRow.thread_id,
            MessageRow.reply_to_id,
        ],
        NAME_MAX: [PlatformUser.name, PlatformUser.display_name, PlatformChannel.name],
        LOCALE_MAX: [PlatformUser.locale],
        DEDUPE_KEY_MAX: [ProcessedEvent.dedupe_key],
    }
    for limit, fields in columns.items():
        assert {field.type.length for field in fields} == {limit}  # type: ignore[attr-defined]


async def test_long_names_are_cut_and_long_ids_refused(backend: tuple[str, str]) -> None:
    async with running(make_settings(*backend)) as runtime:
        client = GenericClient(runtime.http.url)
        long_name = message("hi", user="u-1") | {"user": {"id": "u-1", "name": "n" * 300}}
        long_thread = message("hi") | {"thread_id": "t" * (ID_MAX + 1)}
        with_nul = message("a\x00b", user="u-2")
        accepted = await client.post(long_name, wait=True)
        refused = await client.post(long_thread)
        nul = await client.post(with_nul, wait=True)
        await client.close()
        async with runtime.db.transaction() as db:
            names = set((await db.execute(select(PlatformUser.name))).scalars())
            texts = set(
                (
                    await db.execute(select(MessageRow.text).where(MessageRow.direction == "in"))
                ).scalars()
            )
    assert accepted[0] == 200
    assert accepted[1]["replies"]
    assert refused == (
        400,
        {"error": "not a generic message: thread_id: String should have at most 256 characters"},
    )
    assert nul[0] == 200
    assert names == {"n" * (NAME_MAX - 1) + CLIPPED, "u-2"}
    assert texts == {"hi", "a\ufffdb"}


async def test_an_unknown_path_never_makes_a_metric_series(tmp_path: object) -> None:
    settings = make_settings("sqlite+aiosqlite://", f"memory://m-{uuid.uuid4().hex[:8]}")
    async with running(settings) as runtime:
        client = GenericClient(runtime.http.url)
        for index in range(30):
            await client.post(message("hi"), bot=f"nobody{index}")
        client.bot = "helpdesk"
        await client.http.post(f"{runtime.http.url}/webhooks/platform{uuid.uuid4().hex}/x")
        await client.close()
        metrics = runtime.metrics.render().decode()
    received = [
        line for line in metrics.splitlines() if line.startswith("botgate_events_received_total{")
    ]
    assert received == [  # a configured platform keeps its label, any other is "unknown"
        'botgate_events_received_total{platform="generic",status="404"} 30.0',
        'botgate_events_received_total{platform="unknown",status="404"} 1.0',
    ]


async def test_a_waiting_caller_learns_the_event_was_dead_lettered(
    backend: tuple[str, str],
) -> None:
    settings = make_settings(*backend, bus={"max_attempts": 2})
    async with running(settings) as runtime:
        await _refuse_to_store(runtime, "/explode")  # the database itself refuses the write
        client = GenericClient(runtime.http.url)
        status, body = await client.post(message("/explode"), wait=True)
        await client.close()
        assert await count_rows(runtime, "messages") == 0
        metrics = runtime.metrics.render().decode()
    assert status == 500
    assert body["error"].startswith("the event was not recorded: the core could not record it")
    assert "Error" in body["error"]  # the exception's class, never its text
    assert "exploded" not in body["error"]
    assert 'botgate_events_dead_total{stage="record"} 1.0' in metrics


async def _refuse_to_store(runtime: Runtime, text: str) -> None:
    """A trigger that makes every write of a message with `text` fail, as a broken database
    would: the core cannot record the event."""
    statements = {
        "sqlite": [
            "CREATE TRIGGER refuse BEFORE INSERT ON messages WHEN NEW.text = :text"
            " BEGIN SELECT RAISE(ABORT, 'exploded on purpose'); END"
        ],
        "postgresql": [
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            " IF NEW.text = '" + text + "' THEN RAISE EXCEPTION 'exploded on purpose'; END IF;"
            " RETURN NEW; END $$",
            "CREATE TRIGGER refuse BEFORE INSERT ON messages FOR EACH ROW"
            " EXECUTE FUNCTION refuse()",
        ],
    }
    async with runtime.db.engine.begin() as connection:
        for statement in statements[runtime.db.dialect]:
            sql = statement.replace(":text", f"'{text}'")
            await connection.exec_driver_sql(sql)


@pytest.mark.rabbitmq
async def test_an_invalid_event_is_dead_lettered_at_once_with_its_headers(
    sqlite_url: str, amqp_url: str
) -> None:
    async with running(make_settings(sqlite_url, amqp_url)) as runtime:
        good = codec.loads(codec.dumps({"bot": "nobody"}))
        for routing_key, body in [
            ("generic.helpdesk.message.created", b'{"not": "an event"}'),
            ("generic.nobody.message.created", codec.dumps(good)),
        ]:
            headers = {HEADER_TRACEPARENT: "00-" + "1" * 32 + "-" + "2" * 16 + "-01"}
            await runtime.bus.publish(
                Message(EVENTS_EXCHANGE, routing_key, body, str(uuid.uuid4()), headers)
            )

        async def both() -> bool:  # the keeper moved them from botgate.dead to the store
            return await count_rows(runtime, "dead_letters") == 2

        await eventually(both)
        async with runtime.db.transaction() as db:
            dead = (await db.execute(select(DeadLetter))).scalars().all()
    for letter in dead:
        assert letter.attempts == 1  # at once, not after bus.max_attempts
        assert letter.headers[HEADER_TRACEPARENT].startswith("00-111")
        assert "invalid event" in letter.reason


@pytest.mark.postgres
@pytest.mark.rabbitmq
async def test_every_webhook_is_503_while_rabbitmq_is_down_and_readyz_says_why(
    postgres_url: str, amqp_url: str
) -> None:
    proxy = TcpProxy.to(amqp_url)
    quick = {"publish_timeout": "1s", "reconnect_interval": "200ms"}  # a 503 takes no 5 s
    async with proxy, fuzz_target(postgres_url, proxy.url(amqp_url), bus=quick) as target:
        rng = random.Random(3)
        proxy.refuse()
        await proxy.drop()
        answers = {
            route: await send(*target.host_port, valid_request(rng, route, target.keys))
            for route in WEBHOOKS
        }
        ready = await send(*target.host_port, _get(b"/readyz"))
        rows_while_down = await count_rows(target.runtime, "processed_events")
        proxy.accept()

        async def back() -> bool:
            return (await send(*target.host_port, _get(b"/readyz"))).status == 200

        await eventually(back, timeout=30)
        after = await send(*target.host_port, valid_request(rng, "generic", target.keys))

        async def after_recorded() -> bool:  # the queue is in order: what came before is in
            return len(await _inbound_rows(target.runtime)) >= 1

        await eventually(after_recorded)
        inbound = await _inbound_rows(target.runtime)
    assert {route: answer.status for route, answer in answers.items()} == dict.fromkeys(
        WEBHOOKS, 503
    )
    assert ready.status == 503
    assert codec.loads(ready.body)["checks"]["bus"] == "not connected"
    assert rows_while_down == 0
    assert after.status == 202
    assert inbound == ["generic"]  # none of the refused ones was recorded, then or later


async def _inbound_rows(runtime: Runtime) -> list[str]:
    """The platforms of the events recorded that came from a webhook (not the answers' own
    `message.sent`)."""
    async with runtime.db.transaction() as db:
        rows = await db.execute(
            select(ProcessedEvent.platform).where(ProcessedEvent.event_type != "message.sent")
        )
        return list(rows.scalars())


@pytest.mark.postgres
async def test_readyz_is_503_while_postgresql_is_down(postgres_url: str, memory_url: str) -> None:
    proxy = TcpProxy("127.0.0.1", 5432)
    async with proxy, running(make_settings(proxy.url(postgres_url), memory_url)) as runtime:
        host, port = runtime.http.host, runtime.http.port
        assert (await send(host, port, _get(b"/readyz"))).status == 200
        proxy.refuse()
        await proxy.drop()
        down = await send(host, port, _get(b"/readyz"))
        proxy.accept()

        async def back() -> bool:
            return (await send(host, port, _get(b"/readyz"))).status == 200

        await eventually(back, timeout=30)
    assert down.status == 503
    assert codec.loads(down.body)["checks"]["database"] != "ok"


@pytest.mark.rabbitmq
async def test_a_confirm_lost_mid_publish_is_503_and_the_retry_is_recorded_once(
    sqlite_url: str, amqp_url: str
) -> None:
    proxy = TcpProxy.to(amqp_url)
    async with proxy:
        settings = make_settings(
            sqlite_url,
            proxy.url(amqp_url),
            bus={"publish_timeout": "1s", "reconnect_interval": "200ms"},
        )
        async with running(settings) as runtime:
            client = GenericClient(runtime.http.url)
            body = codec.dumps(message("no event_id, so the id comes from the signature"))
            from adapters.generic import signed_headers

            headers = signed_headers(client.secret, body)  # the same signed request twice
            proxy.hold()  # the broker takes the message; its confirm never comes back
            first = await client.post(body, headers=headers)
            await proxy.drop()
            proxy.release()
            retries: list[tuple[int, object]] = []

            async def accepted() -> bool:  # the client retries the same request until taken
                retries.append(await client.post(body, headers=headers))
                return retries[-1][0] != 503

            await eventually(accepted, timeout=30)
            second = retries[-1]
            await client.close()

            async def settled() -> bool:  # the retry was seen as a duplicate; the answer recorded
                processed = runtime.metrics.render().decode()
                duplicate = 'botgate_events_processed_total{outcome="duplicate"} 1.0' in processed
                return duplicate and await count_rows(runtime, "messages") >= 2

            await eventually(settled, timeout=30)
            rows = await count_rows(runtime, "messages")
    assert first[0] == 503
    assert second[0] == 202
    assert rows == 2  # the message and the bot's answer to it: recorded once


def _get(path: bytes) -> RawRequest:
    return RawRequest("health", "get", "GET", path, (), b"")
