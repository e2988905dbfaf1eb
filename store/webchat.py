"""A web chat visitor's conversation as the page shows it on (re)connect."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import Bot, Message, PlatformChannel

PLATFORM = "webchat"


async def conversation(
    session: AsyncSession, bot: str, visitor: str, limit: int
) -> list[tuple[str, str, str, datetime]]:
    """The newest `limit` messages of `visitor` with `bot` (not deleted), oldest first:
    (external_id, direction, text, occurred_at)."""
    if limit <= 0:
        return []
    channel: Any = (
        select(PlatformChannel.id)
        .join(Bot, Bot.id == PlatformChannel.bot_id)
        .where(
            Bot.name == bot,
            PlatformChannel.platform == PLATFORM,
            PlatformChannel.external_id == visitor,
        )
        .scalar_subquery()
    )
    query = (
        select(Message.external_id, Message.direction, Message.text, Message.occurred_at)
        .where(Message.platform_channel_id == channel, Message.deleted_at.is_(None))
        .order_by(Message.occurred_at.desc(), Message.id.desc())
        .limit(limit)
    )
    rows = (await session.execute(query)).all()
    return [(row[0], row[1], row[2], row[3]) for row in reversed(rows)]
