"""BASIC tools, the tools a session has loaded, and scheduled or triggered automations."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
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
    """An `[[automations]]` entry, mirrored from the configuration on start (by name); one
    no longer configured stays, inactive, with its runs."""

    __tablename__ = "system_automations"
    bot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bots.id", ondelete="CASCADE"), index=True)
    name: Mapped[str | None] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(32))  # 'schedule' | 'event'
    schedule: Mapped[str | None] = mapped_column(String(128))  # cron expression
    timezone: Mapped[str | None] = mapped_column(String(64))  # of the schedule
    trigger: Mapped[str | None] = mapped_column(String(256))  # routing-key pattern
    tool_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("basic_tools.id", ondelete="SET NULL")
    )
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    is_active: Mapped[bool] = mapped_column(default=True)
    last_run_at: Mapped[datetime | None]


class AutomationRun(IdMixin, TimestampMixin, Base):
    """One firing of an automation. The unique (automation, firing) row is the claim: of
    several core processes that see the same firing, the one whose insert lands runs it."""

    __tablename__ = "automation_runs"
    __table_args__ = (
        UniqueConstraint("automation_id", "firing"),
        Index("ix_automation_runs_automation_time", "automation_id", "scheduled_at"),
    )
    automation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("system_automations.id", ondelete="CASCADE")
    )
    firing: Mapped[str] = mapped_column(String(128))  # the scheduled time, or 'event:<id>'
    scheduled_at: Mapped[datetime]  # the schedule's time, or when the event occurred
    event_id: Mapped[uuid.UUID | None]
    status: Mapped[str] = mapped_column(String(16))  # 'running' | 'succeeded' | 'failed'
    started_at: Mapped[datetime] = mapped_column(index=True)
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    runner: Mapped[str] = mapped_column(String(128))  # host:pid of the process that ran it
