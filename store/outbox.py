"""Owed answers (the `outbox`), the send ledger and the tool-call log.

An owed answer is written in the transaction that records its event and deleted, with the
event's result and the tool calls it made, once the answer is published. Its claim
(`owner`, `claimed_until`) is renewed while its owner works on it; an answer whose claim ran
out (its owner crashed) is claimed by another owner, or by the same one restarted.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select, update

from store import bulk
from store.models import OwedAnswer, ProcessedEvent, SentAction, ToolCallRecord
from store.upsert import table_of

if TYPE_CHECKING:
    from store.database import CoreConnection


@dataclass(frozen=True)
class Owed:
    """An owed answer as read back: the event is still its JSON."""

    id: uuid.UUID
    conversation_key: str
    event: dict[str, Any]
    refs: dict[str, Any]
    reply_to: str | None
    traceparent: str | None
    attempts: int


_READ_BACK = (  # what an owed answer is read back with (`Owed`)
    OwedAnswer.id,
    OwedAnswer.conversation_key,
    OwedAnswer.event,
    OwedAnswer.refs,
    OwedAnswer.reply_to,
    OwedAnswer.traceparent,
    OwedAnswer.attempts,
)

OWED_COLUMNS = (  # what `owe` writes, in this order
    "id",
    "event_id",
    "bot_id",
    "conversation_key",
    "event",
    "refs",
    "reply_to",
    "traceparent",
    "owner",
    "claimed_until",
    "attempts",
    "created_at",
)


async def owe(db: CoreConnection, rows: list[tuple[Any, ...]]) -> None:
    """Write owed answers: tuples of `OWED_COLUMNS` (`event` may be an orjson.Fragment)."""
    await bulk.insert(db, table_of(OwedAnswer), rows, columns=OWED_COLUMNS)


async def settle(
    db: CoreConnection,
    answered: Sequence[uuid.UUID],
    results: dict[uuid.UUID, dict[str, Any]],
    tool_calls: list[dict[str, Any]],
) -> None:
    """Answers published: forget them, keep each event's result (by ledger row id) and the
    tool calls made."""
    rows = [{"id": row_id, "result": result} for row_id, result in results.items()]
    await bulk.write_together(  # independent: three tables (one round trip on PostgreSQL)
        db,
        bulk.deleting_by_id(db, table_of(OwedAnswer), list(answered)),
        bulk.updating_by_id(db, table_of(ProcessedEvent), rows),
        bulk.inserting(db, table_of(ToolCallRecord), tool_calls),
    )


async def log_tool_calls(db: CoreConnection, tool_calls: list[dict[str, Any]]) -> None:
    await bulk.insert(db, table_of(ToolCallRecord), tool_calls)


async def renew(db: CoreConnection, owner: str, until: datetime) -> None:
    await db.execute(
        update(OwedAnswer).where(OwedAnswer.owner == owner).values(claimed_until=until)
    )


async def release(db: CoreConnection, owner: str, now: datetime) -> None:
    """An owner stopping hands its unanswered rows to whoever starts next."""
    await db.execute(update(OwedAnswer).where(OwedAnswer.owner == owner).values(claimed_until=now))


async def claim_expired(
    db: CoreConnection, owner: str, now: datetime, until: datetime, limit: int
) -> list[Owed]:
    """Claim up to `limit` answers whose claim ran out, oldest first."""
    oldest = (
        select(OwedAnswer.id)
        .where(OwedAnswer.claimed_until < now)
        .order_by(OwedAnswer.created_at, OwedAnswer.id)
        .limit(limit)
    )
    ids = list((await db.execute(oldest)).scalars())
    return await _claim(db, ids, owner, now, until)


async def owed_in_conversation(
    db: CoreConnection, conversation_key: str, owner: str, mine: uuid.UUID
) -> list[tuple[uuid.UUID, datetime, bool]]:
    """Answers owed in a conversation under another owner's claim: (id, claimed until,
    recorded before the owed row `mine`), oldest first."""
    recorded = select(OwedAnswer.created_at).where(OwedAnswer.id == mine).scalar_subquery()
    query = (
        select(OwedAnswer.id, OwedAnswer.claimed_until, OwedAnswer.created_at < recorded)
        .where(OwedAnswer.conversation_key == conversation_key, OwedAnswer.owner != owner)
        .order_by(OwedAnswer.created_at, OwedAnswer.id)
    )
    return [
        (row_id, until, bool(before)) for row_id, until, before in (await db.execute(query)).all()
    ]


async def claim(
    db: CoreConnection, ids: Sequence[uuid.UUID], owner: str, now: datetime, until: datetime
) -> list[Owed]:
    """Claim these answers where their claim ran out; the ones claimed, oldest first."""
    return await _claim(db, list(ids), owner, now, until)


async def _claim(
    db: CoreConnection, ids: list[uuid.UUID], owner: str, now: datetime, until: datetime
) -> list[Owed]:
    if not ids:
        return []
    # The expiry is checked again on the row itself: of two owners racing, one gets it.
    await db.execute(
        update(OwedAnswer)
        .where(
            OwedAnswer.id.in_(ids),
            or_(OwedAnswer.claimed_until < now, OwedAnswer.owner == owner),
        )
        .values(owner=owner, claimed_until=until, attempts=OwedAnswer.attempts + 1)
    )
    query = (
        select(*_READ_BACK)
        .where(OwedAnswer.id.in_(ids), OwedAnswer.owner == owner)
        .order_by(OwedAnswer.created_at, OwedAnswer.id)
    )
    return [Owed(*row) for row in (await db.execute(query)).all()]


# -- the send ledger -------------------------------------------------------------------------


async def already_sent(
    db: CoreConnection, action_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, str | None]:
    """Of these actions, the ones the platform accepted before: action id -> message id."""
    rows = await bulk.select_matching(
        db,
        table_of(SentAction),
        [(action_id,) for action_id in action_ids],
        key_columns=["id"],
        returning=["id", "message_id"],
    )
    return {action_id: message_id for action_id, message_id in rows}


async def record_sent(db: CoreConnection, rows: list[dict[str, Any]]) -> None:
    await bulk.insert(db, table_of(SentAction), rows, conflict=["id"])
