"""Telegram through the whole pipeline: the emulator delivers (webhook or getUpdates), the
gateway publishes, the core records rows and answers, the reply arrives at the emulator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import select

from botgate.testing.telegram import TelegramEmulator
from gateway.app import Runtime
from store import bots as bot_records
from store.models import AuditLog, Click, Message, PlatformChannel, PlatformUser
from tests.adapters.telegram.payloads import SECRET, payload
from tests.support.pipeline import count_rows, eventually, make_settings, running

FORUM, SUPPORT, ALICE = -1009876543210, -1001234567890, 5193846025


@asynccontextmanager
async def gateway(
    backend: tuple[str, str], telegram: TelegramEmulator, **config: Any
) -> AsyncIterator[Runtime]:
    table = {
        "token": telegram.token,
        "webhook_secret": SECRET,
        "api_base_url": telegram.api_base_url,
        "poll_timeout": "1s",
        "rate_per_chat": 1000,
        "rate_per_group": 100000,
        **config,
    }
    bot = {"name": "helpdesk", "tools": ["help"], "telegram": table}
    async with running(make_settings(*backend, bots=[bot])) as runtime:
        for adapter in runtime.adapters.values():
            adapter.poll_backoff = (0.05, 0.2)  # type: ignore[attr-defined]
        yield runtime


async def post(
    runtime: Runtime, telegram: TelegramEmulator, update: dict[str, Any], **options: Any
) -> int:
    url = f"{runtime.http.url}/webhooks/telegram/helpdesk"
    result = await telegram.post_webhook(update, url=url, **{"secret": SECRET, **options})
    return result.status


async def replied(telegram: TelegramEmulator, chat: int, count: int = 1) -> list[dict[str, Any]]:
    async def arrived() -> bool:
        return len(telegram.sent(chat)) >= count

    await eventually(arrived)
    return [message.raw for message in telegram.sent(chat)]


async def rows(runtime: Runtime) -> list[Message]:
    async with runtime.db.transaction() as db:
        query = select(Message).order_by(Message.occurred_at, Message.direction)
        return list((await db.execute(query)).scalars().all())


async def has_rows(runtime: Runtime, table: str, count: int) -> bool:
    return await count_rows(runtime, table) >= count


async def test_a_command_in_a_forum_topic_is_answered_in_that_topic(
    backend: tuple[str, str], telegram: TelegramEmulator
) -> None:
    async with gateway(backend, telegram) as runtime:
        update = payload("forum_topic")
        assert await post(runtime, telegram, update) == 200
        (reply,) = await replied(telegram, FORUM)
        await eventually(lambda: has_rows(runtime, "messages", 2))
        stored = await rows(runtime)
        async with runtime.db.transaction() as db:
            user = (await db.execute(select(PlatformUser))).scalar_one()
            channel = (await db.execute(select(PlatformChannel))).scalar_one()
    (call,) = telegram.calls("sendMessage")
    assert (call.params["chat_id"], call.params["message_thread_id"]) == (str(FORUM), "500")
    assert "parse_mode" not in call.params  # Markdown is sent as entities
    assert reply["reply_to_message"]["message_id"] == 512
    assert "/help" in reply["text"]
    assert [(m.direction, m.external_id, m.thread_id) for m in stored] == [
        ("in", "512", "500"),
        ("out", str(reply["message_id"]), "500"),
    ]
    assert (user.platform, user.external_id, user.name) == ("telegram", "6200000001", "bob_b")
    assert (channel.external_id, channel.type) == (str(FORUM), "group")


async def test_a_redelivered_update_is_recorded_and_answered_once(
    backend: tuple[str, str], telegram: TelegramEmulator
) -> None:
    async with gateway(backend, telegram) as runtime:
        update = payload("private_text")
        assert await post(runtime, telegram, update) == 200
        await replied(telegram, ALICE)
        assert await post(runtime, telegram, update) == 200
        await asyncio.sleep(0.4)  # a second reply, if one were (wrongly) sent, would land now
        assert len(telegram.sent(ALICE)) == 1
        assert await count_rows(runtime, "messages") == 2


async def test_a_wrong_or_missing_secret_is_401_and_nothing_is_recorded(
    backend: tuple[str, str], telegram: TelegramEmulator
) -> None:
    async with gateway(backend, telegram) as runtime:
        assert await post(runtime, telegram, payload("private_text"), secret="wrong-secret") == 401
        assert await post(runtime, telegram, payload("private_text"), with_secret=False) == 401
        await asyncio.sleep(0.2)
        assert await count_rows(runtime, "processed_events") == 0
        assert await count_rows(runtime, "messages") == 0
    assert telegram.calls("sendMessage") == []


async def test_group_chatter_is_recorded_but_not_answered(
    backend: tuple[str, str], telegram: TelegramEmulator
) -> None:
    async with gateway(backend, telegram) as runtime:
        update = payload("group_command")
        update["message"]["text"] = "just talking"
        update["message"].pop("entities")
        assert await post(runtime, telegram, update) == 200
        await eventually(lambda: has_rows(runtime, "messages", 1))
        await asyncio.sleep(0.3)
    assert telegram.calls("sendMessage") == []


async def test_every_update_kind_is_recorded(
    backend: tuple[str, str], telegram: TelegramEmulator
) -> None:
    kinds = [
        "supergroup_mention",
        "reply_to_bot",
        "channel_post",
        "photo",
        "document",
        "voice",
        "video",
        "sticker",
        "message_reaction",
        "my_chat_member_added",
        "new_chat_members",
        "left_chat_member",
        "chat_member_joined",
        "unknown_update",
    ]
    async with gateway(backend, telegram) as runtime:
        for name in kinds:
            assert await post(runtime, telegram, payload(name)) == 200, name
        # 6 messages + 3 reactions + 1 bot.added + 2 joined + 1 left + 1 joined, plus replies
        await eventually(lambda: has_rows(runtime, "processed_events", 14))
        inbound = [m for m in await rows(runtime) if m.direction == "in"]
        async with runtime.db.transaction() as db:
            channels = {
                c.external_id: c.type for c in (await db.execute(select(PlatformChannel))).scalars()
            }
    assert {m.external_id for m in inbound} == {
        "9001",
        "9003",
        "31",
        "4212",
        "4213",
        "4214",
        "4215",
        "4216",
    }
    photo = next(m for m in inbound if m.external_id == "4212")
    assert photo.attachments[0]["id"] == "AgACAgIAAxkBAAIBsmVlarge"
    assert channels[str(SUPPORT)] == "group"
    assert channels["-1005550001111"] == "channel"


async def test_an_edit_updates_the_recorded_text(
    backend: tuple[str, str], telegram: TelegramEmulator
) -> None:
    async with gateway(backend, telegram) as runtime:
        assert await post(runtime, telegram, payload("private_text")) == 200
        await eventually(lambda: has_rows(runtime, "messages", 1))
        assert await post(runtime, telegram, payload("edited_message")) == 200

        async def edited() -> bool:
            return any(m.edited_at is not None for m in await rows(runtime))

        await eventually(edited)
        inbound = next(m for m in await rows(runtime) if m.direction == "in")
    assert inbound.text == "/kb refund policy for Germany"


async def test_a_button_click_is_recorded_and_the_callback_answered(
    backend: tuple[str, str], telegram: TelegramEmulator
) -> None:
    async with gateway(backend, telegram) as runtime:
        update = payload("callback_query")
        assert await post(runtime, telegram, update) == 200
        await eventually(lambda: has_rows(runtime, "clicks", 1))
        async with runtime.db.transaction() as db:
            click = (await db.execute(select(Click))).scalar_one()
    assert (click.interaction_id, click.message_external_id) == ("more", "4220")
    (answer,) = telegram.calls("answerCallbackQuery")
    assert (answer.via, answer.params["callback_query_id"]) == ("webhook", "4382bfdwdsb323b2d9")


async def test_polling_records_answers_and_keeps_the_offset_across_restarts(
    backend: tuple[str, str], telegram: TelegramEmulator
) -> None:
    async with gateway(backend, telegram, mode="polling") as runtime:
        await telegram.deliver(payload("private_text", update_id=500))
        await replied(telegram, ALICE)
        await eventually(lambda: _offset_is(runtime, 501))
    await telegram.deliver(payload("group_command", update_id=501))  # while the gateway is down
    async with gateway(backend, telegram, mode="polling") as runtime:
        await replied(telegram, -4012345678)
        await eventually(lambda: _offset_is(runtime, 502))
        await asyncio.sleep(0.3)
        inbound = [m.external_id for m in await rows(runtime) if m.direction == "in"]
    assert inbound == ["4211", "77"]  # each once: nothing lost, nothing repeated
    assert len(telegram.sent(ALICE)) == 1
    assert telegram.calls("deleteWebhook")


async def _offset_is(runtime: Runtime, offset: int) -> bool:
    async with runtime.db.transaction() as db:
        state = await bot_records.load_state(db, "telegram", "helpdesk")
        return state.get("offset") == offset  # beside it: the command menu's hash


async def test_429_is_honoured_and_a_blocked_user_does_not_stall_other_chats(
    backend: tuple[str, str], telegram: TelegramEmulator
) -> None:
    telegram.block(ALICE)
    telegram.rate_limit("sendMessage", retry_after=1, chat_id=-4012345678)
    async with gateway(backend, telegram) as runtime:
        assert await post(runtime, telegram, payload("private_text")) == 200
        assert await post(runtime, telegram, payload("group_command")) == 200
        (reply,) = await replied(telegram, -4012345678)
        await eventually(lambda: has_rows(runtime, "audit_log", 1))
        async with runtime.db.transaction() as db:
            audit = (await db.execute(select(AuditLog))).scalar_one()
    assert audit.action == "delivery.failed"
    assert "blocked by the user" in str(audit.details)
    group_sends = [c for c in telegram.calls("sendMessage") if c.params["chat_id"] == "-4012345678"]
    assert len(group_sends) == 2  # the 429, then the retry after retry_after
    assert reply["reply_to_message"]["message_id"] == 77
