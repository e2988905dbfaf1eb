"""Messages in and out, button clicks, and the de-duplication ledger."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, IdMixin, TimestampMixin


class Message(IdMixin, TimestampMixin, Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("platform_channel_id", "external_id"),
        Index("ix_messages_channel_time", "platform_channel_id", "occurred_at"),
        Index("ix_messages_time", "occurred_at", "id"),  # keyset paging, export, replay
    )
    direction: Mapped[str] = mapped_column(String(3))  # 'in' | 'out'
    external_id: Mapped[str] = mapped_column(String(256))
    platform_channel_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("platform_channels.id", ondelete="CASCADE")
    )
    platform_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("platform_users.id", ondelete="SET NULL"), index=True
    )
    session_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_sessions.id", ondelete="SET NULL"), index=True
    )
    bot_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("bots.id", ondelete="SET NULL"))
    event_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    text: Mapped[str] = mapped_column(Text, default="")
    thread_id: Mapped[str | None] = mapped_column(String(256))
    reply_to_id: Mapped[str | None] = mapped_column(String(256))
    attachments: Mapped[list[Any]] = mapped_column(default=list)
    occurred_at: Mapped[datetime]
    edited_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
    citations: Mapped[list[Any]] = mapped_column(default=list)  # what an outbound answer cites


class Click(IdMixin, TimestampMixin, Base):
    __tablename__ = "clicks"
    bot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bots.id", ondelete="CASCADE"), index=True)
    platform_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("platform_users.id", ondelete="SET NULL")
    )
    platform_channel_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("platform_channels.id", ondelete="SET NULL")
    )
    message_external_id: Mapped[str | None] = mapped_column(String(256))
    interaction_id: Mapped[str] = mapped_column(String(256))
    value: Mapped[str | None] = mapped_column(Text)
    event_id: Mapped[uuid.UUID | None]


class ProcessedEvent(IdMixin, Base):
    """One row per dedupe key: a re-delivered event finds its row and is skipped.

    `result` keeps what the core answered (the reply actions), so a duplicate that asks to
    wait for the reply gets the same answer again.
    """

    __tablename__ = "processed_events"
    dedupe_key: Mapped[str] = mapped_column(String(512), unique=True)
    event_id: Mapped[uuid.UUID]
    event_type: Mapped[str] = mapped_column(String(64))
    platform: Mapped[str] = mapped_column(String(32))
    bot: Mapped[str] = mapped_column(String(64))
    processed_at: Mapped[datetime] = mapped_column(index=True)
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)


class OwedAnswer(Base):
    """An answer the core owes for an event, written in the transaction that recorded the event
    and deleted once the answer is published. A crash leaves the row; whoever holds no claim on
    it after `claimed_until` answers it (the `outbox`)."""

    __tablename__ = "outbox"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    event_id: Mapped[uuid.UUID]
    bot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bots.id", ondelete="CASCADE"))
    conversation_key: Mapped[str] = mapped_column(String(1024), index=True)
    event: Mapped[dict[str, Any]]  # the botgate.event/1 to answer
    refs: Mapped[dict[str, Any]]  # the rows it was filed under (gateway.tools.base.Refs)
    reply_to: Mapped[str | None] = mapped_column(String(255))  # a webhook waiting (?wait)
    traceparent: Mapped[str | None] = mapped_column(String(64))
    owner: Mapped[str] = mapped_column(String(64))
    claimed_until: Mapped[datetime] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime]


class SentAction(Base):
    """The send ledger: an action the platform accepted, by action id, written before the action
    is acknowledged. An action delivered again finds its row and is not sent twice."""

    __tablename__ = "sent_actions"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)  # the action's id
    platform: Mapped[str] = mapped_column(String(32))
    bot: Mapped[str] = mapped_column(String(64))
    channel_id: Mapped[str] = mapped_column(String(256))
    message_id: Mapped[str | None] = mapped_column(String(256))
    sent_at: Mapped[datetime] = mapped_column(index=True)


class ToolCallRecord(IdMixin, Base):
    """One call of a tool: what was asked, how it ended and how long it took. A log: its
    session and person are kept as plain ids (no foreign key), so that a session pruned
    meanwhile never keeps a call from being logged."""

    __tablename__ = "tool_calls"
    __table_args__ = (Index("ix_tool_calls_bot_time", "bot_id", "created_at"),)
    bot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bots.id", ondelete="CASCADE"))
    session_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    event_id: Mapped[uuid.UUID | None]
    tool: Mapped[str] = mapped_column(String(64))
    args: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str] = mapped_column(String(16))  # ok | error | timeout | refused
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int]
    created_at: Mapped[datetime]
