"""Slack payloads -> events: Events API callbacks, slash commands and block actions.

Pure functions of the payload and a `Source` (which bot, its Slack user id, when and how often
it was delivered). Names come from the payload where Slack puts them there; `NameCache.apply`
fills in the rest afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from adapters.payload import LATEST_TIME
from adapters.slack import wire
from adapters.slack.wire import checked
from adapters.text import parse_command, strip_leading_mention
from gateway.errors import PayloadError
from gateway.events import (
    Attachment,
    ChannelRef,
    ChannelType,
    Command,
    Delivery,
    Event,
    EventType,
    Interaction,
    MessageBody,
    Reaction,
    UserRef,
)
from gateway.events import conversation_key as make_conversation_key

Json = dict[str, Any]
_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_CHANNEL_TYPES: dict[str, ChannelType] = {
    "channel": "channel", "group": "channel", "im": "direct", "mpim": "group", "app_home": "direct",
}
_CREATED_SUBTYPES = {None, "file_share", "thread_broadcast", "bot_message", "me_message"}


@dataclass(frozen=True)
class Source:
    """What a payload does not say about itself."""

    bot: str
    bot_user_id: str | None
    received_at: datetime
    delivery: Delivery = field(default_factory=Delivery)


# Events API


def events_from_callback(envelope: Json, source: Source) -> list[Event]:
    """The events of one `event_callback`; an empty list for kinds botgate does not map."""
    envelope = checked(wire.Callback, envelope, "slack event_callback")
    kind = envelope["event"].get("type")
    handler = _HANDLERS.get(kind) if isinstance(kind, str) else None
    if handler is None:
        return []
    event = checked(wire.Message, envelope["event"], f"slack {kind} event")
    bot_user_id = source.bot_user_id or _authorized_bot(envelope)
    source = replace(source, bot_user_id=bot_user_id)
    return handler(_Callback(envelope, event, envelope["event_id"], source))


@dataclass(frozen=True)
class _Callback:
    envelope: Json
    event: Json
    event_id: str
    source: Source

    def make(
        self, kind: EventType, channel: ChannelRef, thread_id: str | None = None, **fields: Any
    ) -> Event:
        bot = self.source.bot
        return Event(
            type=kind, platform="slack", bot=bot,
            dedupe_key=f"slack:{bot}:event:{self.event_id}",
            occurred_at=_time(self.event.get("event_ts") or self.event.get("ts"))
            or _time(self.envelope.get("event_time")) or self.source.received_at,
            received_at=self.source.received_at, delivery=self.source.delivery,
            conversation_key=make_conversation_key("slack", bot, channel.id, thread_id),
            channel=channel, thread_id=thread_id, raw=self.envelope, **fields,
        )

    def channel(self, channel_id: object) -> ChannelRef:
        if not isinstance(channel_id, str) or not channel_id:
            raise PayloadError(f"{self.event.get('type')} event without a channel")
        return ChannelRef(id=channel_id, type=_channel_type(channel_id, self.event))

    def user(self, message: Json) -> UserRef | None:
        user_id = message.get("user") or message.get("bot_id")
        if not isinstance(user_id, str):
            return None
        is_bot = bool(message.get("bot_id")) or message.get("subtype") == "bot_message"
        is_bot = is_bot or user_id == self.source.bot_user_id
        return UserRef(id=user_id, name=message.get("username"), is_bot=is_bot)

    def body(self, message: Json, *, mentioned: bool = False) -> MessageBody:
        text = str(message.get("text") or "")
        mentions = list(dict.fromkeys(_MENTION.findall(text)))
        own = self.source.bot_user_id
        stripped, _ = strip_leading_mention(text, (f"<@{own}>",) if own else ())
        thread_id = _thread_id(message)
        return MessageBody(
            id=_ts(message), text=text, reply_to_id=thread_id,
            mentions_bot=mentioned or (own is not None and own in mentions), mentions=mentions,
            attachments=[_attachment(f) for f in message.get("files") or [] if isinstance(f, dict)],
            command=parse_command(stripped, self.source.bot),
            reply_to_bot=thread_id is not None and message.get("parent_user_id") == own,
        )


def _message(cb: _Callback) -> list[Event]:
    subtype = cb.event.get("subtype")
    if subtype in _CREATED_SUBTYPES:
        return [_created(cb, cb.event)]
    if subtype == "message_changed":
        return _changed(cb)
    if subtype == "message_deleted":
        return _deleted(cb)
    return []


def _created(cb: _Callback, message: Json, mentioned: bool = False) -> Event:
    return cb.make(
        "message.created", cb.channel(cb.event.get("channel")), _thread_id(message),
        user=cb.user(message), message=cb.body(message, mentioned=mentioned),
    )


def _changed(cb: _Callback) -> list[Event]:
    message = cb.event.get("message")
    if not isinstance(message, dict):
        raise PayloadError("message_changed without a `message` object")
    return [cb.make(
        "message.updated", cb.channel(cb.event.get("channel")), _thread_id(message),
        user=cb.user(message), message=cb.body(message),
    )]


def _deleted(cb: _Callback) -> list[Event]:
    previous = cb.event.get("previous_message")
    previous = previous if isinstance(previous, dict) else {}
    deleted_ts = cb.event.get("deleted_ts") or previous.get("ts")
    if not isinstance(deleted_ts, str):
        raise PayloadError("message_deleted without `deleted_ts`")
    return [cb.make(
        "message.deleted", cb.channel(cb.event.get("channel")), _thread_id(previous),
        user=cb.user(previous), message=MessageBody(id=deleted_ts, text=previous.get("text") or ""),
    )]


def _app_mention(cb: _Callback) -> list[Event]:
    return [_created(cb, cb.event, mentioned=True)]


def _reaction(cb: _Callback) -> list[Event]:
    item = cb.event.get("item")
    if not isinstance(item, dict) or item.get("type") != "message":
        return []  # reactions on files have no conversation
    added = cb.event["type"] == "reaction_added"
    kind: EventType = "reaction.added" if added else "reaction.removed"
    reaction = Reaction(emoji=str(cb.event.get("reaction") or ""), message_id=_ts(item))
    channel = cb.channel(item.get("channel"))
    return [cb.make(kind, channel, user=cb.user(cb.event), reaction=reaction)]


def _member(cb: _Callback) -> list[Event]:
    joined = cb.event["type"] == "member_joined_channel"
    itself = cb.event.get("user") == cb.source.bot_user_id
    kind: EventType = ("bot.added" if joined else "bot.removed") if itself else (
        "member.joined" if joined else "member.left")
    return [cb.make(kind, cb.channel(cb.event.get("channel")), user=cb.user(cb.event))]


_HANDLERS: dict[str, Callable[[_Callback], list[Event]]] = {
    "message": _message,
    "app_mention": _app_mention,
    "reaction_added": _reaction,
    "reaction_removed": _reaction,
    "member_joined_channel": _member,
    "member_left_channel": _member,
}


# slash commands and interactivity


def event_from_command(form: Mapping[str, str], source: Source) -> Event:
    """A slash command (`command`, `text`, `trigger_id`, ...) as `command.invoked`."""
    command, trigger_id = form.get("command", ""), form.get("trigger_id", "")
    channel_id, user_id = form.get("channel_id", ""), form.get("user_id", "")
    name = command.lstrip("/").lower()
    if not (name and trigger_id and channel_id and user_id):
        raise PayloadError("slash command needs command, trigger_id, channel_id and user_id")
    text = form.get("text", "").strip()
    channel = ChannelRef(
        id=channel_id, type=_command_channel_type(form), name=_named(form.get("channel_name"))
    )
    return Event(
        type="command.invoked", platform="slack", bot=source.bot,
        dedupe_key=f"slack:{source.bot}:command:{trigger_id}",
        occurred_at=source.received_at, received_at=source.received_at, delivery=source.delivery,
        conversation_key=make_conversation_key("slack", source.bot, channel_id, None),
        user=UserRef(id=user_id, name=form.get("user_name") or None, is_bot=False),
        channel=channel,
        message=MessageBody(id=trigger_id, text=f"{command} {text}".strip(),
                            command=Command(name=name, args=text)),
        raw=dict(form),
    )


def events_from_block_actions(payload: Json, source: Source) -> list[Event]:
    """One `interaction.clicked` per action of a `block_actions` payload on a message."""
    payload = checked(wire.BlockActions, payload, "slack block_actions")
    container = payload.get("container") or {}
    channel_id = (payload.get("channel") or {}).get("id") or container.get("channel_id")
    trigger_id, user = payload.get("trigger_id"), payload.get("user") or {}
    if not channel_id or not trigger_id or not user.get("id"):
        return []  # actions in modals and App Home views belong to no conversation
    message = payload.get("message") or {"ts": container.get("message_ts")}
    thread_id = _thread_id(message)
    channel = ChannelRef(id=channel_id, type=_channel_type(channel_id, {}),
                         name=_named((payload.get("channel") or {}).get("name")))
    return [
        _clicked(payload, action, source, channel, thread_id, container.get("message_ts"))
        for action in payload.get("actions") or [] if isinstance(action, dict)
    ]


def _clicked(
    payload: Json, action: Json, source: Source, channel: ChannelRef, thread_id: str | None,
    message_ts: str | None,
) -> Event:
    user = payload["user"]
    action_id = str(action.get("action_id") or "")
    value = action.get("value") or (action.get("selected_option") or {}).get("value")
    return Event(
        type="interaction.clicked", platform="slack", bot=source.bot,
        dedupe_key=f"slack:{source.bot}:interaction:{payload['trigger_id']}:{action_id}",
        occurred_at=_time(action.get("action_ts")) or source.received_at,
        received_at=source.received_at, delivery=source.delivery,
        conversation_key=make_conversation_key("slack", source.bot, channel.id, thread_id),
        user=UserRef(id=user["id"], name=user.get("username") or user.get("name")),
        channel=channel, thread_id=thread_id,
        interaction=Interaction(id=action_id, value=value, message_id=message_ts),
        raw=payload,
    )


# small readers


def _authorized_bot(envelope: Json) -> str | None:
    """The bot's own user id, as the Events API's `authorizations` name it."""
    for authorization in envelope.get("authorizations") or []:
        if isinstance(authorization, dict) and authorization.get("is_bot"):
            return str(authorization.get("user_id"))
    return None


def _channel_type(channel_id: str, event: Json) -> ChannelType:
    declared = _CHANNEL_TYPES.get(str(event.get("channel_type")))
    if declared:
        return declared
    return "direct" if channel_id.startswith("D") else "channel"


def _command_channel_type(form: Mapping[str, str]) -> ChannelType:
    name = form.get("channel_name", "")
    if name == "directmessage" or form.get("channel_id", "").startswith("D"):
        return "direct"
    return "group" if name.startswith("mpdm-") else "channel"


def _named(name: object) -> str | None:
    """Slack's placeholders for unnamed conversations are no names."""
    if not isinstance(name, str) or name in {"", "directmessage", "privategroup"}:
        return None
    return name


