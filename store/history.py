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
    ToolCallRecord,
    UserSession,
)

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
    """Messages with their channel, bot and speaker, as records (see `record`); a person's
    are those they wrote and the bot's replies filed in their sessions."""
    query: AnySelect = (
        select(
            Message.id,
            Message.direction,
            Message.external_id,
            PlatformChannel.platform,
            Bot.name.label("bot"),
            PlatformChannel.external_id.label("channel"),
            PlatformChannel.type.label("channel_type"),
            Speaker.external_id.label("user"),
            Speaker.name.label("user_name"),
            Speaker.display_name.label("user_display_name"),
            Speaker.is_bot.label("user_is_bot"),
            Speaker.locale.label("user_locale"),
            Speaker.user_id.label("person"),
            Message.text,
            Message.thread_id,
            Message.reply_to_id,
            Message.attachments,
            Message.citations,
            Message.session_id,
            Message.event_id,
            Message.occurred_at,
            Message.edited_at,
            Message.deleted_at,
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
            UserSession.id,
            PlatformChannel.platform,
            Bot.name.label("bot"),
            PlatformChannel.external_id.label("channel"),
            PlatformUser.external_id.label("user"),
            PlatformUser.user_id.label("person"),
            UserSession.started_at,
            UserSession.last_activity_at,
            UserSession.ended_at,
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


def tool_calls(filters: Filters) -> AnySelect:
    """Tool calls with their bot and the channel of their session, as records."""
    query: AnySelect = (
        select(
            ToolCallRecord.id,
            Bot.name.label("bot"),
            PlatformChannel.platform,
            PlatformChannel.external_id.label("channel"),
            ToolCallRecord.user_id.label("person"),
            ToolCallRecord.session_id,
            ToolCallRecord.event_id,
            ToolCallRecord.tool,
            ToolCallRecord.args,
            ToolCallRecord.outcome,
            ToolCallRecord.error,
            ToolCallRecord.duration_ms,
            ToolCallRecord.created_at,
        )
        .join(Bot, Bot.id == ToolCallRecord.bot_id)
        .outerjoin(UserSession, UserSession.id == ToolCallRecord.session_id)
        .outerjoin(PlatformChannel, PlatformChannel.id == UserSession.platform_channel_id)
    )
    query = query.where(*_common(filters, ToolCallRecord.created_at))
    if filters.conversation is not None:
        query = query.where(_in_conversation(filters.conversation, None))
    if filters.person is not None:
        query = query.where(ToolCallRecord.user_id == filters.person)
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


def record(row: Row[Any]) -> dict[str, Any]:
    """A row as a JSON record: the queries above select exactly the fields records have,
    named as they are. Ids and times stay `UUID` and `datetime` (orjson writes them)."""
    return dict(zip(row._fields, row, strict=True))


@dataclass(frozen=True)
class RecordKind:
    """One kind of exported record: its query (ordered by time, id) and its JSON shape."""

    query: Callable[[Filters], AnySelect]
    to_json: Callable[[Row[Any]], dict[str, Any]]


RECORD_KINDS: dict[str, RecordKind] = {
    "session": RecordKind(
        lambda f: sessions(f).order_by(UserSession.started_at, UserSession.id), record
    ),
    "message": RecordKind(lambda f: messages(f).order_by(Message.occurred_at, Message.id), record),
    "tool_call": RecordKind(
        lambda f: tool_calls(f).order_by(ToolCallRecord.created_at, ToolCallRecord.id), record
    ),
}
