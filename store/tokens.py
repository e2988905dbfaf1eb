"""API tokens: only a SHA-256 hash of each is stored, never the token."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import ApiToken


async def create(
    session: AsyncSession, name: str, token_hash: str, scope: str, expires_at: datetime | None
) -> ApiToken:
    row = ApiToken(name=name, token_hash=token_hash, scopes=[scope], expires_at=expires_at)
    session.add(row)
    await session.flush()
    return row


async def by_name(session: AsyncSession, name: str) -> ApiToken | None:
    return (
        await session.execute(select(ApiToken).where(ApiToken.name == name))
    ).scalar_one_or_none()


async def by_hash(session: AsyncSession, token_hash: str) -> ApiToken | None:
    query = select(ApiToken).where(ApiToken.token_hash == token_hash)
    return (await session.execute(query)).scalar_one_or_none()


async def all_tokens(session: AsyncSession) -> Sequence[ApiToken]:
    return (await session.execute(select(ApiToken).order_by(ApiToken.name))).scalars().all()


async def revoke(session: AsyncSession, name: str, now: datetime) -> bool:
    """False when there is no such token or it was revoked already."""
    result = await session.execute(
        update(ApiToken)
        .where(ApiToken.name == name, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now, updated_at=now)
        .returning(ApiToken.id)
    )
    return result.first() is not None


async def touch(session: AsyncSession, name: str, now: datetime) -> None:
    await session.execute(update(ApiToken).where(ApiToken.name == name).values(last_used_at=now))