def _ts(message: Json) -> str:
    ts = message.get("ts")
    if not isinstance(ts, str) or not ts:
        raise PayloadError("message without `ts`")
    return ts


def _thread_id(message: Json) -> str | None:
    """A reply's thread (its parent's ts); a thread's parent itself is not in a thread."""
    thread_ts = message.get("thread_ts")
    return thread_ts if isinstance(thread_ts, str) and thread_ts != message.get("ts") else None


def _time(value: object) -> datetime | None:
    """Slack's `ts`-style seconds as a time; None when absent or no time a datetime holds
    (the event then takes its received time)."""
    try:
        seconds = float(str(value)) if value else None
    except ValueError:
        return None
    if seconds is None or not 0 <= seconds <= LATEST_TIME:
        return None
    return datetime.fromtimestamp(seconds, UTC)


def _attachment(file: Json) -> Attachment:
    mime = file.get("mimetype")
    kind = "file"
    if isinstance(mime, str) and mime.split("/")[0] in {"image", "video", "audio"}:
        kind = {"image": "photo", "video": "video", "audio": "audio"}[mime.split("/")[0]]
    return Attachment(
        kind=kind, id=file.get("id"), name=file.get("name"), mime_type=mime,
        size=file.get("size"), url=file.get("url_private"),
    )
