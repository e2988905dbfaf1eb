"""People behind platform accounts, and their sessions with bots."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, IdMixin, JSONType, TimestampMixin


class User(IdMixin, TimestampMixin, Base):
    __tablename__ = "users"
    name: Mapped[str | None] = mapped_column(String(256))
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    is_active: Mapped[bool] = mapped_column(default=True)


class UserSession(IdMixin, TimestampMixin, Base):
    """A conversation span of one platform user with one bot in one channel.

    At most one open session (ended_at NULL) per (bot, user, channel): a partial unique index
    makes concurrent consumers agree on it.
    """

    __tablename__ = "user_sessions"
    __table_args__ = (
        Index(
            "uq_user_sessions_open",
            "bot_id",
            "platform_user_id",
            "platform_channel_id",
            unique=True,
            sqlite_where=text("ended_at IS NULL"),
            postgresql_where=text("ended_at IS NULL"),
        ),
    )
    bot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bots.id", ondelete="CASCADE"))
    platform_user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("platform_users.id", ondelete="CASCADE"), index=True
    )
    platform_channel_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("platform_channels.id", ondelete="CASCADE"), index=True
    )
    started_at: Mapped[datetime]
    last_activity_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)


class UserLoginToken(IdMixin, TimestampMixin, Base):
    """A one-time code (stored only as its hash): `link` issues one for a person, and the same
    person presenting it elsewhere joins that identity to them."""

    __tablename__ = "user_login_tokens"
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    purpose: Mapped[str] = mapped_column(String(16), default="link")
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class LoginFailure(IdMixin, Base):
    """A wrong code presented by an identity; too many in an hour and it is refused."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_identity_time", "platform_user_id", "created_at"),)
    platform_user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("platform_users.id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime]


class UserPreference(IdMixin, TimestampMixin, Base):
    __tablename__ = "user_preferences"
    __table_args__ = (UniqueConstraint("user_id", "key"),)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(128))
    value: Mapped[Any] = mapped_column(JSONType)
