"""Every Slack payload kind becomes the right event (or none), exactly per the schema."""

from __future__ import annotations

import json
from typing import Any

import pytest

from adapters.slack import SlackAdapter
from gateway.errors import PayloadError
from gateway.events import Event, decode_event, encode
from tests.adapters.slack.support import (
    BOT_USER_ID,
    callback,
    form_request,
    json_request,
    load,
    signed,
)


def only(adapter: SlackAdapter, payload: dict[str, Any], **headers: str) -> Event:
    parsed = adapter.parse(json_request(payload, **headers))
    assert len(parsed.events) == 1
    event = parsed.events[0]
    assert decode_event(encode(event)) == event  # valid on the wire
    return event


def test_url_verification_answers_the_challenge(offline: SlackAdapter) -> None:
    payload = load("url_verification")
    parsed = offline.parse(json_request(payload))
    assert parsed.events == ()
    assert parsed.reply is not None
    assert parsed.reply.status == 200
    assert json.loads(parsed.reply.body) == {"challenge": payload["challenge"]}


def test_channel_message(offline: SlackAdapter) -> None:
    envelope = callback("message")
    event = only(offline, envelope)
    assert event.type == "message.created"
    assert event.dedupe_key == "slack:helpdesk:event:Ev0MESSAGE1"
    assert event.conversation_key == "slack:helpdesk:C024BE91L"
    assert event.channel.id == "C024BE91L"
    assert event.channel.type == "channel"
    assert event.user is not None
    assert event.user.id == "U061F7AUR"
    assert not event.user.is_bot
    assert event.message is not None
    assert (event.message.id, event.message.text) == ("1700000000.000100", "hello there")
    assert not event.message.mentions_bot
    assert event.message.command is None
    assert event.thread_id is None
    assert event.occurred_at.timestamp() == 1700000000.0001
    assert event.raw == envelope


@pytest.mark.parametrize(
    ("channel_type", "channel", "expected"),
    [
        ("channel", "C1", "channel"),
        ("group", "G1", "channel"),
        ("im", "D1", "direct"),
        ("mpim", "G2", "group"),
    ],
)
def test_channel_types(
    offline: SlackAdapter, channel_type: str, channel: str, expected: str
) -> None:
    event = only(offline, callback("message", channel=channel, channel_type=channel_type))
    assert event.channel.type == expected


def test_thread_reply_to_the_bot(offline: SlackAdapter) -> None:
    event = only(offline, callback("message_thread_reply"))
    assert event.thread_id == "1700000010.000200"
    assert event.conversation_key == "slack:helpdesk:C024BE91L:1700000010.000200"
    assert event.message is not None
    assert event.message.reply_to_id == "1700000010.000200"
    assert event.message.reply_to_bot


def test_thread_reply_to_someone_else(offline: SlackAdapter) -> None:
    event = only(offline, callback("message_thread_reply", parent_user_id="U0SOMEONE"))
    assert event.message is not None
    assert not event.message.reply_to_bot


def test_a_thread_parent_is_not_in_a_thread(offline: SlackAdapter) -> None:
    event = only(offline, callback("message", thread_ts="1700000000.000100"))
    assert event.thread_id is None


def test_message_changed(offline: SlackAdapter) -> None:
    event = only(offline, callback("message_changed"))
    assert event.type == "message.updated"
    assert event.message is not None
    assert (event.message.id, event.message.text) == ("1700000000.000100", "hello there, edited")
    assert event.dedupe_key == "slack:helpdesk:event:Ev0CHANGED1"


def test_message_deleted(offline: SlackAdapter) -> None:
    event = only(offline, callback("message_deleted"))
    assert event.type == "message.deleted"
    assert event.message is not None
    assert event.message.id == "1700000000.000100"
    assert event.user is not None
    assert event.user.id == "U061F7AUR"


