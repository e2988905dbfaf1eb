"""Organizations and their bots (General Bots' tenancy)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, IdMixin, JSONType, TimestampMixin


class Organization(IdMixin, TimestampMixin, Base):
    __tablename__ = "organizations"
    name: Mapped[str] = mapped_column(String(128), unique=True)


class Bot(IdMixin, TimestampMixin, Base):
    __tablename__ = "bots"
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    is_active: Mapped[bool] = mapped_column(default=True)


class BotConfiguration(IdMixin, TimestampMixin, Base):
    """Per-bot settings that are not platform credentials (kb, tools, fallback reply...)."""

    __tablename__ = "bot_configuration"
    __table_args__ = (UniqueConstraint("bot_id", "key"),)
    bot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bots.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(128))
    value: Mapped[Any] = mapped_column(JSONType)


class BotMemory(IdMixin, TimestampMixin, Base):
    """What a bot remembers about a person (the `remember` tool): one row a note, keyed by the
    call that made it. Notes belong to the person, so they follow linked identities."""

    __tablename__ = "bot_memories"
    __table_args__ = (UniqueConstraint("bot_id", "user_id", "key"),)
    bot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bots.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    platform_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("platform_users.id", ondelete="SET NULL")
    )  # the identity the note was told through
    key: Mapped[str] = mapped_column(String(255))
    value: Mapped[str] = mapped_column(Text)
