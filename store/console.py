"""What the operators' console reads: conversations by latest activity, one conversation's
messages, people with their platform identities, and tool calls counted. Reads only; plain
values out; each function runs in the caller's transaction.

The listings are bounded so that a page polled every few seconds stays cheap on a large
database: conversations are found among the newest `RECENT_MESSAGES` messages (the time index
serves that), tool calls are counted over a window the caller gives.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from store.models import Bot, Message, PlatformChannel, PlatformUser, ToolCallRecord, User

RECENT_MESSAGES = 1000

Speaker = aliased(PlatformUser)


@dataclass(frozen=True)
class Conversation:
    channel_id: uuid.UUID
    bot: str | None
    platform: str
    external_id: str
    type: str
    name: str | None


@dataclass(frozen=True)
class Said:
    """One message as the console shows it."""

    direction: str
    text: str
    speaker: str | None
    occurred_at: datetime
    edited: bool = False
    deleted: bool = False


@dataclass(frozen=True)
class Active:
    conversation: Conversation
    last: Said


async def active_conversations(
    session: AsyncSession, limit: int, bot: str | None = None
) -> list[Active]:
    """The `limit` conversations with the newest messages, newest first, each with its last."""
    recent_query = select(Message).order_by(Message.occurred_at.desc(), Message.id.desc())
    if bot is not None:
        recent_query = recent_query.join(Bot, Bot.id == Message.bot_id).where(Bot.name == bot)
    recent = recent_query.limit(RECENT_MESSAGES).subquery()
    rank = func.row_number().over(
        partition_by=recent.c.platform_channel_id,
        order_by=(recent.c.occurred_at.desc(), recent.c.id.desc()),
    )
    ranked = select(recent, rank.label("rank")).subquery()
    query = (
        select(ranked, *_conversation_columns(), Speaker.name.label("speaker"))
        .join(PlatformChannel, PlatformChannel.id == ranked.c.platform_channel_id)
        .outerjoin(Bot, Bot.id == PlatformChannel.bot_id)
        .outerjoin(Speaker, Speaker.id == ranked.c.platform_user_id)
        .where(ranked.c.rank == 1)
        .order_by(ranked.c.occurred_at.desc())
        .limit(limit)
    )
    return [Active(_conversation(row), _said(row)) for row in (await session.execute(query)).all()]


def _conversation_columns() -> tuple[Any, ...]:
    return (
        PlatformChannel.id.label("channel_id"),
        Bot.name.label("bot"),
        PlatformChannel.platform,
        PlatformChannel.external_id.label("channel_external_id"),
        PlatformChannel.type.label("channel_type"),
        PlatformChannel.name.label("channel_name"),
    )


def _conversation(row: Any) -> Conversation:
    return Conversation(
        row.channel_id,
        row.bot,
        row.platform,
        row.channel_external_id,
        row.channel_type,
        row.channel_name,
    )


def _said(row: Any) -> Said:
    return Said(
        row.direction,
        row.text,
        row.speaker,
        row.occurred_at,
        edited=row.edited_at is not None,
        deleted=row.deleted_at is not None,
    )


async def conversation(session: AsyncSession, channel_id: uuid.UUID) -> Conversation | None:
    query = (
        select(*_conversation_columns())
        .outerjoin(Bot, Bot.id == PlatformChannel.bot_id)
        .where(PlatformChannel.id == channel_id)
    )
    row = (await session.execute(query)).one_or_none()
    return None if row is None else _conversation(row)


async def conversation_messages(
    session: AsyncSession, channel_id: uuid.UUID, limit: int
) -> list[Said]:
    """The newest `limit` messages of one conversation, oldest first (as a chat reads)."""
    query = (
        select(
            Message.direction,
            Message.text,
            Speaker.name.label("speaker"),
            Message.occurred_at,
            Message.edited_at,
            Message.deleted_at,
        )
        .outerjoin(Speaker, Speaker.id == Message.platform_user_id)
        .where(Message.platform_channel_id == channel_id)
        .order_by(Message.occurred_at.desc(), Message.id.desc())
        .limit(limit)
    )
    rows = (await session.execute(query)).all()
    return [_said(row) for row in reversed(rows)]


@dataclass(frozen=True)
class Identity:
    platform: str
    external_id: str
    name: str | None
    display_name: str | None
    last_seen_at: datetime | None


@dataclass
class Person:
    id: uuid.UUID
    name: str | None
    created_at: datetime
    identities: list[Identity] = field(default_factory=list)


async def people(session: AsyncSession, limit: int, search: str | None = None) -> list[Person]:
    """The newest `limit` people, or those whose name, an identity's name or platform id
    contains `search` (case-insensitive), each with their identities."""
    query = select(User.id, User.name, User.created_at).order_by(User.id.desc()).limit(limit)
    if search:
        query = query.where(_named(search))
    found = {
        row.id: Person(row.id, row.name, row.created_at)
        for row in (await session.execute(query)).all()
    }
    if found:
        identities = (
            select(PlatformUser)
            .where(PlatformUser.user_id.in_(list(found)))
            .order_by(PlatformUser.platform, PlatformUser.external_id)
        )
        for identity in (await session.execute(identities)).scalars():
            found[identity.user_id].identities.append(
                Identity(
                    identity.platform,
                    identity.external_id,
                    identity.name,
                    identity.display_name,
                    identity.last_seen_at,
                )
            )
    return list(found.values())


def _named(search: str) -> Any:
    needle = search.lower()
    matching = select(PlatformUser.user_id).where(
        or_(
            func.lower(PlatformUser.name).contains(needle, autoescape=True),
            func.lower(PlatformUser.display_name).contains(needle, autoescape=True),
            PlatformUser.external_id == search,
        )
    )
    return or_(func.lower(User.name).contains(needle, autoescape=True), User.id.in_(matching))


@dataclass
class ToolUse:
    """How one tool of one bot was called: counts by outcome (ok, error, timeout, refused)."""

    bot: str
    tool: str
    outcomes: dict[str, int] = field(default_factory=dict)
    total_ms: int = 0
    last_error: str | None = None
    last_error_at: datetime | None = None

    @property
    def calls(self) -> int:
        return sum(self.outcomes.values())

    @property
    def failures(self) -> int:
        return self.calls - self.outcomes.get("ok", 0)

    @property
    def mean_ms(self) -> int | None:
        return round(self.total_ms / self.calls) if self.calls else None


async def tool_use(session: AsyncSession, since: datetime) -> dict[tuple[str, str], ToolUse]:
    """Tool calls since `since`, by (bot, tool), with the newest failure's text."""
    counted = (
        select(
            Bot.name,
            ToolCallRecord.tool,
            ToolCallRecord.outcome,
            func.count(),
            func.coalesce(func.sum(ToolCallRecord.duration_ms), 0),
        )
        .join(Bot, Bot.id == ToolCallRecord.bot_id)
        .where(ToolCallRecord.created_at >= since)
        .group_by(Bot.name, ToolCallRecord.tool, ToolCallRecord.outcome)
    )
    uses: dict[tuple[str, str], ToolUse] = {}
    for bot, tool, outcome, count, total_ms in (await session.execute(counted)).all():
        use = uses.setdefault((bot, tool), ToolUse(bot, tool))
        use.outcomes[outcome] = int(count)
        use.total_ms += int(total_ms)
    await _last_failures(session, since, uses)
    return uses


async def _last_failures(
    session: AsyncSession, since: datetime, uses: dict[tuple[str, str], ToolUse]
) -> None:
    rank = func.row_number().over(
        partition_by=(ToolCallRecord.bot_id, ToolCallRecord.tool),
        order_by=ToolCallRecord.created_at.desc(),
    )
    failed = (
        select(
            ToolCallRecord.bot_id,
            ToolCallRecord.tool,
            ToolCallRecord.outcome,
            ToolCallRecord.error,
            ToolCallRecord.created_at,
            rank.label("rank"),
        )
        .where(ToolCallRecord.created_at >= since, ToolCallRecord.outcome != "ok")
        .subquery()
    )
    query = (
        select(Bot.name, failed.c.tool, failed.c.outcome, failed.c.error, failed.c.created_at)
        .join(Bot, Bot.id == failed.c.bot_id)
        .where(failed.c.rank == 1)
    )
    for bot, tool, outcome, error, at in (await session.execute(query)).all():
        use = uses.get((bot, tool))
        if use is not None:
            use.last_error, use.last_error_at = error or outcome, at
