"""What the core writes for a batch of events: the de-duplication ledger, platform users and
channels, sessions, messages and clicks.

Set-based: each function is one statement (or one executemany) for the whole batch, not one
round trip per row. Keys are written in sorted order, so that concurrent consumers on
PostgreSQL lock rows in the same order and cannot deadlock. Every function runs inside the
caller's transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update

from gateway.events import ChannelRef, Event, UserRef
from gateway.ids import new_id
from store import bulk
from store.models import (
    Click,
    Message,
    PlatformChannel,
    PlatformUser,
    ProcessedEvent,
    User,
    UserSession,
)
from store.upsert import table_of

if TYPE_CHECKING:
    from store.database import CoreConnection

PlatformKey = tuple[str, str]  # (platform, external id)
ChannelKey = tuple[uuid.UUID, str, str]  # (bot, platform, external id): a chat as one bot sees it
SessionKey = tuple[uuid.UUID, uuid.UUID, uuid.UUID]  # (bot, platform user, platform channel)


_LEDGER_COLUMNS = (
    "id", "dedupe_key", "event_id", "event_type", "platform", "bot", "processed_at", "result"
)  # fmt: skip


async def claim(
    db: CoreConnection, events: Sequence[Event], now: datetime
) -> tuple[dict[str, uuid.UUID], dict[str, dict[str, Any]]]:
    """Enter the events in the ledger. Returns the keys claimed now (with their ledger row
    ids), and the stored result of every key that was claimed before."""
    rows: dict[str, tuple[Any, ...]] = {
        e.dedupe_key: (new_id(), e.dedupe_key, e.id, e.type, e.platform, e.bot, now, {})
        for e in reversed(events)  # the first delivery of a key in the batch wins
    }
    inserted = await bulk.insert_new(
        db,
        table_of(ProcessedEvent),
        [rows[key] for key in sorted(rows)],
        columns=_LEDGER_COLUMNS,
        conflict=["dedupe_key"],
        returning=["dedupe_key"],
    )
    claimed = {key: rows[key][0] for (key,) in inserted}
    if len(claimed) == len(rows):
        return claimed, {}
    earlier = set(rows) - set(claimed)
    query = select(ProcessedEvent.dedupe_key, ProcessedEvent.result).where(
        ProcessedEvent.dedupe_key.in_(earlier)
    )
    return claimed, {key: result for key, result in (await db.execute(query)).all()}


async def save_results(db: CoreConnection, results: dict[uuid.UUID, dict[str, Any]]) -> None:
    """Keep each claimed event's answer, by ledger row id."""
    rows = [{"id": row_id, "result": result} for row_id, result in results.items()]
    await bulk.update_by_id(db, table_of(ProcessedEvent), rows)


@dataclass(frozen=True)
class Speaker:
    """A platform user as the core knows it: the identity's row and its person's."""

    platform_user_id: uuid.UUID
    user_id: uuid.UUID


async def upsert_users(
    db: CoreConnection, users: Iterable[tuple[str, UserRef, datetime]]
) -> dict[PlatformKey, Speaker]:
    """Insert or refresh platform users; the last sighting of each in the batch wins. A new
    one gets a person (`users` row) in the same transaction: the identity is inserted with a
    fresh person id (the key is deferred to the commit) and the persons whose id came back
    are the new ones."""
    rows: dict[PlatformKey, dict[str, Any]] = {}
    for platform, user, seen in users:
        rows[(platform, user.id)] = {
            "id": new_id(),
            "platform": platform,
            "external_id": user.id,
            "name": user.name,
            "display_name": user.display_name,
            "is_bot": user.is_bot,
            "locale": user.locale,
            "user_id": new_id(),
            "last_seen_at": seen,
            "created_at": seen,
            "updated_at": seen,
        }
    if not rows:
        return {}
    changed = ["name", "display_name", "is_bot", "locale", "last_seen_at", "updated_at"]
    written = await bulk.insert(
        db,
        table_of(PlatformUser),
        [rows[key] for key in sorted(rows)],
        conflict=["platform", "external_id"],
        update=changed,
        returning=["platform", "external_id", "id", "user_id"],
    )
    speakers = {(p, external): Speaker(row_id, person) for p, external, row_id, person in written}
    await _add_persons(
        db, [row for key, row in rows.items() if speakers[key].user_id == row["user_id"]]
    )
    return speakers


