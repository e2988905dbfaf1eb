"""Erasing a person: everything kept about them, on every platform, in the caller's
transaction. Others' messages in the same chats stay."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from sqlalchemy import CursorResult, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.history import identities, sessions_of
from store.models import (
    BotMemory,
    Click,
    DeadLetter,
    HeldSend,
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
    to them and replies to them still held for sending, clicks, notes, tool calls, sessions,
    preferences, login codes, dead letters, platform identities and the person.
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
    event_ids = {str(event) for event in (await session.execute(events)).scalars()}
    counts = {  # the owed answers go before the messages that name their events
        "held_sends": await _delete_held_replies(session, event_ids),
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


async def _delete_held_replies(session: AsyncSession, event_ids: set[str]) -> int:
    """Replies to their messages still waiting to be sent (held only through a platform's
    outage, so few): never sent now."""
    held = await session.execute(select(HeldSend.id, HeldSend.body))
    doomed = [row_id for row_id, body in held if _replies_to(body) in event_ids]
    return await _delete(session, HeldSend, HeldSend.id.in_(doomed)) if doomed else 0


def _replies_to(body: str) -> str | None:
    try:
        action = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    reply_to = action.get("in_reply_to") if isinstance(action, dict) else None
    return reply_to if isinstance(reply_to, str) else None


async def _delete(session: AsyncSession, model: Any, where: Any) -> int:
    result = await session.execute(delete(model).where(where))
    assert isinstance(result, CursorResult)
    return int(result.rowcount)
