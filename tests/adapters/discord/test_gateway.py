"""The gateway through real discord.py against the emulator: each event kind, resume, takeover."""

from __future__ import annotations

import asyncio

from adapters.discord import DiscordAdapter
from adapters.discord.gateway_client import gateway_intents
from botgate.testing.discord import DiscordEmulator
from gateway.config import Settings
from tests.adapters.discord.conftest import World, settings_for
from tests.adapters.discord.payloads import load
from tests.support.fake_context import FakeContext

Receiving = tuple[DiscordAdapter, FakeContext]


async def test_identify_asks_for_the_needed_intents(
    receiving: Receiving, emulator: DiscordEmulator
) -> None:
    [identify] = emulator.ops(2)
    intents = identify["d"]["intents"]
    assert intents == gateway_intents().value
    for bit in (0, 1, 9, 10, 12, 13, 15):  # guilds, members, messages, reactions, DMs, content
        assert intents & (1 << bit)
    assert emulator.requests_to("GET", "/gateway/bot")  # the URL came from Discord (the emulator)


async def test_heartbeats_are_sent_and_acknowledged(
    receiving: Receiving, emulator: DiscordEmulator
) -> None:
    async with asyncio.timeout(3):
        while True:
            if len(emulator.ops(1)) >= 2:
                break
            await asyncio.sleep(0.05)
    adapter, _ = receiving
    assert adapter.runner is not None
    assert adapter.runner.client is not None
    assert adapter.runner.client.latency < 1.0  # an ACK arrived for a heartbeat


async def test_messages_in_a_channel_a_thread_and_a_dm(
    receiving: Receiving, emulator: DiscordEmulator, world: World
) -> None:
    _, context = receiving
    await emulator.post_user_message(world.channel["id"], world.alice, "in the channel")
    await emulator.post_user_message(world.thread["id"], world.alice, "in the thread")
    await emulator.post_user_message(world.dm["id"], world.alice, "in private")
    events = await context.wait_for(lambda e: len(e) >= 3)
    assert [(e.type, e.channel.type, e.message.text if e.message else None) for e in events] == [
        ("message.created", "channel", "in the channel"),
        ("message.created", "thread", "in the thread"),
        ("message.created", "direct", "in private"),
    ]
    assert events[1].channel.name == "refunds"
    assert events[0].user is not None
    assert events[0].user.display_name == "Alice Liddell"


async def test_a_mention_and_a_reply_to_the_bot(
    receiving: Receiving, emulator: DiscordEmulator, world: World
) -> None:
    _, context = receiving
    bot_id = emulator.bot_user["id"]
    bot_message = emulator.message(world.channel["id"], emulator.bot_user, "an answer")
    await emulator.post_user_message(world.channel["id"], world.alice, f"<@{bot_id}> /kb refunds")
    await emulator.post_user_message(
        world.channel["id"],
        world.alice,
        "thanks",
        type=19,
        message_reference={"type": 0, "message_id": bot_message["id"]},
        referenced_message=bot_message,
    )
    mention, reply = await context.wait_for(lambda e: len(e) >= 2)
    assert mention.message is not None
    assert mention.message.mentions_bot is True
    assert mention.message.command is not None
    assert mention.message.command.name == "kb"
    assert reply.message is not None
    assert (reply.message.reply_to_id, reply.message.reply_to_bot) == (bot_message["id"], True)


async def test_edits_deletes_and_reactions(
    receiving: Receiving, emulator: DiscordEmulator, world: World
) -> None:
    _, context = receiving
    message = await emulator.post_user_message(world.channel["id"], world.alice, "typo")
    edited = {**message, "content": "fixed", "edited_timestamp": "2026-11-22T13:46:10+00:00"}
    await emulator.dispatch("MESSAGE_UPDATE", edited)
    reaction = {
        "user_id": world.alice["id"],
        "channel_id": world.channel["id"],
        "message_id": message["id"],
        "guild_id": world.guild["id"],
        "emoji": {"id": None, "name": "🎉"},
        "type": 0,
        "burst": False,
    }
    await emulator.dispatch("MESSAGE_REACTION_ADD", reaction)
    await emulator.dispatch("MESSAGE_REACTION_REMOVE", reaction)
    await emulator.dispatch("MESSAGE_REACTION_ADD", reaction)
    await emulator.dispatch(
        "MESSAGE_DELETE",
        {"id": message["id"], "channel_id": world.channel["id"], "guild_id": world.guild["id"]},
    )
    events = await context.wait_for(lambda e: len(e) >= 6)
    assert [e.type for e in events] == [
        "message.created",
        "message.updated",
        "reaction.added",
        "reaction.removed",
        "reaction.added",
        "message.deleted",
    ]
    assert events[1].message is not None
    assert events[1].message.text == "fixed"
    assert len({e.dedupe_key for e in events}) == 6  # re-adding a reaction is a new event


