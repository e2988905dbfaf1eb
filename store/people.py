"""People and what bots keep about them: notes, preferences, the tools attached to a session,
and joining identities with one-time codes. Plain values in and out; each function runs in the
caller's transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import (
    BasicTool,
    BotMemory,
    LoginFailure,
    PlatformUser,
    SessionToolAssociation,
    User,
    UserLoginToken,
    UserPreference,
)
from store.upsert import upsert

LANGUAGE = "language"
NOTE_PREFIX = "note:"


async def language(session: AsyncSession, user_id: uuid.UUID) -> str | None:
    query = select(UserPreference.value).where(
        UserPreference.user_id == user_id, UserPreference.key == LANGUAGE
    )
    value = (await session.execute(query)).scalar_one_or_none()
    return value if isinstance(value, str) else None


async def set_preference(session: AsyncSession, user_id: uuid.UUID, key: str, value: Any) -> None:
    row = {"id": uuid.uuid4(), "user_id": user_id, "key": key, "value": value}
    statement = upsert(session, UserPreference, ["user_id", "key"], ["value", "updated_at"])
    await session.execute(statement.values(**row))


# -- notes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Note:
    key: str
    text: str


async def notes(session: AsyncSession, bot_id: uuid.UUID, user_id: uuid.UUID) -> list[Note]:
    query = (
        select(BotMemory.key, BotMemory.value)
        .where(
            BotMemory.bot_id == bot_id,
            BotMemory.user_id == user_id,
            BotMemory.key.startswith(NOTE_PREFIX),
        )
        .order_by(BotMemory.created_at, BotMemory.key)
    )
    return [Note(key, text) for key, text in (await session.execute(query)).all()]


async def add_note(
    session: AsyncSession,
    bot_id: uuid.UUID,
    user_id: uuid.UUID,
    platform_user_id: uuid.UUID | None,
    key: str,
    text: str,
) -> bool:
    """Keep a note under `key` (the call that made it): False when that call already did."""
    row = {
        "id": uuid.uuid4(),
        "bot_id": bot_id,
        "user_id": user_id,
        "platform_user_id": platform_user_id,
        "key": NOTE_PREFIX + key,
        "value": text,
    }
    statement = upsert(session, BotMemory, ["bot_id", "user_id", "key"], [])
    result = await session.execute(statement.values(**row).returning(BotMemory.id))
    return result.scalar_one_or_none() is not None


async def forget_notes(
    session: AsyncSession, bot_id: uuid.UUID, user_id: uuid.UUID, keys: list[str]
) -> None:
    await session.execute(
        delete(BotMemory).where(
            BotMemory.bot_id == bot_id, BotMemory.user_id == user_id, BotMemory.key.in_(keys)
        )
    )


# -- tools attached to a session ---------------------------------------------------------------


async def session_tools(session: AsyncSession, session_id: uuid.UUID) -> list[str]:
    query = (
        select(BasicTool.name)
        .join(SessionToolAssociation, SessionToolAssociation.tool_id == BasicTool.id)
        .where(SessionToolAssociation.session_id == session_id)
        .order_by(SessionToolAssociation.created_at)
    )
    return list((await session.execute(query)).scalars())


async def attach_tools(
    session: AsyncSession, session_id: uuid.UUID, bot_id: uuid.UUID, names: list[str]
) -> list[str]:
    """Attach the bot's tools named to one session; returns the names it knows."""
    query = select(BasicTool.id, BasicTool.name).where(
        BasicTool.bot_id == bot_id, BasicTool.name.in_(names)
    )
    tools = (await session.execute(query)).all()
    statement = upsert(session, SessionToolAssociation, ["session_id", "tool_id"], [])
    for tool_id, _ in tools:
        row = {"id": uuid.uuid4(), "session_id": session_id, "tool_id": tool_id}
        await session.execute(statement.values(**row))
    return [name for _, name in tools]


# -- joining identities --------------------------------------------------------------------


