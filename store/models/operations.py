"""Audit trail, admin API tokens and the dead-letter store."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, IdMixin, TimestampMixin


class AuditLog(IdMixin, TimestampMixin, Base):
    """Who did what to which target, and how it ended. Ids are time-ordered (UUIDv7), so
    the id orders the trail."""

    __tablename__ = "audit_log"
    actor: Mapped[str] = mapped_column(String(128))  # 'system', 'admin', 'token:NAME', 'cli:USER'
    action: Mapped[str] = mapped_column(String(64), index=True)  # e.g. 'delivery.failed'
    target_type: Mapped[str | None] = mapped_column(String(64))
    target_id: Mapped[str | None] = mapped_column(String(256))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    outcome: Mapped[str] = mapped_column(String(16), default="ok", server_default="ok")


class ApiToken(IdMixin, TimestampMixin, Base):
    __tablename__ = "api_tokens"
    name: Mapped[str] = mapped_column(String(128), unique=True)
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)  # SHA-256, never the token
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class DeadLetter(IdMixin, TimestampMixin, Base):
    """A message that could not be processed or delivered, as `botgate.dead` received it.

    One row per (message id, queue it died in): a re-driven letter that dies again comes
    back to its row. `status`: dead -> queued (re-drive asked) -> redriving (a process
    publishes it) -> redriven; dying again makes it `dead` once more.
    """

    __tablename__ = "dead_letters"
    __table_args__ = (
        UniqueConstraint("message_id", "origin_queue"),
        Index("ix_dead_letters_status", "status"),
    )
    message_id: Mapped[str] = mapped_column(String(256))
    origin_exchange: Mapped[str] = mapped_column(String(256))
    origin_queue: Mapped[str] = mapped_column(String(256), default="")
    routing_key: Mapped[str] = mapped_column(String(256))
    reason: Mapped[str] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(String(256))  # the exception class
    attempts: Mapped[int] = mapped_column(default=1)
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)  # as published, without ours
    content_type: Mapped[str] = mapped_column(String(128), default="application/json")
    body: Mapped[bytes] = mapped_column(LargeBinary)
    platform: Mapped[str | None] = mapped_column(String(32))
    bot: Mapped[str | None] = mapped_column(String(64))
    user_key: Mapped[str | None] = mapped_column(String(300), index=True)  # platform:user id
    status: Mapped[str] = mapped_column(String(16), default="dead")
    times_dead: Mapped[int] = mapped_column(default=1)
    times_redriven: Mapped[int] = mapped_column(default=0)
    last_dead_at: Mapped[datetime]
    redrive_requested_by: Mapped[str | None] = mapped_column(String(128))
    claimed_at: Mapped[datetime | None]
    redriven_at: Mapped[datetime | None]