async def test_members_and_the_bot_joining_and_leaving(
    receiving: Receiving, emulator: DiscordEmulator, world: World
) -> None:
    _, context = receiving
    bob = emulator.add_user("bob")
    await emulator.dispatch(
        "GUILD_MEMBER_ADD", load("guild_member_add", user=bob, guild_id=world.guild["id"])
    )
    await emulator.dispatch("GUILD_MEMBER_REMOVE", {"user": bob, "guild_id": world.guild["id"]})
    new_guild = emulator.add_guild("Elsewhere")
    await emulator.add_bot_to_guild(new_guild)
    await emulator.remove_bot_from_guild(new_guild["id"])
    events = await context.wait_for(lambda e: len(e) >= 4)
    assert [(e.type, e.channel.id) for e in events] == [
        ("member.joined", world.guild["id"]),
        ("member.left", world.guild["id"]),
        ("bot.added", new_guild["id"]),
        ("bot.removed", new_guild["id"]),
    ]
    assert events[0].channel.name == "Support"
    assert events[0].user is not None
    assert events[0].user.name == "bob"


async def test_a_dropped_connection_resumes_without_loss_or_duplicates(
    receiving: Receiving, emulator: DiscordEmulator, world: World
) -> None:
    _, context = receiving
    await emulator.post_user_message(world.channel["id"], world.alice, "one")
    await context.wait_for(lambda e: len(e) >= 1)
    await emulator.drop_connections()
    for text in ("two", "three"):  # while the client is away: kept for its RESUME
        await emulator.post_user_message(world.channel["id"], world.alice, text)
    await emulator.wait_for_session(2)
    await emulator.post_user_message(world.channel["id"], world.alice, "four")
    events = await context.wait_for(lambda e: len(e) >= 4)
    await asyncio.sleep(0.2)
    assert [e.message.text for e in context.events if e.message] == ["one", "two", "three", "four"]
    [resume] = emulator.ops(6)
    assert resume["d"]["session_id"] in emulator.sessions
    assert len(emulator.ops(2)) == 1  # resumed, not identified again
    assert len({e.dedupe_key for e in events}) == 4


async def test_an_invalidated_session_identifies_again(
    receiving: Receiving, emulator: DiscordEmulator, world: World
) -> None:
    _, context = receiving
    await emulator.invalidate_sessions()
    await emulator.wait_for_session(2)
    assert len(emulator.ops(2)) == 2
    await emulator.post_user_message(world.channel["id"], world.alice, "after")
    [event] = await context.wait_for(lambda e: len(e) >= 1)
    assert event.message is not None
    assert event.message.text == "after"


async def test_a_bus_outage_delays_events_but_loses_none(
    settings: Settings, emulator: DiscordEmulator, world: World
) -> None:
    context = FakeContext(settings, receives=True, refuse_publishes=2)
    adapter = DiscordAdapter(settings.bots[0], settings)
    await adapter.start(context)
    try:
        await emulator.wait_for_session()
        for text in ("a", "b"):
            await emulator.post_user_message(world.channel["id"], world.alice, text)
        events = await context.wait_for(lambda e: len(e) >= 2, seconds=8)
        assert [e.message.text for e in events if e.message] == ["a", "b"]
    finally:
        await adapter.stop()


async def test_one_gateway_per_bot_and_a_standby_takes_over(
    settings: Settings, emulator: DiscordEmulator, world: World
) -> None:
    first, second = (DiscordAdapter(settings.bots[0], settings) for _ in range(2))
    first_context, second_context = FakeContext(settings), FakeContext(settings)
    await first.start(first_context)
    await second.start(second_context)
    try:
        await emulator.wait_for_session(1)
        await asyncio.sleep(0.3)
        assert len(emulator.ops(2)) == 1  # the second waits for the lock
        await first.stop()
        await emulator.wait_for_session(2)
        await emulator.post_user_message(world.channel["id"], world.alice, "still here")
        await second_context.wait_for(lambda e: len(e) >= 1)
        assert first_context.events == []
    finally:
        await first.stop()
        await second.stop()


async def test_without_receiving_there_is_no_gateway(
    adapter: DiscordAdapter, emulator: DiscordEmulator
) -> None:
    await asyncio.sleep(0.2)
    assert adapter.runner is None
    assert emulator.ops(2) == []
    assert emulator.requests_to("PUT", r"/applications/\d+/commands") == []


async def test_gateway_off_registers_commands_but_does_not_connect(
    emulator: DiscordEmulator, world: World
) -> None:
    settings = settings_for(emulator, gateway=False)
    adapter = DiscordAdapter(settings.bots[0], settings)
    await adapter.start(FakeContext(settings, receives=True))
    try:
        assert adapter.runner is None
        assert len(emulator.requests_to("PUT", r"/applications/\d+/commands")) == 1
    finally:
        await adapter.stop()
