"""Sends held back after a transient failure, and the leases that keep a bot's poller in one
process."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, IdMixin


class HeldSend(IdMixin, Base):
    """An action waiting for its conversation's lane to flow again, in `position` order.

    The first of a lane failed for a transient reason and is retried; the ones behind it
    arrived meanwhile and wait, so that a conversation's replies keep their order."""

    __tablename__ = "held_sends"
    __table_args__ = (Index("ix_held_sends_lane", "platform", "bot", "lane", "position"),)
    action_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    platform: Mapped[str] = mapped_column(String(32))
    bot: Mapped[str] = mapped_column(String(64))
    lane: Mapped[str] = mapped_column(String(600))
    position: Mapped[int] = mapped_column(BigInteger)
    body: Mapped[str] = mapped_column(Text)  # the action as it came off the bus
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    attempts: Mapped[int] = mapped_column(default=0)
    first_failed_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class Lease(Base):
    """Who holds a named job (a bot's poller) and until when; a holder renews it, and once it
    has expired another process may take it."""

    __tablename__ = "leases"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[datetime]
    expires_at: Mapped[datetime]
