"""What the core writes for each event: the de-duplication ledger, platform users and
channels, sessions, messages and clicks. Every function runs inside the caller's transaction."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.events import ChannelRef, Event, UserRef
from store.models import Click, Message, PlatformChannel, PlatformUser, ProcessedEvent, UserSession
from store.upsert import insert_for, upsert


async def claim(session: AsyncSession, event: Event, now: datetime) -> ProcessedEvent | None:
    """Enter the event in the ledger; None if new, else the row of its earlier delivery."""
    statement = (
        insert_for(session, ProcessedEvent)
        .values(
            id=uuid.uuid4(),
            dedupe_key=event.dedupe_key,
            event_id=event.id,
            event_type=event.type,
            platform=event.platform,
            bot=event.bot,
            processed_at=now,
            result={},
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(ProcessedEvent.id)
    )
    if (await session.execute(statement)).first() is not None:
        return None
    query = select(ProcessedEvent).where(ProcessedEvent.dedupe_key == event.dedupe_key)
    return (await session.execute(query)).scalar_one()


async def save_result(session: AsyncSession, dedupe_key: str, result: dict[str, Any]) -> None:
    await session.execute(
        update(ProcessedEvent).where(ProcessedEvent.dedupe_key == dedupe_key).values(result=result)
    )


async def upsert_user(
    session: AsyncSession, platform: str, user: UserRef, seen: datetime
) -> uuid.UUID:
    values = {
        "id": uuid.uuid4(),
        "platform": platform,
        "external_id": user.id,
        "name": user.name,
        "display_name": user.display_name,
        "is_bot": user.is_bot,
        "locale": user.locale,
        "last_seen_at": seen,
        "created_at": seen,
        "updated_at": seen,
    }
    changed = ["name", "display_name", "is_bot", "locale", "last_seen_at", "updated_at"]
    statement = upsert(session, PlatformUser, values, ["platform", "external_id"], changed)
    return (await session.execute(statement.returning(PlatformUser.id))).scalar_one()


async def upsert_channel(
    session: AsyncSession, platform: str, channel: ChannelRef, now: datetime, *, authoritative: bool
) -> uuid.UUID:
    """`authoritative`: the event states the channel's type and name (inbound events do;
    the bot's own sends do not, so they never overwrite what an inbound event said)."""
    values = {
        "id": uuid.uuid4(),
        "platform": platform,
        "external_id": channel.id,
        "type": channel.type,
        "name": channel.name,
        "created_at": now,
        "updated_at": now,
    }
    changed = ["type", "name", "updated_at"] if authoritative else ["updated_at"]
    statement = upsert(session, PlatformChannel, values, ["platform", "external_id"], changed)
    return (await session.execute(statement.returning(PlatformChannel.id))).scalar_one()


async def touch_session(
    session: AsyncSession,
    bot_id: uuid.UUID,
    user_id: uuid.UUID,
    channel_id: uuid.UUID,
    at: datetime,
    idle_timeout: timedelta,
) -> uuid.UUID:
    """The open session of (bot, user, channel) at `at`; a new one after `idle_timeout`."""
    query = select(UserSession).where(
        UserSession.bot_id == bot_id,
        UserSession.platform_user_id == user_id,
        UserSession.platform_channel_id == channel_id,
        UserSession.ended_at.is_(None),
    )
    current = (await session.execute(query)).scalar_one_or_none()
    if current is not None and at - current.last_activity_at <= idle_timeout:
        current.last_activity_at = max(current.last_activity_at, at)
        return current.id
    if current is not None:
        current.ended_at = current.last_activity_at + idle_timeout
        await session.flush()
    opened = UserSession(
        bot_id=bot_id,
        platform_user_id=user_id,
        platform_channel_id=channel_id,
        started_at=at,
        last_activity_at=at,
        context={},
    )
    session.add(opened)
    await session.flush()
    return opened.id


async def insert_message(session: AsyncSession, values: dict[str, Any]) -> None:
    """One row per platform message: a second insert of the same message is ignored."""
    now = values["occurred_at"]
    row = {"id": uuid.uuid4(), "created_at": now, "updated_at": now, **values}
    statement = upsert(session, Message, row, ["platform_channel_id", "external_id"], [])
    await session.execute(statement)


async def edit_message(
    session: AsyncSession, channel_id: uuid.UUID, external_id: str, text: str, at: datetime
) -> None:
    await session.execute(
        update(Message)
        .where(Message.platform_channel_id == channel_id, Message.external_id == external_id)
        .values(text=text, edited_at=at, updated_at=at)
    )


async def mark_deleted(
    session: AsyncSession, channel_id: uuid.UUID, external_id: str, at: datetime
) -> None:
    await session.execute(
        update(Message)
        .where(Message.platform_channel_id == channel_id, Message.external_id == external_id)
        .values(deleted_at=at, updated_at=at)
    )


async def session_of_event(session: AsyncSession, event_id: uuid.UUID) -> uuid.UUID | None:
    """The session of the inbound message an event recorded (to file the bot's reply in it)."""
    query = select(Message.session_id).where(Message.event_id == event_id).limit(1)
    return (await session.execute(query)).scalar_one_or_none()


async def latest_session_in_channel(
    session: AsyncSession, bot_id: uuid.UUID, channel_id: uuid.UUID
) -> uuid.UUID | None:
    query = (
        select(UserSession.id)
        .where(
            UserSession.bot_id == bot_id,
            UserSession.platform_channel_id == channel_id,
            UserSession.ended_at.is_(None),
        )
        .order_by(UserSession.last_activity_at.desc())
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def insert_click(session: AsyncSession, values: dict[str, Any]) -> None:
    session.add(Click(**values))