async def _add_persons(db: CoreConnection, identities: list[dict[str, Any]]) -> None:
    persons = [
        {
            "id": row["user_id"],
            "name": row["display_name"] or row["name"],
            "is_active": True,
            "created_at": row["created_at"],
            "updated_at": row["created_at"],
        }
        for row in identities
    ]
    await bulk.insert(db, table_of(User), persons)


async def upsert_channels(
    db: CoreConnection,
    channels: Iterable[tuple[uuid.UUID, str, ChannelRef, bool]],
    now: datetime,
) -> dict[ChannelKey, uuid.UUID]:
    """Channels as each bot sees them, keyed (bot id, platform, external id). `authoritative`
    channels (from inbound events) set type and name; the bot's own sends do not know them,
    so they only make sure the row exists."""
    stated: dict[ChannelKey, dict[str, Any]] = {}
    unstated: dict[ChannelKey, dict[str, Any]] = {}
    for bot_id, platform, channel, authoritative in channels:
        row = {
            "id": new_id(),
            "bot_id": bot_id,
            "platform": platform,
            "external_id": channel.id,
            "type": channel.type,
            "name": channel.name,
            "created_at": now,
            "updated_at": now,
        }
        (stated if authoritative else unstated)[(bot_id, platform, channel.id)] = row
    ids = await _upsert_channels(db, stated, ["type", "name", "updated_at"])
    rest = {key: row for key, row in unstated.items() if key not in ids}
    return ids | await _upsert_channels(db, rest, ["updated_at"])


def _by_id_number(key: ChannelKey) -> tuple[int, str, str]:
    """The order of the keys' text (a UUID's text sorts as its number), without making it."""
    return (key[0].int, key[1], key[2])


async def _upsert_channels(
    db: CoreConnection, rows: dict[ChannelKey, dict[str, Any]], changed: list[str]
) -> dict[ChannelKey, uuid.UUID]:
    if not rows:
        return {}
    key = ["bot_id", "platform", "external_id"]
    written = await bulk.insert(
        db,
        table_of(PlatformChannel),
        [rows[k] for k in sorted(rows, key=_by_id_number)],
        conflict=key,
        update=changed,
        returning=[*key, "id"],
    )
    return {(bot_id, platform, external): row_id for bot_id, platform, external, row_id in written}


@dataclass
class _OpenSession:
    id: uuid.UUID
    last_activity_at: datetime
    is_new: bool
    ended_at: datetime | None = None


class SessionBook:
    """Finds or opens the session of each (bot, user, channel) at each event's time, in
    order, then writes every change in three statements."""

    def __init__(self, idle_timeout: timedelta) -> None:
        self.idle_timeout = idle_timeout
        self._open: dict[SessionKey, _OpenSession] = {}
        self._new: list[dict[str, Any]] = []
        self._closed: list[_OpenSession] = []

    async def load(self, db: CoreConnection, keys: set[SessionKey]) -> None:
        key_columns = ("bot_id", "platform_user_id", "platform_channel_id")
        found = await bulk.select_matching(
            db,
            table_of(UserSession),
            sorted(keys, key=_by_numbers),
            key_columns=key_columns,
            returning=(*key_columns, "id", "last_activity_at"),
            where="ended_at IS NULL",
        )
        for bot_id, user_id, channel_id, row_id, last in found:
            self._open[(bot_id, user_id, channel_id)] = _OpenSession(row_id, last, False)

    def touch(self, key: SessionKey, at: datetime) -> uuid.UUID:
        current = self._open.get(key)
        if current is not None and at - current.last_activity_at <= self.idle_timeout:
            current.last_activity_at = max(current.last_activity_at, at)
            return current.id
        if current is not None:
            current.ended_at = current.last_activity_at + self.idle_timeout
            self._closed.append(current)
        opened = _OpenSession(new_id(), at, True)
        self._open[key] = opened
        self._new.append({"key": key, "session": opened, "started_at": at})
        return opened.id

    async def flush(self, db: CoreConnection, now: datetime) -> None:
        sessions = table_of(UserSession)
        closed = [
            {"id": s.id, "ended_at": s.ended_at, "last_activity_at": s.last_activity_at}
            for s in self._closed
            if not s.is_new
        ]
        await bulk.update_by_id(db, sessions, _stamped(closed, now))  # first: one open at a time
        await bulk.insert(db, sessions, [self._new_row(entry, now) for entry in self._new])
        touched = [
            {"id": s.id, "last_activity_at": s.last_activity_at}
            for s in self._open.values()
            if not s.is_new
        ]
        await bulk.update_by_id(db, sessions, _stamped(touched, now))

    @staticmethod
    def _new_row(entry: dict[str, Any], now: datetime) -> dict[str, Any]:
        bot_id, user_id, channel_id = entry["key"]
        opened: _OpenSession = entry["session"]
        return {
            "id": opened.id,
            "bot_id": bot_id,
            "platform_user_id": user_id,
            "platform_channel_id": channel_id,
            "started_at": entry["started_at"],
            "last_activity_at": opened.last_activity_at,
            "ended_at": opened.ended_at,
            "context": {},
            "created_at": now,
            "updated_at": now,
        }


