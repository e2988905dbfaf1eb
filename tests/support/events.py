"""Events and row counts for tests of the core."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from gateway.events import ChannelRef, Event, MessageBody, UserRef, utcnow
from store.database import Database

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=utcnow().tzinfo)


def inbound(
    n: int,
    *,
    user: str = "alice",
    channel: str = "room",
    at: datetime = T0,
    kind: str = "direct",
    text: str = "hi",
    key: str | None = None,
) -> Event:
    return Event(
        type="message.created",
        platform="generic",
        bot="helpdesk",
        dedupe_key=key or f"generic:helpdesk:event:{n}",
        occurred_at=at,
        conversation_key=f"generic:helpdesk:{channel}",
        user=UserRef(id=user, name=user),
        channel=ChannelRef(id=channel, type=kind),  # type: ignore[arg-type]
        message=MessageBody(id=str(n), text=text),
    )


def sent(answering: Event, message_id: str) -> Event:
    return Event(
        type="message.sent",
        platform="generic",
        bot="helpdesk",
        dedupe_key=f"generic:helpdesk:sent:{message_id}",
        occurred_at=answering.occurred_at,
        conversation_key=answering.conversation_key,
        channel=ChannelRef(id=answering.channel.id),
        message=MessageBody(id=message_id, text="reply", in_reply_to=answering.id),
    )


async def count(db: Database, model: type) -> int:
    async with db.transaction() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())
