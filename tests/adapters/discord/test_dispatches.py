"""Gateway dispatches (recorded payloads) -> events, without a connection."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.discord.dispatches import ChannelInfo, Dispatch, DispatchNormalizer
from gateway.events import Event
from tests.adapters.discord.payloads import (
    BOT_ID,
    CHANNEL_ID,
    GUILD_ID,
    bot_user,
    in_dm,
    load,
    mentioning,
    message,
    replying_to,
    with_attachment,
)

Json = dict[str, Any]
THREAD_ID = "1100000000000000300"


class Cache:
    """A directory with one guild, its text channel and a thread."""

    def channel_info(self, guild_id: str, channel_id: str) -> ChannelInfo | None:
        return {CHANNEL_ID: ChannelInfo(0, "support"), THREAD_ID: ChannelInfo(11, "refunds")}.get(
            channel_id
        )

    def guild_name(self, guild_id: str) -> str | None:
        return "Support" if guild_id == GUILD_ID else None


@pytest.fixture
def normalizer() -> DispatchNormalizer:
    return DispatchNormalizer("helpdesk", BOT_ID, "botgate", Cache())


def one(normalizer: DispatchNormalizer, name: str, data: Json, seq: int = 7) -> Event:
    [event] = normalizer.events(Dispatch(name, seq, data, "sess-1"))
    return event


def test_a_guild_message(normalizer: DispatchNormalizer) -> None:
    event = one(normalizer, "MESSAGE_CREATE", message("hello there"))
    assert event.type == "message.created"
    assert event.dedupe_key == "discord:helpdesk:message:1309512345678901249"
    assert event.channel.model_dump() == {"id": CHANNEL_ID, "type": "channel", "name": "support"}
    assert event.conversation_key == f"discord:helpdesk:{CHANNEL_ID}"
    assert event.user is not None
    assert event.user.model_dump() == {
        "id": "1100000000000000042",
        "name": "alice",
        "display_name": "Alice L.",
        "is_bot": False,
        "locale": None,
    }
    assert event.message is not None
    assert (event.message.text, event.message.mentions_bot, event.message.command) == (
        "hello there",
        False,
        None,
    )
    assert event.raw == message("hello there")
    assert event.occurred_at.year == 2024  # from the snowflake


def test_a_thread_message_is_in_a_thread(normalizer: DispatchNormalizer) -> None:
    event = one(normalizer, "MESSAGE_CREATE", message(channel_id=THREAD_ID))
    assert (event.channel.id, event.channel.type, event.channel.name) == (
        THREAD_ID,
        "thread",
        "refunds",
    )


def test_a_dm_is_direct(normalizer: DispatchNormalizer) -> None:
    event = one(normalizer, "MESSAGE_CREATE", in_dm(message("/help")))
    assert event.channel.type == "direct"
    assert event.user is not None
    assert event.user.display_name == "Alice Liddell"
    assert event.message is not None
    assert event.message.command is not None
    assert event.message.command.name == "help"


def test_an_uncached_guild_channel_is_a_channel(normalizer: DispatchNormalizer) -> None:
    event = one(normalizer, "MESSAGE_CREATE", message(channel_id="999"))
    assert (event.channel.type, event.channel.name) == ("channel", None)


def test_a_leading_mention_is_stripped_before_the_command(normalizer: DispatchNormalizer) -> None:
    payload = mentioning(message(f"<@{BOT_ID}> /kb refund policy"), bot_user())
    event = one(normalizer, "MESSAGE_CREATE", payload)
    assert event.message is not None
    assert event.message.mentions_bot is True
    assert event.message.mentions == [BOT_ID]
    assert event.message.command is not None
    assert (event.message.command.name, event.message.command.args) == ("kb", "refund policy")
    assert event.message.text == f"<@{BOT_ID}> /kb refund policy"


def test_a_nickname_mention_counts_too(normalizer: DispatchNormalizer) -> None:
    event = one(normalizer, "MESSAGE_CREATE", message(f"<@!{BOT_ID}> help me"))
    assert event.message is not None
    assert event.message.mentions_bot is True


def test_a_mention_elsewhere_in_the_text(normalizer: DispatchNormalizer) -> None:
    payload = mentioning(message(f"thanks <@{BOT_ID}>!"), bot_user())
    event = one(normalizer, "MESSAGE_CREATE", payload)
    assert event.message is not None
    assert event.message.mentions_bot is True
    assert event.message.command is None


def test_a_command_for_another_bot_is_not_ours(normalizer: DispatchNormalizer) -> None:
    event = one(normalizer, "MESSAGE_CREATE", message("/help@otherbot"))
    assert event.message is not None
    assert event.message.command is None


def test_a_reply_to_the_bot(normalizer: DispatchNormalizer) -> None:
    original = message("an answer", id="1309512345678900000", author=bot_user())
    event = one(normalizer, "MESSAGE_CREATE", replying_to(message("why?"), original))
    assert event.message is not None
    assert (event.message.reply_to_id, event.message.reply_to_bot) == ("1309512345678900000", True)


def test_a_reply_to_someone_else(normalizer: DispatchNormalizer) -> None:
    original = message("a question", id="1309512345678900000")
    event = one(normalizer, "MESSAGE_CREATE", replying_to(message("same"), original))
    assert event.message is not None
    assert (event.message.reply_to_id, event.message.reply_to_bot) == ("1309512345678900000", False)


def test_a_forward_is_not_a_reply(normalizer: DispatchNormalizer) -> None:
    payload = message(message_reference={"type": 1, "message_id": "5", "channel_id": CHANNEL_ID})
    event = one(normalizer, "MESSAGE_CREATE", payload)
    assert event.message is not None
    assert event.message.reply_to_id is None


@pytest.mark.parametrize(
    ("filename", "mime", "kind"),
    [
        ("cat.png", "image/png", "photo"),
        ("clip.mp4", "video/mp4", "video"),
        ("notes.pdf", "application/pdf", "document"),
    ],
)
def test_attachments(normalizer: DispatchNormalizer, filename: str, mime: str, kind: str) -> None:
    event = one(normalizer, "MESSAGE_CREATE", with_attachment(message(""), filename, mime))
    assert event.message is not None
    [attachment] = event.message.attachments
    assert (attachment.kind, attachment.name, attachment.mime_type, attachment.size) == (
        kind,
        filename,
        mime,
        2048,
    )
    assert attachment.url is not None
    assert attachment.url.startswith("https://cdn.discordapp.com/")


def test_a_voice_message_and_a_sticker(normalizer: DispatchNormalizer) -> None:
    payload = with_attachment(message(""), "voice-message.ogg", "audio/ogg")
    payload["attachments"][0]["duration_secs"] = 3.2
    payload["sticker_items"] = [{"id": "749054660769218631", "name": "Wave", "format_type": 1}]
    event = one(normalizer, "MESSAGE_CREATE", payload)
    assert event.message is not None
    assert [a.kind for a in event.message.attachments] == ["voice", "sticker"]


def test_the_bots_own_messages_are_not_inbound(normalizer: DispatchNormalizer) -> None:
    assert normalizer.events(Dispatch("MESSAGE_CREATE", 1, message(author=bot_user()), "s")) == []


def test_messages_from_other_bots_are_flagged(normalizer: DispatchNormalizer) -> None:
    event = one(
        normalizer, "MESSAGE_CREATE", message(author=bot_user("1100000000000000777", "otherbot"))
    )
    assert event.user is not None
    assert event.user.is_bot is True


def test_an_edit(normalizer: DispatchNormalizer) -> None:
    event = one(normalizer, "MESSAGE_UPDATE", load("message_update"))
    assert event.type == "message.updated"
    assert event.dedupe_key == (
        "discord:helpdesk:message:1309512345678901249:edit:2026-11-22T13:46:10.500000+00:00"
    )
    assert event.message is not None
    assert event.message.text == "hello there, edited"
    assert event.occurred_at.isoformat() == "2026-11-22T13:46:10.500000+00:00"


def test_two_edits_of_one_message_are_two_events(normalizer: DispatchNormalizer) -> None:
    first = one(normalizer, "MESSAGE_UPDATE", load("message_update"))
    second = one(
        normalizer,
        "MESSAGE_UPDATE",
        load("message_update", edited_timestamp="2026-11-22T13:50:00+00:00"),
    )
    assert first.dedupe_key != second.dedupe_key


def test_an_update_that_is_not_an_edit_is_ignored(normalizer: DispatchNormalizer) -> None:
    unfurl = {
        "id": "1309512345678901249",
        "channel_id": CHANNEL_ID,
        "guild_id": GUILD_ID,
        "embeds": [{}],
    }
    assert normalizer.events(Dispatch("MESSAGE_UPDATE", 3, unfurl, "s")) == []


def test_a_delete(normalizer: DispatchNormalizer) -> None:
    event = one(normalizer, "MESSAGE_DELETE", load("message_delete"))
    assert event.type == "message.deleted"
    assert event.message is not None
    assert event.message.id == "1309512345678901249"
    assert event.dedupe_key == "discord:helpdesk:message:1309512345678901249:deleted"
    assert event.channel.type == "channel"


def test_a_bulk_delete_is_one_event_per_message(normalizer: DispatchNormalizer) -> None:
    data = {"ids": ["1", "2"], "channel_id": CHANNEL_ID, "guild_id": GUILD_ID}
    events = normalizer.events(Dispatch("MESSAGE_DELETE_BULK", 4, data, "s"))
    assert [e.message.id for e in events if e.message] == ["1", "2"]


def test_a_reaction_added_and_removed(normalizer: DispatchNormalizer) -> None:
    added = one(normalizer, "MESSAGE_REACTION_ADD", load("message_reaction_add"), seq=10)
    removed = one(normalizer, "MESSAGE_REACTION_REMOVE", load("message_reaction_remove"), seq=11)
    assert (added.type, removed.type) == ("reaction.added", "reaction.removed")
    assert added.reaction is not None
    assert added.reaction.model_dump() == {"emoji": "👍", "message_id": "1309512345678901249"}
    assert added.user is not None
    assert added.user.name == "alice"
    assert removed.user is not None
    assert removed.user.id == "1100000000000000042"
    assert added.dedupe_key == "discord:helpdesk:gateway:sess-1:10"


def test_reacting_again_is_a_new_event_but_a_replay_is_not(normalizer: DispatchNormalizer) -> None:
    first = one(normalizer, "MESSAGE_REACTION_ADD", load("message_reaction_add"), seq=10)
    again = one(normalizer, "MESSAGE_REACTION_ADD", load("message_reaction_add"), seq=12)
    replayed = one(normalizer, "MESSAGE_REACTION_ADD", load("message_reaction_add"), seq=10)
    assert first.dedupe_key != again.dedupe_key
    assert first.dedupe_key == replayed.dedupe_key


def test_a_custom_emoji(normalizer: DispatchNormalizer) -> None:
    data = load(
        "message_reaction_add", emoji={"id": "41771983429993937", "name": "LUL", "animated": False}
    )
    event = one(normalizer, "MESSAGE_REACTION_ADD", data)
    assert event.reaction is not None
    assert event.reaction.emoji == "LUL:41771983429993937"


def test_the_bots_own_reactions_are_ignored(normalizer: DispatchNormalizer) -> None:
    data = load("message_reaction_add", user_id=BOT_ID, member=None)
    assert normalizer.events(Dispatch("MESSAGE_REACTION_ADD", 1, data, "s")) == []


def test_a_member_joins_and_leaves(normalizer: DispatchNormalizer) -> None:
    joined = one(normalizer, "GUILD_MEMBER_ADD", load("guild_member_add"))
    left = one(normalizer, "GUILD_MEMBER_REMOVE", load("guild_member_remove"), seq=20)
    assert (joined.type, left.type) == ("member.joined", "member.left")
    assert joined.channel.model_dump() == {"id": GUILD_ID, "type": "group", "name": "Support"}
    assert joined.user is not None
    assert joined.user.name == "bob"
    assert joined.dedupe_key == (
        f"discord:helpdesk:member:{GUILD_ID}:1100000000000000043:joined:2026-11-22T14:00:00.000000+00:00"
    )
    assert left.dedupe_key == "discord:helpdesk:gateway:sess-1:20"


def test_the_bot_added_to_a_guild(normalizer: DispatchNormalizer) -> None:
    guild = {
        "id": "555",
        "name": "New Guild",
        "joined_at": "2026-11-22T15:00:00+00:00",
        "members": [{"user": bot_user()}],
        "channels": [{"id": "1", "type": 0}],
    }
    event = one(normalizer, "GUILD_CREATE", guild)
    assert event.type == "bot.added"
    assert event.channel.model_dump() == {"id": "555", "type": "group", "name": "New Guild"}
    assert event.dedupe_key == "discord:helpdesk:guild:555:added:2026-11-22T15:00:00+00:00"
    assert "members" not in event.raw
    assert event.raw["name"] == "New Guild"


def test_a_guild_becoming_available_is_not_an_addition(normalizer: DispatchNormalizer) -> None:
    guild = {"id": GUILD_ID, "name": "Support", "unavailable": False}
    assert normalizer.events(Dispatch("GUILD_CREATE", 2, guild, "s")) == []


def test_the_bot_removed_from_a_guild_but_not_an_outage(normalizer: DispatchNormalizer) -> None:
    event = one(normalizer, "GUILD_DELETE", load("guild_delete"), seq=30)
    assert (event.type, event.channel.id) == ("bot.removed", GUILD_ID)
    assert (
        normalizer.events(Dispatch("GUILD_DELETE", 31, {"id": GUILD_ID, "unavailable": True}, "s"))
        == []
    )


def test_other_dispatches_give_nothing(normalizer: DispatchNormalizer) -> None:
    assert normalizer.events(Dispatch("TYPING_START", 1, {"channel_id": CHANNEL_ID}, "s")) == []
