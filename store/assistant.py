"""What the assistant reads and writes: a session's recent messages, and the tokens a bot
spent on a day. Plain values in and out; each function runs in the caller's transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import AssistantUsage, Message
from store.upsert import table_of


@dataclass(frozen=True)
class Said:
    direction: str  # 'in' (the person) | 'out' (the bot)
    text: str


async def history(
    session: AsyncSession, session_id: uuid.UUID, limit: int, leave_out: uuid.UUID | None
) -> list[Said]:
    """The session's last `limit` messages, oldest first, without deleted ones and without the
    message of the event `leave_out` (the one being answered)."""
    if limit <= 0:
        return []
    query = (
        select(Message.direction, Message.text)
        .where(
            Message.session_id == session_id,
            Message.deleted_at.is_(None),
            Message.text != "",
        )
        .order_by(Message.occurred_at.desc(), Message.id.desc())
        .limit(limit)
    )
    if leave_out is not None:
        query = query.where((Message.event_id != leave_out) | Message.event_id.is_(None))
    rows = (await session.execute(query)).all()
    return [Said(direction, text) for direction, text in reversed(rows)]


async def tokens_spent(session: AsyncSession, bot_id: uuid.UUID, day: date) -> int:
    query = select(func.coalesce(AssistantUsage.tokens_in + AssistantUsage.tokens_out, 0)).where(
        AssistantUsage.bot_id == bot_id, AssistantUsage.day == day
    )
    return int((await session.execute(query)).scalar_one_or_none() or 0)


async def spend(
    session: AsyncSession, bot_id: uuid.UUID, day: date, tokens_in: int, tokens_out: int
) -> None:
    """Add one request's tokens to the bot's day (concurrent cores add up, none is lost)."""
    table = table_of(AssistantUsage)
    module: Any = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = (
        module.insert(table)
        .values(
            id=uuid.uuid4(),
            bot_id=bot_id,
            day=day,
            requests=1,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
        )
        .on_conflict_do_update(
            index_elements=["bot_id", "day"],
            set_={
                "requests": table.c.requests + 1,
                "tokens_in": table.c.tokens_in + tokens_in,
                "tokens_out": table.c.tokens_out + tokens_out,
                "updated_at": func.now(),
            },
        )
    )
    await session.execute(statement)
