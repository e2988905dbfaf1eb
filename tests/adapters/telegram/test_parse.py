"""Every kind of update, through `verify`-less `parse`, into the events of CONTRACT section 5."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adapters.telegram import TelegramAdapter
from botgate.testing.telegram import TelegramEmulator
from gateway.errors import PayloadError
from gateway.events import Attachment, Event
from tests.adapters.telegram.conftest import SettingsFactory
from tests.adapters.telegram.payloads import inner, payload, request, with_text
from tests.support.fake_context import FakeContext


def events_of(adapter: TelegramAdapter, name: str) -> list[Event]:
    return list(adapter.parse(request(payload(name))).events)


def one_event(adapter: TelegramAdapter, name: str) -> Event:
    events = events_of(adapter, name)
    assert len(events) == 1
    return events[0]


def test_a_private_message_is_a_direct_message_with_its_command(adapter: TelegramAdapter) -> None:
    event = one_event(adapter, "private_text")
    assert event.type == "message.created"
    assert event.dedupe_key == "telegram:helpdesk:update:815726184"
    assert event.conversation_key == "telegram:helpdesk:5193846025"
    assert (event.channel.id, event.channel.type) == ("5193846025", "direct")
    assert event.user is not None
    assert event.user.model_dump() == {
        "id": "5193846025",
        "name": "alice",
        "display_name": "Alice Liddell",
        "is_bot": False,
        "locale": "en",
    }
    assert event.message is not None
    assert (event.message.id, event.message.text) == ("4211", "/kb refund policy")
    assert event.message.command is not None
    assert (event.message.command.name, event.message.command.args) == ("kb", "refund policy")
    assert event.occurred_at == datetime.fromtimestamp(1795273500, UTC)
    assert event.raw == payload("private_text")


def test_a_command_addressed_to_this_bot_in_a_group(adapter: TelegramAdapter) -> None:
    event = one_event(adapter, "group_command")
    assert (event.channel.type, event.channel.name) == ("group", "Support")
    assert event.message is not None
    assert event.message.command is not None
    assert (event.message.command.name, event.message.command.args) == ("help", "refunds")


def test_a_command_addressed_to_another_bot_is_not_ours(adapter: TelegramAdapter) -> None:
    update = with_text(payload("group_command"), "/help@some_other_bot refunds")
    (event,) = adapter.parse(request(update)).events
    assert event.message is not None
    assert event.message.command is None


def test_a_leading_mention_is_stripped_before_the_command(adapter: TelegramAdapter) -> None:
    event = one_event(adapter, "supergroup_mention")
    assert event.channel.type == "group"
    assert event.message is not None
    assert event.message.mentions_bot is True
    assert event.message.mentions == ["botgate_test_bot", "carol_c"]
    assert event.message.command is not None
    assert (event.message.command.name, event.message.command.args) == (
        "kb",
        "shipping times, thanks @carol_c",
    )
    assert event.user is not None
    assert event.user.locale == "de"


def test_a_mention_of_someone_else_does_not_address_the_bot(adapter: TelegramAdapter) -> None:
    entities = [{"offset": 6, "length": 8, "type": "mention"}]
    update = with_text(payload("supergroup_mention"), "hello @carol_c", entities)
    (event,) = adapter.parse(request(update)).events
    assert event.message is not None
    assert (event.message.mentions_bot, event.message.mentions) == (False, ["carol_c"])


def test_a_reply_to_the_bot(adapter: TelegramAdapter) -> None:
    event = one_event(adapter, "reply_to_bot")
    assert event.message is not None
    assert (event.message.reply_to_id, event.message.reply_to_bot) == ("9002", True)


def test_a_reply_to_a_person_is_not_a_reply_to_the_bot(adapter: TelegramAdapter) -> None:
    update = payload("reply_to_bot")
    inner(update)["reply_to_message"]["from"] = {
        "id": 6200000009,
        "is_bot": False,
        "first_name": "Z",
    }
    (event,) = adapter.parse(request(update)).events
    assert event.message is not None
    assert (event.message.reply_to_id, event.message.reply_to_bot) == ("9002", False)


def test_a_forum_topic_is_the_thread(adapter: TelegramAdapter) -> None:
    event = one_event(adapter, "forum_topic")
    assert event.thread_id == "500"
    assert event.conversation_key == "telegram:helpdesk:-1009876543210:500"
    assert event.message is not None
    assert event.message.reply_to_id is None  # the topic's first message is not a reply target
    assert event.message.command is not None
    assert event.message.command.name == "help"


def test_a_channel_post(adapter: TelegramAdapter) -> None:
    event = one_event(adapter, "channel_post")
    assert (event.type, event.channel.type, event.channel.name) == (
        "message.created",
        "channel",
        "Acme news",
    )
    assert event.user is not None
    assert (event.user.id, event.user.name, event.user.display_name) == (
        "-1005550001111",
        "acme_news",
        "Acme news",
    )


def test_an_edited_message_is_message_updated(adapter: TelegramAdapter) -> None:
    event = one_event(adapter, "edited_message")
    assert event.type == "message.updated"
    assert event.message is not None
    assert (event.message.id, event.message.text) == ("4211", "/kb refund policy for Germany")
    assert event.occurred_at == datetime.fromtimestamp(1795273560, UTC)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "photo",
            Attachment(
                kind="photo", id="AgACAgIAAxkBAAIBsmVlarge", mime_type="image/jpeg", size=48213
            ),
        ),
        (
            "document",
            Attachment(
                kind="document",
                id="BQACAgIAAxkBAAIBs2Vdoc",
                name="invoice-2026-11.pdf",
                mime_type="application/pdf",
                size=183921,
            ),
        ),
        (
            "voice",
            Attachment(
                kind="voice", id="AwACAgIAAxkBAAIBtGVvoice", mime_type="audio/ogg", size=15872
            ),
        ),
        (
            "video",
            Attachment(
                kind="video",
                id="BAACAgIAAxkBAAIBtWVvideo",
                name="unboxing.mp4",
                mime_type="video/mp4",
                size=2837461,
            ),
        ),
        (
            "sticker",
            Attachment(
                kind="sticker",
                id="CAACAgIAAxkBAAIBtmVsticker",
                name="👍",
                mime_type="application/x-tgsticker",
                size=28712,
            ),
        ),
    ],
)
def test_files_are_attachments(adapter: TelegramAdapter, name: str, expected: Attachment) -> None:
    event = one_event(adapter, name)
    assert event.message is not None
    assert event.message.attachments == [expected]


def test_a_caption_is_the_text(adapter: TelegramAdapter) -> None:
    event = one_event(adapter, "photo")
    assert event.message is not None
    assert event.message.text == "the broken part"


def test_a_callback_query_is_a_click_answered_in_the_webhook_reply(
    adapter: TelegramAdapter,
) -> None:
    parsed = adapter.parse(request(payload("callback_query")))
    (event,) = parsed.events
    assert event.type == "interaction.clicked"
    assert event.interaction is not None
    assert (event.interaction.id, event.interaction.message_id) == ("more", "4220")
    assert (event.channel.id, event.channel.type) == ("5193846025", "direct")
    assert parsed.reply is not None
    assert (
        parsed.reply.body
        == b'{"method": "answerCallbackQuery", "callback_query_id": "4382bfdwdsb323b2d9"}'
    )


def test_reactions_added_and_removed(adapter: TelegramAdapter) -> None:
    events = events_of(adapter, "message_reaction")
    assert [(e.type, e.reaction.emoji if e.reaction else None) for e in events] == [
        ("reaction.added", "👍"),
        ("reaction.added", "🔥"),
        ("reaction.removed", "👎"),
    ]
    assert all(e.reaction is not None and e.reaction.message_id == "9002" for e in events)
    assert [e.dedupe_key for e in events] == [
        "telegram:helpdesk:update:815726197",
        "telegram:helpdesk:update:815726197:1",
        "telegram:helpdesk:update:815726197:2",
    ]


def test_the_bot_added_to_and_removed_from_a_chat(adapter: TelegramAdapter) -> None:
    added, removed = (
        one_event(adapter, "my_chat_member_added"),
        one_event(adapter, "my_chat_member_removed"),
    )
    assert (added.type, removed.type) == ("bot.added", "bot.removed")
    assert added.channel.id == "-1001234567890"
    assert added.user is not None
    assert added.user.name == "alice"


def test_members_joining_skip_the_bot_itself(adapter: TelegramAdapter) -> None:
    events = events_of(adapter, "new_chat_members")
    assert [(e.type, e.user.id if e.user else None) for e in events] == [
        ("member.joined", "6200000002"),
        ("member.joined", "6200000003"),
    ]
    assert len({e.dedupe_key for e in events}) == 2


def test_a_member_leaving(adapter: TelegramAdapter) -> None:
    event = one_event(adapter, "left_chat_member")
    assert event.type == "member.left"
    assert event.user is not None
    assert event.user.id == "6200000003"


def test_a_chat_member_update_joining(adapter: TelegramAdapter) -> None:
    event = one_event(adapter, "chat_member_joined")
    assert (event.type, event.user.id if event.user else None) == ("member.joined", "6200000004")


@pytest.mark.parametrize("name", ["unknown_update", "pinned_service"])
def test_updates_we_do_not_carry_are_acknowledged_without_events(
    adapter: TelegramAdapter, name: str
) -> None:
    parsed = adapter.parse(request(payload(name)))
    assert parsed.events == ()
    assert parsed.reply is None  # 200 {"ok": true}


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'{"message": {}}',
        b'{"update_id": "7"}',
        b'{"update_id": 7, "message": {"message_id": 1, "text": "no chat"}}',
    ],
)
def test_a_malformed_body_is_a_payload_error(adapter: TelegramAdapter, body: bytes) -> None:
    with pytest.raises(PayloadError):
        adapter.parse(request(body))


def test_a_redelivered_update_keeps_its_dedupe_key(adapter: TelegramAdapter) -> None:
    first, again = one_event(adapter, "group_command"), one_event(adapter, "group_command")
    assert first.dedupe_key == again.dedupe_key
    assert first.id != again.id


async def test_without_get_me_only_unaddressed_commands_are_ours(
    telegram: TelegramEmulator, make_settings: SettingsFactory
) -> None:
    telegram.fail("getMe", 502, "Bad Gateway")
    settings = make_settings()
    adapter = TelegramAdapter(settings.bots[0], settings)
    await adapter.start(FakeContext(settings, receives=False))
    try:
        addressed = adapter.parse(request(payload("group_command"))).events[0]
        bare = adapter.parse(request(with_text(payload("group_command"), "/help refunds"))).events[
            0
        ]
    finally:
        await adapter.stop()
    assert addressed.message is not None
    assert addressed.message.command is None
    assert bare.message is not None
    assert bare.message.command is not None


def test_parse_works_before_start_with_the_configured_username(
    make_settings: SettingsFactory,
) -> None:
    settings = make_settings(username="botgate_test_bot")
    adapter = TelegramAdapter(settings.bots[0], settings)
    event = adapter.parse(request(payload("reply_to_bot"))).events[0]
    assert event.message is not None
    assert event.message.reply_to_bot is True


def test_with_chat_member_updates_asked_for_service_messages_do_not_count_members_twice(
    make_settings: SettingsFactory,
) -> None:
    settings = make_settings(
        allowed_updates=["message", "chat_member"], username="botgate_test_bot"
    )
    adapter = TelegramAdapter(settings.bots[0], settings)
    assert adapter.parse(request(payload("new_chat_members"))).events == ()
    (joined,) = adapter.parse(request(payload("chat_member_joined"))).events
    assert joined.type == "member.joined"
