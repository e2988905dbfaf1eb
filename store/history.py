"""What was said: messages and sessions filtered by bot, platform, channel, conversation,
person and time, for the admin API's listing, `botgate export` and `botgate replay`.

Each record kind is a query plus a JSON shape (`RECORD_KINDS`), so a new kind (citations,
tool calls) is one more entry. Queries are ordered by (time, id), which the keyset cursors of
the admin API and the server-side cursors of the exporter rely on.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, and_, literal, or_, select
from sqlalchemy.orm import aliased

from store.models import (
    Bot,
    Message,
    PlatformChannel,
    PlatformUser,
    ProcessedEvent,
    UserSession,
)
from store.upsert import table_of

AnySelect = Select[*tuple[Any, ...]]


@dataclass(frozen=True)
class Filters:
    bot: str | None = None
    platform: str | None = None
    channel: str | None = None  # the platform's channel id
    conversation: str | None = None  # platform:bot:channel[:thread]
    person: uuid.UUID | None = None  # users.id: every platform identity of one person
    since: datetime | None = None
    until: datetime | None = None


Speaker = aliased(PlatformUser)


def identities(person: uuid.UUID) -> AnySelect:
    return select(PlatformUser.id).where(PlatformUser.user_id == person)


def sessions_of(person: uuid.UUID) -> AnySelect:
    return select(UserSession.id).where(UserSession.platform_user_id.in_(identities(person)))


def messages(filters: Filters) -> AnySelect:
    """Messages with their channel, bot and speaker; a person's are those they wrote and the
    bot's replies filed in their sessions."""
    query: AnySelect = (
        select(
            *table_of(Message).c,
            PlatformChannel.platform,
            PlatformChannel.external_id.label("channel"),
            PlatformChannel.type.label("channel_type"),
            Bot.name.label("bot"),
            Speaker.external_id.label("user"),
            Speaker.name.label("user_name"),
            Speaker.user_id.label("person"),
            Speaker.display_name.label("user_display_name"),
            Speaker.is_bot.label("user_is_bot"),
            Speaker.locale.label("user_locale"),
        )
        .join(PlatformChannel, PlatformChannel.id == Message.platform_channel_id)
        .outerjoin(Bot, Bot.id == Message.bot_id)
        .outerjoin(Speaker, Speaker.id == Message.platform_user_id)
    )
    query = query.where(*_common(filters, Message.occurred_at))
    if filters.conversation is not None:
        query = query.where(_in_conversation(filters.conversation, Message.thread_id))
    if filters.person is not None:
        person = filters.person
        query = query.where(
            or_(
                Message.platform_user_id.in_(identities(person)),
                Message.session_id.in_(sessions_of(person)),
            )
        )
    return query


def with_events(query: AnySelect) -> AnySelect:
    """Adds the type and de-duplication key of the event that brought each message."""
    return query.add_columns(ProcessedEvent.event_type, ProcessedEvent.dedupe_key).outerjoin(
        ProcessedEvent, ProcessedEvent.event_id == Message.event_id
    )


def sessions(filters: Filters) -> AnySelect:
    query: AnySelect = (
        select(
            *table_of(UserSession).c,
            PlatformChannel.platform,
            PlatformChannel.external_id.label("channel"),
            Bot.name.label("bot"),
            PlatformUser.external_id.label("user"),
            PlatformUser.user_id.label("person"),
        )
        .join(PlatformChannel, PlatformChannel.id == UserSession.platform_channel_id)
        .join(Bot, Bot.id == UserSession.bot_id)
        .join(PlatformUser, PlatformUser.id == UserSession.platform_user_id)
    )
    query = query.where(*_common(filters, UserSession.started_at))
    if filters.conversation is not None:
        query = query.where(_in_conversation(filters.conversation, None))
    if filters.person is not None:
        query = query.where(PlatformUser.user_id == filters.person)
    return query


def _common(filters: Filters, at: Any) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.bot is not None:
        conditions.append(Bot.name == filters.bot)
    if filters.platform is not None:
        conditions.append(PlatformChannel.platform == filters.platform)
    if filters.channel is not None:
        conditions.append(PlatformChannel.external_id == filters.channel)
    if filters.since is not None:
        conditions.append(at >= filters.since)
    if filters.until is not None:
        conditions.append(at < filters.until)
    return conditions


def _in_conversation(key: str, thread: Any) -> ColumnElement[bool]:
    """`platform:bot:channel`, or `...:thread` for a thread's messages. Channel ids may hold
    ':' themselves, so the channel and thread are matched as the key's whole remainder."""
    platform, _, rest = key.partition(":")
    bot, _, place = rest.partition(":")
    channel = PlatformChannel.external_id
    where = channel == place
    if thread is not None:
        where = or_(
            and_(channel == place, thread.is_(None)),
            channel + literal(":") + thread == place,
        )
    return and_(PlatformChannel.platform == platform, Bot.name == bot, where)


def newest_first(query: AnySelect, after: tuple[datetime, uuid.UUID] | None) -> AnySelect:
    """Messages newest first, from just after the cursor (the last row of the page before)."""
    if after is not None:
        at, row_id = after
        query = query.where(
            or_(Message.occurred_at < at, and_(Message.occurred_at == at, Message.id < row_id))
        )
    return query.order_by(Message.occurred_at.desc(), Message.id.desc())


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def message_json(row: Row[Any]) -> dict[str, Any]:
    """A row of `messages()`: the message's columns and its channel, bot and speaker."""
    message = row
    return {
        "id": str(message.id),
        "direction": message.direction,
        "external_id": message.external_id,
        "platform": row.platform,
        "bot": row.bot,
        "channel": row.channel,
        "channel_type": row.channel_type,
        "user": row.user,
        "user_name": row.user_name,
        "person": str(row.person) if row.person else None,
        "text": message.text,
        "thread_id": message.thread_id,
        "reply_to_id": message.reply_to_id,
        "attachments": message.attachments,
        "session_id": str(message.session_id) if message.session_id else None,
        "event_id": str(message.event_id) if message.event_id else None,
        "occurred_at": _when(message.occurred_at),
        "edited_at": _when(message.edited_at),
        "deleted_at": _when(message.deleted_at),
    }


def session_json(row: Row[Any]) -> dict[str, Any]:
    session = row
    return {
        "id": str(session.id),
        "platform": row.platform,
        "bot": row.bot,
        "channel": row.channel,
        "user": row.user,
        "person": str(row.person) if row.person else None,
        "started_at": _when(session.started_at),
        "last_activity_at": _when(session.last_activity_at),
        "ended_at": _when(session.ended_at),
    }


@dataclass(frozen=True)
class RecordKind:
    """One kind of exported record: its query (ordered by time, id) and its JSON shape."""

    query: Callable[[Filters], AnySelect]
    to_json: Callable[[Row[Any]], dict[str, Any]]


RECORD_KINDS: dict[str, RecordKind] = {
    "session": RecordKind(
        lambda f: sessions(f).order_by(UserSession.started_at, UserSession.id), session_json
    ),
    "message": RecordKind(
        lambda f: messages(f).order_by(Message.occurred_at, Message.id), message_json
    ),
}
