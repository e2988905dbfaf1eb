"""The whole pipeline on the generic webhook, on SQLite + memory and PostgreSQL + RabbitMQ:
signed webhook in, bus, core, database, action out, reply back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters.generic import DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from gateway import codec
from gateway.app import Runtime
from store.models import DeadLetter, Message, PlatformChannel, PlatformUser, UserSession
from tests.support.pipeline import (
    GENERIC_SECRET,
    CallbackReceiver,
    GenericClient,
    count_rows,
    eventually,
    generic_bot,
    make_settings,
    message,
    running,
)

TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture
async def client() -> AsyncIterator[GenericClient]:
    generic = GenericClient("http://unset")
    yield generic
    await generic.close()


async def test_wait_returns_the_reply_and_records_everything(
    backend: tuple[str, str], client: GenericClient
) -> None:
    async with running(make_settings(*backend)) as runtime:
        client.base_url = runtime.http.url
        status, body = await client.post(message("/help", event_id="evt-1"), wait=True)

        assert status == 200
        [reply] = body["replies"]
        assert reply["type"] == "message.send"
        assert reply["channel_id"] == "room-1"
        assert reply["in_reply_to"] == body["event_id"]
        assert "/help" in reply["text"]
        await eventually(lambda: _has_outbound(runtime))
        async with runtime.db.transaction() as db:
            user = (await db.execute(select(PlatformUser))).scalar_one()
            channel = (await db.execute(select(PlatformChannel))).scalar_one()
            session = (await db.execute(select(UserSession))).scalar_one()
            rows = (await db.execute(select(Message).order_by(Message.occurred_at))).scalars().all()
    assert (user.platform, user.external_id, user.name) == ("generic", "u-17", "u-17")
    assert (channel.external_id, channel.type) == ("room-1", "direct")
    assert next((m.direction, m.external_id) for m in rows) == ("in", "evt-1")
    assert [m.direction for m in rows] == ["in", "out"]
    assert {m.session_id for m in rows} == {session.id}
    assert rows[1].text == reply["text"]


async def _has_outbound(runtime: Runtime) -> bool:
    async with runtime.db.transaction() as db:
        found = await db.execute(select(Message.id).where(Message.direction == "out"))
        return found.first() is not None


async def test_without_wait_the_answer_is_202_with_the_event_id(
    backend: tuple[str, str], client: GenericClient
) -> None:
    async with running(make_settings(*backend)) as runtime:
        client.base_url = runtime.http.url
        status, body = await client.post(message("hello"))
        assert status == 202
        assert len(body["event_id"]) == 36
        await eventually(lambda: _has_outbound(runtime))


async def test_same_event_id_twice_is_recorded_once_and_answered_twice(
    backend: tuple[str, str], client: GenericClient
) -> None:
    async with running(make_settings(*backend)) as runtime:
        client.base_url = runtime.http.url
        first = await client.post(message("/help", event_id="dup-1"), wait=True)
        second = await client.post(message("/help", event_id="dup-1"), wait=True)
        assert first[0] == second[0] == 200
        assert first[1]["replies"] == second[1]["replies"]  # the same answer, not a new one
        await eventually(lambda: _has_outbound(runtime))
        await asyncio.sleep(0.3)  # a second reply, if one were (wrongly) sent, would land now
        assert await count_rows(runtime, "messages") == 2  # one in, one out
        # the inbound key once, and the one reply's message.sent: no second reply went out
        assert await count_rows(runtime, "processed_events") == 2


async def test_replies_are_posted_signed_to_the_callback_with_retries(
    backend: tuple[str, str], client: GenericClient
) -> None:
    async with CallbackReceiver(failures=2) as receiver:
        settings = make_settings(
            *backend, bots=[generic_bot("helpdesk", callback_url=receiver.url)]
        )
        async with running(settings) as runtime:
            _fast_retries(runtime)
            client.base_url = runtime.http.url
            status, body = await client.post(message("/help"), headers={"traceparent": TRACE})
            assert status == 202
            await asyncio.wait_for(receiver.delivered.wait(), 15)

    assert len(receiver.requests) == 3  # two 500s, then success
    deliveries = {headers[DELIVERY_HEADER] for headers, _ in receiver.requests}
    assert len(deliveries) == 1  # the same delivery id across retries
    headers, raw = receiver.requests[-1]
    assert headers[SIGNATURE_HEADER] == sign(GENERIC_SECRET, headers[TIMESTAMP_HEADER], raw)
    action = codec.loads(raw)
    assert action["schema"] == "botgate.action/1"
    assert action["in_reply_to"] == body["event_id"]
    assert action["id"] == deliveries.pop()
    assert headers["traceparent"] == TRACE  # the trace travelled webhook -> bus -> send


def _fast_retries(runtime: Runtime) -> None:
    for adapter in runtime.adapters.values():
        adapter.backoff_base = 0.01  # type: ignore[attr-defined]


async def test_callback_that_never_succeeds_is_dead_lettered_and_audited(
    backend: tuple[str, str], client: GenericClient
) -> None:
    async with CallbackReceiver(failures=100) as receiver:
        settings = make_settings(
            *backend, bots=[generic_bot("helpdesk", callback_url=receiver.url)]
        )
        async with running(settings) as runtime:
            _fast_retries(runtime)
            client.base_url = runtime.http.url
            await client.post(message("/help"))

            async def kept() -> bool:
                return await count_rows(runtime, "dead_letters") == 1

            await eventually(kept, 15)
            assert await count_rows(runtime, "audit_log") == 1
            async with runtime.db.transaction() as db:
                letter = (await db.execute(select(DeadLetter))).scalar_one()
            assert letter.reason == "callback failed after 8 attempts: callback answered 500"
            assert (letter.error, letter.attempts) == ("PermanentError", 8)
            assert letter.origin_queue == "botgate.actions.generic.helpdesk"
            assert "traceparent" in letter.headers
    assert len(receiver.requests) == 8  # every attempt the contract allows
    assert not receiver.delivered.is_set()


async def test_an_idle_session_times_out_and_a_new_one_opens(
    backend: tuple[str, str], client: GenericClient
) -> None:
    settings = make_settings(*backend, sessions={"idle_timeout": "1s"})
    async with running(settings) as runtime:
        client.base_url = runtime.http.url
        await client.post(message("one"), wait=True)
        await client.post(message("two"), wait=True)
        await asyncio.sleep(1.2)
        await client.post(message("three"), wait=True)
        async with runtime.db.transaction() as db:
            sessions = (
                (await db.execute(select(UserSession).order_by(UserSession.started_at)))
                .scalars()
                .all()
            )
            inbound = (
                (
                    await db.execute(
                        select(Message)
                        .where(Message.direction == "in")
                        .order_by(Message.occurred_at)
                    )
                )
                .scalars()
                .all()
            )
    assert len(sessions) == 2
    assert sessions[0].ended_at is not None
    assert sessions[1].ended_at is None
    assert [m.session_id for m in inbound] == [sessions[0].id, sessions[0].id, sessions[1].id]


async def test_group_messages_are_recorded_but_only_addressed_ones_answered(
    backend: tuple[str, str], client: GenericClient
) -> None:
    async with running(make_settings(*backend)) as runtime:  # waits up to 10 s
        client.base_url = runtime.http.url
        group = {"id": "team", "type": "group"}
        chatter = await client.post({**message("lunch?"), "channel": group}, wait=True)
        mention = await client.post({**message("@helpdesk /help"), "channel": group}, wait=True)
    assert chatter == (200, {"event_id": chatter[1]["event_id"], "replies": []})
    assert mention[0] == 200, mention
    assert len(mention[1]["replies"]) == 1
    assert mention[1]["replies"][0]["reply_to_id"] is not None  # answers in place in a group


async def test_a_stop_lets_the_send_under_way_finish_and_it_is_not_sent_again(
    tmp_path: Path, memory_url: str
) -> None:
    async with CallbackReceiver(delay=0.5) as receiver:
        settings = make_settings(
            f"sqlite+aiosqlite:///{tmp_path / 'db'}",
            memory_url,
            bots=[generic_bot("helpdesk", callback_url=receiver.url)],
        )
        async with running(settings) as runtime:
            client = GenericClient(runtime.http.url)
            await client.post(message("/help"))
            await client.close()
            await asyncio.wait_for(receiver.arrived.wait(), 5)  # the send is under way: stop now
        assert receiver.delivered.is_set()  # the stop waited for it
        async with running(settings):  # the same broker and database, as after a restart
            await asyncio.sleep(0.8)
    assert len(receiver.requests) == 1  # and it was acked: nothing to send again
