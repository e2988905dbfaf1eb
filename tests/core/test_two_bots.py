"""Each bot keeps its own conversations: two bots that see the same chat and the same platform
message ids record them in channel rows of their own and each answers once, through its own
token; one person writing to two bots is one platform identity and one person."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from sqlalchemy import select

from botgate.testing.discord import DiscordEmulator
from botgate.testing.slack import SlackEmulator
from botgate.testing.telegram import TelegramEmulator
from gateway.app import Runtime
from store.models import Bot, Message, PlatformChannel, PlatformUser, User
from tests.support.pipeline import count_rows, eventually, make_settings, running

SECRET = "telegram-webhook-secret"
ALICE = 5193846025
GROUP = -1001234567890
BOTS = ("first", "second")


@asynccontextmanager
async def telegram_bots(
    backend: tuple[str, str],
) -> AsyncIterator[tuple[Runtime, dict[str, TelegramEmulator]]]:
    async with AsyncExitStack() as stack:
        emulators = {
            name: await stack.enter_async_context(
                TelegramEmulator(f"{100 + i}:AAToken{name}", username=f"{name}_bot")
            )
            for i, name in enumerate(BOTS)
        }
        bots = [
            {
                "name": name,
                "tools": ["help"],
                "telegram": {
                    "token": emulator.token,
                    "webhook_secret": SECRET,
                    "api_base_url": emulator.api_base_url,
                    "username": f"{name}_bot",
                    "rate_per_chat": 1000,
                    "rate_per_group": 100000,
                },
            }
            for name, emulator in emulators.items()
        ]
        runtime = await stack.enter_async_context(running(make_settings(*backend, bots=bots)))
        yield runtime, emulators


async def _to_both(
    runtime: Runtime, emulators: dict[str, TelegramEmulator], update: dict[str, Any]
) -> None:
    """Telegram delivers the chat's update to each bot in it, each through its own webhook."""
    for name, emulator in emulators.items():
        url = f"{runtime.http.url}/webhooks/telegram/{name}"
        assert (await emulator.post_webhook(update, url=url, secret=SECRET)).status == 200


async def _channels(runtime: Runtime) -> dict[tuple[str, str], PlatformChannel]:
    async with runtime.db.transaction() as db:
        rows = (await db.execute(select(PlatformChannel, Bot.name).join(Bot))).all()
    return {(bot, channel.external_id): channel for channel, bot in rows}


async def _settled(runtime: Runtime, messages: int) -> None:
    async def recorded() -> bool:
        return await count_rows(runtime, "messages") >= messages

    await eventually(recorded)
    await asyncio.sleep(0.3)  # room for a wrong extra answer to arrive, were one coming


async def test_two_telegram_bots_answer_the_same_private_chat_and_message_id(
    backend: tuple[str, str],
) -> None:
    async with telegram_bots(backend) as (runtime, emulators):
        sender = emulators["first"].user(ALICE, "Alice", username="alice")
        chat = emulators["first"].private_chat(sender)
        update = emulators["first"].message_update(chat, sender, "/help")
        await _to_both(runtime, emulators, update)  # same chat id, message id and update id

        await _settled(runtime, 4)
        for emulator in emulators.values():
            (reply,) = emulator.sent(ALICE)  # each bot answers once, with its own token
            assert "/help" in reply.text
        channels = await _channels(runtime)
        assert set(channels) == {("first", str(ALICE)), ("second", str(ALICE))}
        async with runtime.db.transaction() as db:
            inbound = (await db.execute(select(Message).where(Message.direction == "in"))).scalars()
            assert sorted(str(m.platform_channel_id) for m in inbound) == sorted(
                str(c.id) for c in channels.values()
            )
            identities = (await db.execute(select(PlatformUser))).scalars().all()
            persons = (await db.execute(select(User))).scalars().all()
    assert [(i.external_id, i.user_id) for i in identities] == [(str(ALICE), persons[0].id)]
    assert len(persons) == 1


async def test_in_a_group_with_two_bots_each_command_is_answered_by_the_bot_it_names(
    backend: tuple[str, str],
) -> None:
    async with telegram_bots(backend) as (runtime, emulators):
        first = emulators["first"]
        sender = first.user(ALICE, "Alice", username="alice")
        group = first.group(GROUP, "Support")
        for name in BOTS:
            await _to_both(
                runtime, emulators, first.message_update(group, sender, f"/help@{name}_bot")
            )

        await _settled(runtime, 6)  # four in (two per bot), one answer from each bot
        for name, emulator in emulators.items():
            (reply,) = emulator.sent(GROUP)
            assert "/help" in reply.text, name
        assert set(await _channels(runtime)) == {("first", str(GROUP)), ("second", str(GROUP))}
        async with runtime.db.transaction() as db:
            sessions = await count_rows(runtime, "user_sessions")
            out = (
                await db.execute(
                    select(Message, Bot.name).join(Bot).where(Message.direction == "out")
                )
            ).all()
    assert sorted(bot for _, bot in out) == ["first", "second"]
    assert sessions == 2  # one per bot: their conversations never mix


