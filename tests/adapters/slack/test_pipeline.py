"""Slack through the whole pipeline: the emulator signs and delivers (webhook or Socket Mode),
the gateway publishes, the core records rows and answers, the reply arrives at the emulator."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy import select

from botgate.testing.slack import SlackEmulator
from gateway.app import Runtime
from store.models import AuditLog, Click, Message, PlatformChannel, PlatformUser
from tests.adapters.slack.support import SIGNING_SECRET, inner, load
from tests.support.pipeline import count_rows, eventually, make_settings, running

SUPPORT, DM = "C024BE91L", "D0PNCRP9N"


@asynccontextmanager
async def gateway(
    backend: tuple[str, str], slack: SlackEmulator, **config: Any
) -> AsyncIterator[Runtime]:
    bot = {
        "name": "helpdesk",
        "tools": ["help"],
        "slack": {
            "bot_token": slack.bot_token,
            "signing_secret": SIGNING_SECRET,
            "api_base_url": slack.api_url,
            "send_interval": "0s",
            **config,
        },
    }
    async with running(make_settings(*backend, bots=[bot])) as runtime:
        yield runtime


def hook(runtime: Runtime) -> str:
    return f"{runtime.http.url}/webhooks/slack/helpdesk"


async def replied(slack: SlackEmulator, channel: str, count: int = 1) -> list[dict[str, Any]]:
    async def arrived() -> bool:
        return len(slack.posted(channel)) >= count

    await eventually(arrived)
    return slack.posted(channel)


async def quiet(runtime: Runtime, seconds: float = 0.4) -> None:
    """Long enough for a wrong answer, if one were coming, to reach the emulator."""
    await asyncio.sleep(seconds)


async def messages(runtime: Runtime) -> list[Message]:
    async with runtime.db.transaction() as db:
        query = select(Message).order_by(Message.occurred_at, Message.direction)
        return list((await db.execute(query)).scalars().all())


async def test_a_mention_in_a_thread_is_answered_in_that_thread(
    backend: tuple[str, str], slack: SlackEmulator
) -> None:
    async with gateway(backend, slack) as runtime:
        event = inner("message_thread_reply", text="<@U0BOTGATE> /help", parent_user_id="U0X")
        answer = await slack.deliver_event(hook(runtime), event)
        assert answer.status == 200
        (reply,) = await replied(slack, SUPPORT)
        assert reply["thread_ts"] == "1700000010.000200"
        assert "/help" in reply["text"]
        await eventually(lambda: _count(runtime, "messages", 2))
        rows = await messages(runtime)
        async with runtime.db.transaction() as db:
            user = (
                await db.execute(
                    select(PlatformUser).where(PlatformUser.external_id == "U061F7AUR")
                )
            ).scalar_one()
            channel = (await db.execute(select(PlatformChannel))).scalar_one()
    assert [(m.direction, m.external_id) for m in rows] == [
        ("in", event["ts"]),
        ("out", reply["ts"]),
    ]  # the ts of the sent message is recorded
    assert rows[0].thread_id == "1700000010.000200"
    assert (user.platform, user.is_bot) == ("slack", False)
    assert (channel.external_id, channel.type) == (SUPPORT, "channel")


async def test_a_direct_message_is_answered_in_the_dm(
    backend: tuple[str, str], slack: SlackEmulator
) -> None:
    async with gateway(backend, slack) as runtime:
        await slack.deliver_event(
            hook(runtime), inner("message", channel=DM, channel_type="im", text="hello")
        )
        (reply,) = await replied(slack, DM)
        assert "thread_ts" not in reply
        assert reply["text"]


async def test_a_channel_message_not_addressed_to_the_bot_is_recorded_only(
    backend: tuple[str, str], slack: SlackEmulator
) -> None:
    async with gateway(backend, slack) as runtime:
        await slack.deliver_event(hook(runtime), inner("message", text="just chatting"))
        await eventually(lambda: _count(runtime, "messages", 1))
        await quiet(runtime)
        assert slack.calls("chat.postMessage") == []


async def test_retries_are_recorded_once_and_answered_once(
    backend: tuple[str, str], slack: SlackEmulator
) -> None:
    async with gateway(backend, slack) as runtime:
        event = inner("message", channel=DM, channel_type="im", text="hello")
        last = await slack.deliver_event(hook(runtime), event, retries=2)
        assert last.status == 200
        await replied(slack, DM)
        await quiet(runtime)
        assert len(slack.posted(DM)) == 1
        assert [m.direction for m in await messages(runtime)] == ["in", "out"]


@pytest.mark.parametrize(("age", "secret"), [(0, "forged-secret"), (400, SIGNING_SECRET)])
async def test_bad_signature_or_stale_timestamp_is_401_and_records_nothing(
    backend: tuple[str, str], slack: SlackEmulator, age: int, secret: str
) -> None:
    async with gateway(backend, slack) as runtime:
        body = await _callback_body(slack, inner("message", channel=DM, channel_type="im"))
        answer = await slack.post_signed(
            hook(runtime),
            body,
            "application/json",
            timestamp=int(time.time()) - age,
            signing_secret=secret,
        )
        assert answer.status == 401
        await quiet(runtime)
        assert await count_rows(runtime, "processed_events") == 0
        assert await count_rows(runtime, "messages") == 0
        assert slack.calls("chat.postMessage") == []


async def test_bot_messages_are_recorded_and_never_answered(
    backend: tuple[str, str], slack: SlackEmulator
) -> None:
    async with gateway(backend, slack) as runtime:
        other = inner("message_bot", channel=DM, channel_type="im", text="<@U0BOTGATE> /help")
        own = inner(
            "message",
            channel=DM,
            channel_type="im",
            user="U0BOTGATE",
            bot_id="B0BOTGATE",
            text="/help",
            ts="1700000001.000100",
        )
        await slack.deliver_event(hook(runtime), other)
        await slack.deliver_event(hook(runtime), own)
        await eventually(lambda: _count(runtime, "messages", 2))
        await quiet(runtime)
        assert slack.calls("chat.postMessage") == []


async def test_a_slash_command_is_acknowledged_at_once_and_answered_later(
    backend: tuple[str, str], slack: SlackEmulator
) -> None:
    async with gateway(backend, slack) as runtime:
        form = slack.command_form("/help", "", user_id="U061F7AUR", channel_id=SUPPORT)
        answer = await slack.send_command(hook(runtime), form)
        assert (answer.status, answer.body) == (200, "")
        (reply,) = await replied(slack, SUPPORT)
        assert "/help" in reply["text"]


async def test_a_button_click_is_recorded(backend: tuple[str, str], slack: SlackEmulator) -> None:
    async with gateway(backend, slack) as runtime:
        payload = load("block_actions")
        answer = await slack.send_interaction(hook(runtime), payload)
        assert answer.status == 200
        await eventually(lambda: _count(runtime, "clicks", 1))
        async with runtime.db.transaction() as db:
            click = (await db.execute(select(Click))).scalar_one()
        assert (click.interaction_id, click.value) == ("more", "more")
        assert click.message_external_id == "1700000010.000200"
        await replied(slack, SUPPORT)  # a click is addressed to the bot: it answers


async def test_edits_and_deletes_update_the_row(
    backend: tuple[str, str], slack: SlackEmulator
) -> None:
    async with gateway(backend, slack) as runtime:
        await slack.deliver_event(hook(runtime), inner("message"))
        await eventually(lambda: _count(runtime, "messages", 1))
        await slack.deliver_event(hook(runtime), inner("message_changed"))

        async def edited() -> bool:
            (row,) = await messages(runtime)
            return row.edited_at is not None

        await eventually(edited)
        await slack.deliver_event(hook(runtime), inner("message_deleted"))

        async def deleted() -> bool:
            (row,) = await messages(runtime)
            return row.deleted_at is not None

        await eventually(deleted)
        (row,) = await messages(runtime)
        assert row.text == "hello there, edited"


async def test_url_verification_through_the_gateway(
    backend: tuple[str, str], slack: SlackEmulator
) -> None:
    async with gateway(backend, slack) as runtime:
        challenge = load("url_verification")
        answer = await slack.post_signed(
            hook(runtime), json.dumps(challenge).encode(), "application/json"
        )
        assert answer.json() == {"challenge": challenge["challenge"]}
        assert await count_rows(runtime, "processed_events") == 0


async def test_429_is_honoured(backend: tuple[str, str], slack: SlackEmulator) -> None:
    slack.rate_limit("chat.postMessage", retry_after=1, times=2)
    async with gateway(backend, slack) as runtime:
        started = time.monotonic()
        await slack.deliver_event(
            hook(runtime), inner("message", channel=DM, channel_type="im", text="hello")
        )
        await replied(slack, DM)
        # once inside the SDK, once by the action runner: each waited Retry-After
        assert time.monotonic() - started >= 2.0
        assert len(slack.calls("chat.postMessage")) == 3


async def test_a_permanent_refusal_is_a_failed_delivery_not_retried(
    backend: tuple[str, str], slack: SlackEmulator
) -> None:
    slack.add_channel(SUPPORT, "support", is_archived=True)
    async with gateway(backend, slack) as runtime:
        form = slack.command_form("/help", "", user_id="U061F7AUR", channel_id=SUPPORT)
        await slack.send_command(hook(runtime), form)
        await eventually(lambda: _count(runtime, "audit_log", 1))
        async with runtime.db.transaction() as db:
            audit = (await db.execute(select(AuditLog))).scalar_one()
        assert "is_archived" in audit.details["reason"]
        await quiet(runtime)
        assert len(slack.calls("chat.postMessage")) == 1


async def test_socket_mode_end_to_end(backend: tuple[str, str], slack: SlackEmulator) -> None:
    async with gateway(backend, slack, app_token=slack.app_token) as runtime:
        ack = await slack.socket_event(inner("message", channel=DM, channel_type="im"))
        assert ack is not None
        (reply,) = await replied(slack, DM)
        await eventually(lambda: _count(runtime, "messages", 2))
        async with runtime.db.transaction() as db:
            user = (
                await db.execute(
                    select(PlatformUser).where(PlatformUser.external_id == "U061F7AUR")
                )
            ).scalar_one()
        assert user.name == "alice"  # resolved through users.info before publishing
        assert reply["ts"] in {m.external_id for m in await messages(runtime)}


async def test_a_mention_delivered_as_message_and_app_mention_is_answered_once(
    backend: tuple[str, str], slack: SlackEmulator
) -> None:
    async with gateway(backend, slack) as runtime:
        text = "<@U0BOTGATE> /help"
        await slack.deliver_event(hook(runtime), inner("message", text=text))
        await slack.deliver_event(
            hook(runtime), inner("app_mention", text=text, ts="1700000000.000100")
        )
        await replied(slack, SUPPORT)
        await quiet(runtime, 0.6)
        assert len(slack.posted(SUPPORT)) == 1


async def _count(runtime: Runtime, table: str, at_least: int) -> bool:
    return await count_rows(runtime, table) >= at_least


async def _callback_body(slack: SlackEmulator, event: dict[str, Any]) -> bytes:
    return json.dumps(slack.event_callback(event)).encode()