def test_files_are_attachments(offline: SlackAdapter) -> None:
    event = only(offline, callback("message_file_share"))
    assert event.channel.type == "direct"
    assert event.message is not None
    first, second = event.message.attachments
    assert (first.kind, first.id, first.name, first.mime_type, first.size) == (
        "file",
        "F0S43PZDF",
        "report.pdf",
        "application/pdf",
        43518,
    )
    assert first.url is not None
    assert first.url.startswith("https://files.slack.com/")
    assert second.kind == "photo"


def test_app_mention_strips_the_mention_before_the_command(offline: SlackAdapter) -> None:
    event = only(offline, callback("app_mention"))
    assert event.type == "message.created"
    assert event.message is not None
    assert event.message.mentions_bot
    assert event.message.mentions == [BOT_USER_ID]
    assert event.message.command is not None
    assert (event.message.command.name, event.message.command.args) == ("kb", "refund policy")
    assert event.message.text == "<@U0BOTGATE> /kb refund policy"


def test_a_message_mentioning_the_bot(offline: SlackAdapter) -> None:
    event = only(offline, callback("message", text="<@U0BOTGATE> /help and <@W0OTHER>"))
    assert event.message is not None
    assert event.message.mentions_bot
    assert event.message.mentions == [BOT_USER_ID, "W0OTHER"]
    assert event.message.command is not None
    assert event.message.command.name == "help"


def test_a_message_mentioning_someone_else(offline: SlackAdapter) -> None:
    event = only(offline, callback("message", text="<@W0OTHER> /help"))
    assert event.message is not None
    assert not event.message.mentions_bot
    assert event.message.command is None


def test_without_auth_test_the_bot_id_comes_from_authorizations(offline: SlackAdapter) -> None:
    offline.bot_user_id = None
    event = only(offline, callback("message", text="<@U0BOTGATE> hi"))
    assert event.message is not None
    assert event.message.mentions_bot


def test_other_bots_messages_are_from_a_bot(offline: SlackAdapter) -> None:
    event = only(offline, callback("message_bot"))
    assert event.user is not None
    assert event.user.is_bot
    assert (event.user.id, event.user.name) == ("B0OTHER01", "otherbot")


def test_the_bots_own_messages_are_from_a_bot(offline: SlackAdapter) -> None:
    own = callback("message", user=BOT_USER_ID, bot_id="B0BOTGATE", text="an answer")
    event = only(offline, own)
    assert event.user is not None
    assert event.user.is_bot


@pytest.mark.parametrize(
    ("name", "kind"),
    [("reaction_added", "reaction.added"), ("reaction_removed", "reaction.removed")],
)
def test_reactions(offline: SlackAdapter, name: str, kind: str) -> None:
    event = only(offline, callback(name))
    assert event.type == kind
    assert event.reaction is not None
    assert (event.reaction.emoji, event.reaction.message_id) == ("thumbsup", "1700000010.000200")
    assert event.channel.id == "C024BE91L"


def test_reactions_on_files_are_ignored(offline: SlackAdapter) -> None:
    payload = callback("reaction_added", item={"type": "file", "file": "F0S43PZDF"})
    assert offline.parse(json_request(payload)).events == ()


@pytest.mark.parametrize(
    ("name", "user", "kind"),
    [
        ("member_joined_channel", "W06GH7XHN", "member.joined"),
        ("member_left_channel", "W06GH7XHN", "member.left"),
        ("member_joined_channel", BOT_USER_ID, "bot.added"),
        ("member_left_channel", BOT_USER_ID, "bot.removed"),
    ],
)
def test_members(offline: SlackAdapter, name: str, user: str, kind: str) -> None:
    event = only(offline, callback(name, user=user))
    assert event.type == kind
    assert event.user is not None
    assert event.user.id == user


def test_retries_are_recorded_on_the_delivery_not_the_key(offline: SlackAdapter) -> None:
    first = only(offline, callback("message"))
    retry = only(
        offline,
        callback("message"),
        **{"X-Slack-Retry-Num": "2", "X-Slack-Retry-Reason": "http_timeout"},
    )
    assert retry.dedupe_key == first.dedupe_key
    assert (retry.delivery.attempt, retry.delivery.retry_reason) == (3, "http_timeout")
    assert first.delivery.attempt == 1


