"""A bot's presence on each platform, and the platforms' users and channels (FlowBot)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, IdMixin, TimestampMixin


class PlatformBot(IdMixin, TimestampMixin, Base):
    """A bot on one platform. `credentials` is Fernet ciphertext (gateway.crypto), never plain."""

    __tablename__ = "platform_bots"
    __table_args__ = (UniqueConstraint("bot_id", "platform"),)
    bot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bots.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str | None] = mapped_column(String(128))  # the bot's own platform id
    credentials: Mapped[str] = mapped_column(Text, default="")
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)  # adapter state, e.g. offsets
    is_active: Mapped[bool] = mapped_column(default=True)


class PlatformUser(IdMixin, TimestampMixin, Base):
    """One account on one platform. Every row belongs to a person (`users`), created on first
    sight in the same transaction; identities joined with `link` share one person."""

    __tablename__ = "platform_users"
    __table_args__ = (UniqueConstraint("platform", "external_id"),)
    platform: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(256))
    name: Mapped[str | None] = mapped_column(String(256))
    display_name: Mapped[str | None] = mapped_column(String(256))
    is_bot: Mapped[bool] = mapped_column(default=False)
    locale: Mapped[str | None] = mapped_column(String(32))
    # Deferred: the core inserts an identity with a fresh person's id and that person's row
    # in one transaction, in whichever order suits a set-based write.
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE", deferrable=True, initially="DEFERRED"),
        index=True,
    )
    last_seen_at: Mapped[datetime | None]


class PlatformChannel(IdMixin, TimestampMixin, Base):
    """A chat as one bot sees it: two bots in one group, or one person's private chats with
    two bots, are separate rows with separate sessions and history."""

    __tablename__ = "platform_channels"
    __table_args__ = (UniqueConstraint("bot_id", "platform", "external_id"),)
    bot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bots.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(256))
    type: Mapped[str] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(String(256))