async def test_two_slack_bots_in_one_workspace_are_kept_apart(backend: tuple[str, str]) -> None:
    channel = "C024BE91L"
    async with AsyncExitStack() as stack:
        emulators = {
            name: await stack.enter_async_context(
                SlackEmulator(bot_token=f"xoxb-{name}", bot_user_id=f"U0{name.upper()}")
            )
            for name in BOTS
        }
        bots = [
            {
                "name": name,
                "tools": ["help"],
                "slack": {
                    "bot_token": emulator.bot_token,
                    "signing_secret": emulator.signing_secret,
                    "api_base_url": emulator.api_url,
                    "send_interval": "0s",
                },
            }
            for name, emulator in emulators.items()
        ]
        runtime = await stack.enter_async_context(running(make_settings(*backend, bots=bots)))
        for name, emulator in emulators.items():
            event = {
                "type": "app_mention",
                "user": "U0ALICE",
                "text": f"<@{emulator.bot_user_id}> /help",
                "ts": "1700000000.000100",  # the same message id reaches both bots
                "channel": channel,
                "event_ts": "1700000000.000100",
            }
            url = f"{runtime.http.url}/webhooks/slack/{name}"
            assert (await emulator.deliver_event(url, event)).status == 200

        await _settled(runtime, 4)
        for emulator in emulators.values():
            assert len(emulator.posted(channel)) == 1
        assert set(await _channels(runtime)) == {("first", channel), ("second", channel)}
        assert await count_rows(runtime, "platform_users") == 1
        assert await count_rows(runtime, "users") == 1


async def test_two_discord_applications_in_one_guild_are_kept_apart(
    backend: tuple[str, str],
) -> None:
    async with AsyncExitStack() as stack:
        emulators = {name: await stack.enter_async_context(DiscordEmulator()) for name in BOTS}
        bots = [
            {
                "name": name,
                "tools": ["help"],
                "discord": {
                    "token": emulator.token,
                    "public_key": emulator.public_key_hex,
                    "api_base_url": emulator.api_url,
                    "gateway": False,
                    "register_commands": False,
                },
            }
            for name, emulator in emulators.items()
        ]
        runtime = await stack.enter_async_context(running(make_settings(*backend, bots=bots)))
        guild = emulators["first"].add_guild("Support")
        channel = emulators["first"].add_channel(guild["id"], "support")
        alice = emulators["first"].add_user("alice")
        for name, emulator in emulators.items():
            emulator.channels[channel["id"]] = channel  # the same guild channel for both apps
            interaction = emulator.command_interaction(channel["id"], alice, "help")
            url = f"{runtime.http.url}/webhooks/discord/{name}"
            assert (await emulator.deliver_interaction(url, interaction)).status == 200

        await _settled(runtime, 4)
        for emulator in emulators.values():  # each app answers its own interaction once
            (follow_up,) = emulator.requests_to("POST", "/webhooks/.+")
            assert "/help" in follow_up.json["content"]
        assert set(await _channels(runtime)) == {
            ("first", channel["id"]),
            ("second", channel["id"]),
        }
        assert await count_rows(runtime, "users") == 1


async def test_a_bot_removed_from_the_config_keeps_its_rows_and_returns_with_them(
    backend: tuple[str, str],
) -> None:
    from tests.support.pipeline import GenericClient, generic_bot, message

    both = make_settings(*backend, bots=[generic_bot("first"), generic_bot("second")])
    async with running(both) as runtime:
        client = GenericClient(runtime.http.url, bot="second")
        status, body = await client.post(message("/help"), wait=True)
        await client.close()
        assert status == 200
        assert body["replies"]
        await _settled(runtime, 2)
    only_first = both.model_copy(update={"bots": both.bots[:1]})
    async with running(only_first) as runtime:
        async with runtime.db.transaction() as db:
            active = dict((await db.execute(select(Bot.name, Bot.is_active))).all())
        assert active == {"first": True, "second": False}
        assert await count_rows(runtime, "messages") == 2  # nothing deleted
    async with running(both) as runtime:
        async with runtime.db.transaction() as db:
            active = dict((await db.execute(select(Bot.name, Bot.is_active))).all())
        assert active == {"first": True, "second": True}
        assert set(await _channels(runtime)) == {("second", "room-1")}  # its history is back