@pytest.mark.parametrize(
    "event",
    [
        {"type": "message", "subtype": "channel_join", "channel": "C1", "ts": "1.2", "user": "U1"},
        {"type": "team_join", "user": {"id": "U1"}},
    ],
)
def test_unmapped_events_are_acknowledged(offline: SlackAdapter, event: dict[str, Any]) -> None:
    envelope = {**load("message"), "event": event}
    parsed = offline.parse(json_request(envelope))
    assert parsed.events == ()
    assert parsed.reply is None


def test_slash_command(offline: SlackAdapter) -> None:
    form = load("slash_command")
    parsed = offline.parse(form_request(form))
    assert parsed.reply is not None
    assert (parsed.reply.status, parsed.reply.body) == (200, b"")
    (event,) = parsed.events
    assert event.type == "command.invoked"
    assert event.dedupe_key == f"slack:helpdesk:command:{form['trigger_id']}"
    assert event.channel.model_dump() == {"id": "C024BE91L", "type": "channel", "name": "support"}
    assert event.user is not None
    assert (event.user.id, event.user.name) == ("U061F7AUR", "alice")
    assert event.message is not None
    assert event.message.command is not None
    assert (event.message.command.name, event.message.command.args) == ("kb", "refund policy")
    assert event.raw == form


def test_slash_command_in_a_direct_message(offline: SlackAdapter) -> None:
    form = {**load("slash_command"), "channel_id": "D0PNCRP9N", "channel_name": "directmessage"}
    (event,) = offline.parse(form_request(form)).events
    assert (event.channel.type, event.channel.name) == ("direct", None)


def test_block_action(offline: SlackAdapter) -> None:
    payload = load("block_actions")
    parsed = offline.parse(form_request({"payload": json.dumps(payload)}))
    assert parsed.reply is not None
    assert parsed.reply.body == b""
    (event,) = parsed.events
    assert event.type == "interaction.clicked"
    assert event.interaction is not None
    assert event.interaction.model_dump() == {
        "id": "more",
        "value": "more",
        "message_id": "1700000010.000200",
    }
    assert event.dedupe_key == f"slack:helpdesk:interaction:{payload['trigger_id']}:more"
    assert event.user is not None
    assert event.user.name == "alice"
    assert event.channel.id == "C024BE91L"


def test_block_action_in_a_thread(offline: SlackAdapter) -> None:
    payload = load("block_actions")
    payload["message"]["thread_ts"] = "1700000000.000100"
    (event,) = offline.parse(form_request({"payload": json.dumps(payload)})).events
    assert event.thread_id == "1700000000.000100"
    assert event.conversation_key.endswith(":1700000000.000100")


def test_other_interactions_are_acknowledged_empty(offline: SlackAdapter) -> None:
    payload = {"type": "view_submission", "user": {"id": "U1"}, "view": {"id": "V1"}}
    parsed = offline.parse(form_request({"payload": json.dumps(payload)}))
    assert parsed.events == ()
    assert parsed.reply is not None
    assert parsed.reply.body == b""


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"not json", "application/json"),
        (b"[1, 2]", "application/json"),
        (
            json.dumps({"type": "event_callback", "event": {"type": "message"}}).encode(),
            "application/json",
        ),
        (b"user_id=U1&text=hi", "application/x-www-form-urlencoded"),
        (b"payload=%7Bbroken", "application/x-www-form-urlencoded"),
        (b"command=%2Fkb&text=x", "application/x-www-form-urlencoded"),
    ],
)
def test_malformed_bodies(offline: SlackAdapter, body: bytes, content_type: str) -> None:
    with pytest.raises(PayloadError):
        offline.parse(signed(body, content_type))


def test_a_message_without_ts_is_malformed(offline: SlackAdapter) -> None:
    payload = callback("message")
    del payload["event"]["ts"]
    with pytest.raises(PayloadError, match="ts"):
        offline.parse(json_request(payload))