def _by_numbers(key: SessionKey) -> tuple[int, int, int]:
    """The order of the keys' ids (a UUID compares as its number), compared as numbers."""
    return (key[0].int, key[1].int, key[2].int)


def _stamped(rows: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    return [{**row, "updated_at": now} for row in rows]


MESSAGE_COLUMNS = (
    "id",
    "direction",
    "external_id",
    "platform_channel_id",
    "platform_user_id",
    "session_id",
    "bot_id",
    "event_id",
    "text",
    "thread_id",
    "reply_to_id",
    "attachments",
    "citations",
    "occurred_at",
    "created_at",
    "updated_at",
)


def _message_key(row: tuple[Any, ...]) -> tuple[int, str]:
    """(channel, external id): in the order of the channel id's text, without making it."""
    return (row[3].int, row[2])


async def insert_messages(
    db: CoreConnection, rows: list[tuple[Any, ...]]
) -> set[tuple[uuid.UUID, str]]:
    """One row per platform message (tuples of `MESSAGE_COLUMNS`): a second insert of the
    same message is ignored. Returns the (channel, external id) of the rows inserted now."""
    if not rows:
        return set()
    rows.sort(key=_message_key)
    key = ["platform_channel_id", "external_id"]
    inserted = await bulk.insert_new(
        db, table_of(Message), rows, columns=MESSAGE_COLUMNS, conflict=key, returning=key
    )
    return {(channel, external) for channel, external in inserted}


async def edit_message(
    db: CoreConnection, channel_id: uuid.UUID, external_id: str, text: str, at: datetime
) -> None:
    await _update_message(db, channel_id, external_id, text=text, edited_at=at, updated_at=at)


async def mark_deleted(
    db: CoreConnection, channel_id: uuid.UUID, external_id: str, at: datetime
) -> None:
    await _update_message(db, channel_id, external_id, deleted_at=at, updated_at=at)


async def _update_message(
    db: CoreConnection, channel_id: uuid.UUID, external_id: str, **values: Any
) -> None:
    await db.execute(
        update(Message)
        .where(Message.platform_channel_id == channel_id, Message.external_id == external_id)
        .values(**values)
    )


async def sessions_of_events(
    db: CoreConnection, event_ids: set[uuid.UUID]
) -> dict[uuid.UUID, uuid.UUID | None]:
    """The session of the inbound message each event recorded (to file the bot's reply in)."""
    rows = await bulk.select_matching(
        db,
        table_of(Message),
        [(event_id,) for event_id in sorted(event_ids)],
        key_columns=["event_id"],
        returning=["event_id", "session_id"],
    )
    return {event_id: session_id for event_id, session_id in rows if event_id is not None}


async def latest_session_in_channel(
    db: CoreConnection, bot_id: uuid.UUID, channel_id: uuid.UUID
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
    return (await db.execute(query)).scalar_one_or_none()


async def insert_clicks(db: CoreConnection, rows: list[dict[str, Any]]) -> None:
    if rows:
        await db.execute(insert(table_of(Click)), [{"id": new_id(), **row} for row in rows])