class Redeemed(Enum):
    JOINED = "joined"
    ALREADY = "already"  # the code's person is this identity's person already
    REFUSED = "refused"  # wrong, used, expired, or of another organization


async def issue_code(
    session: AsyncSession,
    user_id: uuid.UUID,
    organization_id: uuid.UUID,
    code_hash: str,
    expires_at: datetime,
) -> None:
    session.add(
        UserLoginToken(
            user_id=user_id,
            token_hash=code_hash,
            purpose="link",
            organization_id=organization_id,
            expires_at=expires_at,
        )
    )


async def failures_since(
    session: AsyncSession, platform_user_id: uuid.UUID, since: datetime
) -> int:
    query = select(func.count()).where(
        LoginFailure.platform_user_id == platform_user_id, LoginFailure.created_at >= since
    )
    return int((await session.execute(query)).scalar_one())


async def redeem_code(
    session: AsyncSession,
    code_hash: str,
    organization_id: uuid.UUID,
    platform_user_id: uuid.UUID,
    now: datetime,
) -> Redeemed:
    """Join this identity (and its person's other identities, notes, preferences) to the
    person who asked for the code. A refusal is recorded against the identity and changes
    nothing else."""
    claimed = await session.execute(
        update(UserLoginToken)
        .where(
            UserLoginToken.token_hash == code_hash,
            UserLoginToken.purpose == "link",
            UserLoginToken.organization_id == organization_id,
            UserLoginToken.used_at.is_(None),
            UserLoginToken.expires_at > now,
        )
        .values(used_at=now, updated_at=now)
        .returning(UserLoginToken.user_id)
    )
    keep = claimed.scalar_one_or_none()
    if keep is None:
        session.add(LoginFailure(platform_user_id=platform_user_id, created_at=now))
        return Redeemed.REFUSED
    gone = await person_of(session, platform_user_id)
    if gone == keep:
        return Redeemed.ALREADY
    await merge_persons(session, keep, gone, now)
    return Redeemed.JOINED


async def person_of(session: AsyncSession, platform_user_id: uuid.UUID) -> uuid.UUID:
    query = select(PlatformUser.user_id).where(PlatformUser.id == platform_user_id)
    return (await session.execute(query)).scalar_one()


async def merge_persons(
    session: AsyncSession, keep: uuid.UUID, gone: uuid.UUID, now: datetime
) -> None:
    """Everything of `gone` becomes `keep`'s; where both have a preference, `keep`'s stays."""
    await session.execute(
        update(PlatformUser).where(PlatformUser.user_id == gone).values(user_id=keep)
    )
    await session.execute(update(BotMemory).where(BotMemory.user_id == gone).values(user_id=keep))
    kept_keys = select(UserPreference.key).where(UserPreference.user_id == keep)
    await session.execute(
        delete(UserPreference).where(
            UserPreference.user_id == gone, UserPreference.key.in_(kept_keys)
        )
    )
    await session.execute(
        update(UserPreference).where(UserPreference.user_id == gone).values(user_id=keep)
    )
    await session.execute(
        update(User).where(User.id == gone).values(is_active=False, updated_at=now)
    )


async def unlink(session: AsyncSession, platform_user_id: uuid.UUID, now: datetime) -> bool:
    """Give the identity a person of its own again; False when it has no other identity to
    part from. Notes and preferences stay with the person they belonged to."""
    person = await person_of(session, platform_user_id)
    query = select(func.count()).where(PlatformUser.user_id == person)
    if int((await session.execute(query)).scalar_one()) < 2:
        return False
    name = (
        await session.execute(
            select(func.coalesce(PlatformUser.display_name, PlatformUser.name)).where(
                PlatformUser.id == platform_user_id
            )
        )
    ).scalar_one()
    fresh = User(id=uuid.uuid4(), name=name, is_active=True, created_at=now, updated_at=now)
    session.add(fresh)
    await session.flush()
    await session.execute(
        update(PlatformUser)
        .where(PlatformUser.id == platform_user_id)
        .values(user_id=fresh.id, updated_at=now)
    )
    return True
