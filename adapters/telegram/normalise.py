"""Telegram `Update` -> botgate events (CONTRACT section 5).

One update gives zero or more events. The first event's `dedupe_key` is
`telegram:{bot}:update:{update_id}`; further events of the same update (several members
joining, several reactions changing) append `:{n}`, so a re-delivered update maps to the same keys.
An update kind not handled here gives no event: it is acknowledged, never an error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from adapters.telegram.media import attachments
from adapters.telegram.wire import (
    CallbackQuery,
    Chat,
    ChatMember,
    ChatMemberUpdated,
    Message,
    MessageReactionUpdated,
    ReactionType,
    Update,
    User,
)
from adapters.text import parse_command, strip_leading_mention
from gateway.events import (
    ChannelRef,
    ChannelType,
    Event,
    EventType,
    Interaction,
    MessageBody,
    Reaction,
    UserRef,
    conversation_key,
)

HANDLED_UPDATES: tuple[str, ...] = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "callback_query",
    "message_reaction",
    "my_chat_member",
    "chat_member",
)
# `chat_member` only reaches admins and repeats what join/leave service messages say; asked for
# (allowed_updates), it replaces them as the source of member.joined / member.left.
DEFAULT_UPDATES: tuple[str, ...] = tuple(u for u in HANDLED_UPDATES if u != "chat_member")
CHANNEL_TYPES: dict[str, ChannelType] = {
    "private": "direct",
    "group": "group",
    "supergroup": "group",
    "channel": "channel",
}
_PRESENT = {"creator", "administrator", "member"}


@dataclass(frozen=True)
class Identity:
    """Who the bot is: its botgate name, and its Telegram id and @username when known."""

    bot: str
    user_id: int | None = None
    username: str | None = None
    member_updates: bool = False  # chat_member updates, not service messages, report members

    def is_me(self, user: User | None) -> bool:
        if user is None:
            return False
        if self.user_id is not None:
            return user.id == self.user_id
        return bool(
            self.username and user.username and user.username.lower() == self.username.lower()
        )


@dataclass(frozen=True)
class _Context:
    identity: Identity
    update: Update
    raw: dict[str, Any]
    received_at: datetime

    def event(self, index: int, type: EventType, chat: Chat, **fields: Any) -> Event:
        thread_id: str | None = fields.pop("thread_id", None)
        key = f"telegram:{self.identity.bot}:update:{self.update.update_id}"
        return Event(
            type=type,
            platform="telegram",
            bot=self.identity.bot,
            dedupe_key=f"{key}:{index}" if index else key,
            occurred_at=fields.pop("occurred_at", None) or self.received_at,
            received_at=self.received_at,
            conversation_key=conversation_key(
                "telegram", self.identity.bot, str(chat.id), thread_id
            ),
            channel=channel_ref(chat),
            thread_id=thread_id,
            raw=self.raw,
            **fields,
        )


def normalise(
    update: Update, raw: dict[str, Any], identity: Identity, received_at: datetime
) -> list[Event]:
    """The events one update means, in order."""
    context = _Context(identity, update, raw, received_at)
    for attribute, handler in _HANDLERS:
        value = getattr(update, attribute)
        if value is not None:
            return handler(context, value)
    return []


def user_ref(user: User) -> UserRef:
    return UserRef(
        id=str(user.id),
        name=user.username,
        display_name=user.full_name,
        is_bot=user.is_bot,
        locale=user.language_code,
    )


def chat_as_user(chat: Chat) -> UserRef:
    """Who posted in a channel or anonymously for a group: the chat itself."""
    return UserRef(id=str(chat.id), name=chat.username, display_name=chat.effective_name)


def channel_ref(chat: Chat) -> ChannelRef:
    return ChannelRef(
        id=str(chat.id), type=CHANNEL_TYPES.get(chat.type, "group"), name=chat.effective_name
    )


def thread_of(message: Message) -> str | None:
    """Forum topics are threads; other `message_thread_id`s (reply chains) are not."""
    if message.is_topic_message and message.message_thread_id is not None:
        return str(message.message_thread_id)
    return None


def _sender(message: Message) -> UserRef | None:
    if message.from_user is not None:
        return user_ref(message.from_user)
    return chat_as_user(message.sender_chat) if message.sender_chat is not None else None


def _created(context: _Context, message: Message) -> list[Event]:
    if message.new_chat_members or message.left_chat_member:
        return [] if context.identity.member_updates else _membership_messages(context, message)
    return _message(context, message, "message.created", message.date)


def _updated(context: _Context, message: Message) -> list[Event]:
    return _message(context, message, "message.updated", message.edit_date or message.date)


def _message(context: _Context, message: Message, type: EventType, at: datetime) -> list[Event]:
    body = message_body(message, context.identity)
    if not body.text and not body.attachments:
        return []  # a service message (pinned, topic created, ...) or content we do not carry
    return [
        context.event(
            0,
            type,
            message.chat,
            occurred_at=at,
            user=_sender(message),
            thread_id=thread_of(message),
            message=body,
        )
    ]


def message_body(message: Message, identity: Identity) -> MessageBody:
    text = message.text or message.caption or ""
    mentions, mentioned = _mentions(message, identity)
    handles = (f"@{identity.username}",) if identity.username else ()
    command_text, leading = strip_leading_mention(text, handles)
    reply_to = _reply_to(message)
    return MessageBody(
        id=str(message.message_id),
        text=text,
        reply_to_id=reply_to,
        mentions_bot=mentioned or leading,
        mentions=mentions,
        attachments=attachments(message),
        command=parse_command(command_text, identity.username),
        reply_to_bot=reply_to is not None and identity.is_me(_replied(message).from_user),
    )


def _replied(message: Message) -> Message:
    assert message.reply_to_message is not None
    return message.reply_to_message


def _reply_to(message: Message) -> str | None:
    reply = message.reply_to_message
    if reply is None:
        return None
    # Inside a forum topic every message "replies" to the topic's first message.
    if message.is_topic_message and reply.message_id == message.message_thread_id:
        return None
    return str(reply.message_id)


def _mentions(message: Message, identity: Identity) -> tuple[list[str], bool]:
    mentions: list[str] = []
    mentioned = False
    for entity, text in message.mentions().items():
        if entity.user is not None:
            mentions.append(str(entity.user.id))
            mentioned = mentioned or identity.is_me(entity.user)
        else:
            handle = text.lstrip("@")
            mentions.append(handle)
            mentioned = mentioned or handle.lower() == (identity.username or "").lower()
    return mentions, mentioned


def _membership_messages(context: _Context, message: Message) -> list[Event]:
    # The bot's own arrival or departure comes as `my_chat_member`; not counted twice here.
    changes: list[tuple[EventType, User]] = [
        ("member.joined", user)
        for user in message.new_chat_members
        if not context.identity.is_me(user)
    ]
    left = message.left_chat_member
    if left is not None and not context.identity.is_me(left):
        changes.append(("member.left", left))
    return [
        context.event(
            index,
            type,
            message.chat,
            occurred_at=message.date,
            user=user_ref(user),
            thread_id=thread_of(message),
        )
        for index, (type, user) in enumerate(changes)
    ]


def _present(member: ChatMember) -> bool:
    return member.status in _PRESENT or (
        member.status == "restricted" and bool(getattr(member, "is_member", False))
    )


def _membership_change(update: ChatMemberUpdated) -> bool | None:
    """True: joined; False: left; None: no change of presence (a promotion, say)."""
    before, after = _present(update.old_chat_member), _present(update.new_chat_member)
    return None if before == after else after


def _member(context: _Context, update: ChatMemberUpdated) -> list[Event]:
    joined = _membership_change(update)
    if joined is None:
        return []
    type: EventType = "member.joined" if joined else "member.left"
    user = user_ref(update.new_chat_member.user)
    return [context.event(0, type, update.chat, occurred_at=update.date, user=user)]


def _my_member(context: _Context, update: ChatMemberUpdated) -> list[Event]:
    joined = _membership_change(update)
    if joined is None:
        return []
    type: EventType = "bot.added" if joined else "bot.removed"
    return [
        context.event(
            0, type, update.chat, occurred_at=update.date, user=user_ref(update.from_user)
        )
    ]


def _click(context: _Context, query: CallbackQuery) -> list[Event]:
    message = query.message
    chat = message.chat if message is not None else Chat(id=query.from_user.id, type="private")
    thread = thread_of(message) if message is not None else None
    interaction = Interaction(
        id=query.data or query.game_short_name or query.id,
        value=query.data,
        message_id=str(message.message_id) if message is not None else query.inline_message_id,
    )
    return [
        context.event(
            0,
            "interaction.clicked",
            chat,
            user=user_ref(query.from_user),
            thread_id=thread,
            interaction=interaction,
        )
    ]


def _reactions(context: _Context, update: MessageReactionUpdated) -> list[Event]:
    before, after = _emojis(update.old_reaction), _emojis(update.new_reaction)
    changes: list[tuple[EventType, str]] = [("reaction.added", e) for e in after if e not in before]
    changes += [("reaction.removed", e) for e in before if e not in after]
    user = user_ref(update.user) if update.user else _chat_user(update.actor_chat)
    return [
        context.event(
            index,
            type,
            update.chat,
            occurred_at=update.date,
            user=user,
            reaction=Reaction(emoji=emoji, message_id=str(update.message_id)),
        )
        for index, (type, emoji) in enumerate(changes)
    ]


def _chat_user(chat: Chat | None) -> UserRef | None:
    return chat_as_user(chat) if chat is not None else None


def _emojis(reactions: Sequence[ReactionType]) -> list[str]:
    names: list[str] = []
    for reaction in reactions:
        if reaction.type == "emoji" and reaction.emoji:
            names.append(reaction.emoji)
        elif reaction.type == "custom_emoji" and reaction.custom_emoji_id:
            names.append(f"custom:{reaction.custom_emoji_id}")
        else:
            names.append(reaction.type)
    return names


_HANDLERS: tuple[tuple[str, Callable[[_Context, Any], list[Event]]], ...] = (
    ("message", _created),
    ("channel_post", _created),
    ("edited_message", _updated),
    ("edited_channel_post", _updated),
    ("callback_query", _click),
    ("message_reaction", _reactions),
    ("my_chat_member", _my_member),
    ("chat_member", _member),
)
