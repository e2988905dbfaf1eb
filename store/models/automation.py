"""BASIC tools, the tools a session has loaded, and scheduled or triggered automations."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, IdMixin, TimestampMixin


class BasicTool(IdMixin, TimestampMixin, Base):
    """A tool as one bot has it, mirrored from the tool registry at start: every tool the
    registry knows, active where the bot lists it (a session may still attach the others)."""

    __tablename__ = "basic_tools"
    __table_args__ = (UniqueConstraint("bot_id", "name"),)
    bot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bots.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16), default="")  # builtin | http | bus | python
    description: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(Text, default="")  # url, entry point, or a program
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    is_active: Mapped[bool] = mapped_column(default=True)


class SessionToolAssociation(IdMixin, TimestampMixin, Base):
    __tablename__ = "session_tool_associations"
    __table_args__ = (UniqueConstraint("session_id", "tool_id"),)
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_sessions.id", ondelete="CASCADE")
    )
    tool_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("basic_tools.id", ondelete="CASCADE"))


class SystemAutomation(IdMixin, TimestampMixin, Base):
    __tablename__ = "system_automations"
    bot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bots.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # 'schedule' | 'event'
    schedule: Mapped[str | None] = mapped_column(String(128))  # cron expression
    trigger: Mapped[str | None] = mapped_column(String(256))  # routing-key pattern
    tool_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("basic_tools.id", ondelete="SET NULL")
    )
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    is_active: Mapped[bool] = mapped_column(default=True)
    last_run_at: Mapped[datetime | None]
