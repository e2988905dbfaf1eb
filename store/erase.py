"""Erasing a person: everything kept about them, on every platform, in the caller's
transaction. Others' messages in the same chats stay."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import CursorResult, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.history import identities, sessions_of
from store.models import (
    BotMemory,
    Click,
    DeadLetter,
    Message,
    OwedAnswer,
    PlatformUser,
    ProcessedEvent,
    ToolCallRecord,
    User,
    UserLoginToken,
    UserPreference,
    UserSession,
)


async def exists(session: AsyncSession, person: uuid.UUID) -> bool:
    return await session.get(User, person) is not None


async def erase_person(session: AsyncSession, person: uuid.UUID) -> dict[str, int]:
    """Delete the person's messages (and the bot's replies in their sessions), answers owed
    to them, clicks, notes, tool calls, sessions, preferences, login codes, dead letters,
    platform identities and the person.
    Returns how many rows of each went."""
    ids = list((await session.execute(identities(person))).scalars())
    keys = [
        f"{platform}:{external}"
        for platform, external in await session.execute(
            select(PlatformUser.platform, PlatformUser.external_id).where(PlatformUser.id.in_(ids))
        )
    ]
    theirs = (Message.platform_user_id.in_(ids)) | (
        Message.session_id.in_(sessions_of(person)) & (Message.direction == "out")
    )
    events = select(Message.event_id).where(theirs, Message.event_id.is_not(None))
    counts = {  # the owed answers go before the messages that name their events
        "owed_answers": await _delete(session, OwedAnswer, OwedAnswer.event_id.in_(events)),
        "processed_events": await _delete(
            session, ProcessedEvent, ProcessedEvent.event_id.in_(events)
        ),
        "messages": await _delete(session, Message, theirs),
        "clicks": await _delete(session, Click, Click.platform_user_id.in_(ids)),
        "notes": await _delete(
            session,
            BotMemory,
            (BotMemory.user_id == person) | BotMemory.platform_user_id.in_(ids),
        ),
        "tool_calls": await _delete(session, ToolCallRecord, ToolCallRecord.user_id == person),
        "sessions": await _delete(session, UserSession, UserSession.platform_user_id.in_(ids)),
        "preferences": await _delete(session, UserPreference, UserPreference.user_id == person),
        "login_tokens": await _delete(session, UserLoginToken, UserLoginToken.user_id == person),
        "dead_letters": await _delete(session, DeadLetter, DeadLetter.user_key.in_(keys)),
        "identities": await _delete(session, PlatformUser, PlatformUser.id.in_(ids)),
        "people": await _delete(session, User, User.id == person),
    }
    return counts


async def _delete(session: AsyncSession, model: Any, where: Any) -> int:
    result = await session.execute(delete(model).where(where))
    assert isinstance(result, CursorResult)
    return int(result.rowcount)
