"""The raw pipeline's batch writer: one transaction per batch, a few set-based statements.

It writes what botgate's core writes for a generic message and its reply: the
de-duplication ledger (with the reply stored as the result), the platform user and channel,
the open session, the inbound message, and for each `message.sent` the outbound message filed
in the session of the message it answers. Session expiry (idle timeout) is left out: a
benchmark conversation never idles for 30 minutes.

PostgreSQL goes through asyncpg with `unnest` arrays; SQLite through the standard `sqlite3`
module on one worker thread (`executemany`, then a select for the ids). Values are stored in
the formats SQLAlchemy uses, so the rows are the ones botgate would have written.
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import orjson

GENERIC = "AND platform = 'generic'"
RawEvent = dict[str, Any]  # see raw.py: "t" is "in" (message) or "out" (message.sent)


class Writer(Protocol):
    async def write(
        self, events: Sequence[RawEvent], settled: Sequence[RawEvent] = ()
    ) -> list[RawEvent]:
        """Record a batch in one transaction, with an owed-answer row for each new inbound
        event; settle the answers published since (`settled`: their owed rows go, their
        tool-call rows are written). The actions answering the batch's new inbound events."""
        ...

    async def record_sent(self, actions: Sequence[RawEvent]) -> None:
        """The send ledger: the actions the platform accepted, before they are acked."""
        ...

    async def close(self) -> None: ...


def answer(event: RawEvent, bot: str) -> RawEvent:
    return {
        "schema": "botgate.action/1",
        "id": str(uuid.uuid4()),
        "type": "message.send",
        "platform": "generic",
        "bot": bot,
        "channel_id": event["channel"],
        "text": "Sorry, I don't know that yet.",
        "in_reply_to": event["id"],
    }


def last_per_key(rows: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """One row per first column (an upsert may not touch a row twice in one statement)."""
    return list({row[0]: row for row in rows}.values())


async def open_writer(database_url: str, bot: str) -> Writer:
    if database_url.startswith("sqlite"):
        return await SqliteWriter.open(database_url.split("///", 1)[1], bot)
    return await PostgresWriter.open(database_url, bot)


class PostgresWriter:
    def __init__(self, connection: Any, ledger: Any, bot: str, bot_id: uuid.UUID) -> None:
        self.connection, self.ledger, self.bot, self.bot_id = connection, ledger, bot, bot_id

    @classmethod
    async def open(cls, url: str, bot: str) -> PostgresWriter:
        import asyncpg  # type: ignore[import-untyped]

        dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
        connection = await asyncpg.connect(dsn)
        ledger = await asyncpg.connect(dsn)  # the sender's, beside the batch writer's
        bot_id = await connection.fetchval("SELECT id FROM bots WHERE name = $1", bot)
        return cls(connection, ledger, bot, bot_id)

    async def close(self) -> None:
        await self.connection.close()
        await self.ledger.close()

    async def record_sent(self, actions: Sequence[RawEvent]) -> None:
        await self.ledger.execute(
            """INSERT INTO sent_actions (id, platform, bot, channel_id, message_id, sent_at)
               SELECT i, 'generic', $2, c, i::text, now()
               FROM unnest($1::uuid[], $3::text[]) AS x(i, c) ON CONFLICT (id) DO NOTHING""",
            [a["id"] for a in actions],
            self.bot,
            [a["channel_id"] for a in actions],
        )

    async def write(
        self, events: Sequence[RawEvent], settled: Sequence[RawEvent] = ()
    ) -> list[RawEvent]:
        now = datetime.now(UTC)
        actions = {e["id"]: answer(e, self.bot) for e in events if e["t"] == "in"}
        async with self.connection.transaction():
            await self._settle(settled, now)
            fresh = await self._claim(events, actions, now)
            channels = await self._channels(fresh, now)
            inbound = [e for e in fresh if e["t"] == "in"]
            users = await self._users(inbound, now)
            sessions = await self._sessions(inbound, users, channels, now)
            await self._messages_in(inbound, users, channels, sessions)
            await self._messages_out([e for e in fresh if e["t"] == "out"], channels)
            await self._owe(inbound, users, channels, sessions, now)
        return [actions[e["id"]] for e in fresh if e["id"] in actions]

    async def _owe(
        self,
        events: Sequence[RawEvent],
        users: dict[str, Any],
        channels: dict[str, Any],
        sessions: dict[tuple[Any, Any], Any],
        now: datetime,
    ) -> None:
        if not events:
            return
        await self.connection.execute(
            """INSERT INTO outbox (id, event_id, bot_id, conversation_key, event, refs,
                 owner, claimed_until, attempts, created_at)
               SELECT i, i, $2, k, e::jsonb, r::jsonb, 'raw', $3, 1, $4
               FROM unnest($1::uuid[], $5::text[], $6::text[], $7::text[]) AS x(i, k, e, r)""",
            [e["id"] for e in events],
            self.bot_id,
            now + timedelta(seconds=10),
            now,
            [f"generic:{self.bot}:{e['channel']}" for e in events],
            [orjson.dumps(e).decode() for e in events],
            [_refs(users[e["user"]], channels[e["channel"]], sessions) for e in events],
        )

    async def _settle(self, settled: Sequence[RawEvent], now: datetime) -> None:
        if not settled:
            return
        ids = [e["id"] for e in settled]
        await self.connection.execute("DELETE FROM outbox WHERE id = ANY($1::uuid[])", ids)
        await self.connection.execute(
            """INSERT INTO tool_calls (id, bot_id, event_id, tool, args, outcome, duration_ms,
                 created_at)
               SELECT gen_random_uuid(), $2, i, 'fallback', '', 'ok', 0, $3
               FROM unnest($1::uuid[]) AS x(i)""",
            ids,
            self.bot_id,
            now,
        )

    async def _claim(
        self, events: Sequence[RawEvent], actions: dict[str, RawEvent], now: datetime
    ) -> list[RawEvent]:
        results = [
            orjson.dumps({"actions": [actions[e["id"]]]} if e["id"] in actions else {}).decode()
            for e in events
        ]
        claimed = await self.connection.fetch(
            """INSERT INTO processed_events
                 (id, dedupe_key, event_id, event_type, platform, bot, processed_at, result)
               SELECT gen_random_uuid(), k, i, t, 'generic', $4, $5, r::jsonb
               FROM unnest($1::text[], $2::uuid[], $3::text[], $6::text[]) AS x(k, i, t, r)
               ON CONFLICT (dedupe_key) DO NOTHING RETURNING dedupe_key""",
            [e["key"] for e in events],
            [e["id"] for e in events],
            ["message.created" if e["t"] == "in" else "message.sent" for e in events],
            self.bot,
            now,
            results,
        )
        keys = {row[0] for row in claimed}
        return list({e["key"]: e for e in events if e["key"] in keys}.values())

    async def _channels(self, events: Sequence[RawEvent], now: datetime) -> dict[str, Any]:
        rows = last_per_key([(e["channel"], e.get("channel_type", "direct")) for e in events])
        found = await self.connection.fetch(
            """INSERT INTO platform_channels (id, bot_id, platform, external_id, type,
                 created_at, updated_at)
               SELECT gen_random_uuid(), $4, 'generic', c, t, $3, $3
               FROM unnest($1::text[], $2::text[]) AS x(c, t)
               ON CONFLICT (bot_id, platform, external_id)
                 DO UPDATE SET updated_at = EXCLUDED.updated_at
               RETURNING external_id, id""",
            [r[0] for r in rows],
            [r[1] for r in rows],
            now,
            self.bot_id,
        )
        return {row[0]: row[1] for row in found}

    async def _users(self, events: Sequence[RawEvent], now: datetime) -> dict[str, Any]:
        rows = last_per_key([(e["user"], e.get("user_name")) for e in events])
        found = await self.connection.fetch(
            """WITH identity AS (
                 INSERT INTO platform_users (id, platform, external_id, name, is_bot, user_id,
                   last_seen_at, created_at, updated_at)
                 SELECT gen_random_uuid(), 'generic', u, n, false, gen_random_uuid(), $3, $3, $3
                 FROM unnest($1::text[], $2::text[]) AS x(u, n)
                 ON CONFLICT (platform, external_id) DO UPDATE SET name = EXCLUDED.name,
                   last_seen_at = EXCLUDED.last_seen_at, updated_at = EXCLUDED.updated_at
                 RETURNING external_id, id, user_id, name, xmax = 0 AS inserted),
               person AS (
                 INSERT INTO users (id, name, is_active, created_at, updated_at)
                 SELECT user_id, name, true, $3, $3 FROM identity WHERE inserted)
               SELECT external_id, id FROM identity""",
            [r[0] for r in rows],
            [r[1] for r in rows],
            now,
        )
        return {row[0]: row[1] for row in found}

    async def _sessions(
        self,
        events: Sequence[RawEvent],
        users: dict[str, Any],
        channels: dict[str, Any],
        now: datetime,
    ) -> dict[tuple[Any, Any], Any]:
        pairs = list({(users[e["user"]], channels[e["channel"]]) for e in events})
        found = await self.connection.fetch(
            """INSERT INTO user_sessions (id, bot_id, platform_user_id, platform_channel_id,
                 started_at, last_activity_at, context, created_at, updated_at)
               SELECT gen_random_uuid(), $3, u, c, $4, $4, '{}'::jsonb, $4, $4
               FROM unnest($1::uuid[], $2::uuid[]) AS x(u, c)
               ON CONFLICT (bot_id, platform_user_id, platform_channel_id)
                 WHERE ended_at IS NULL
               DO UPDATE SET last_activity_at = EXCLUDED.last_activity_at,
                 updated_at = EXCLUDED.updated_at
               RETURNING platform_user_id, platform_channel_id, id""",
            [p[0] for p in pairs],
            [p[1] for p in pairs],
            self.bot_id,
            now,
        )
        return {(row[0], row[1]): row[2] for row in found}

    async def _messages_in(
        self,
        events: Sequence[RawEvent],
        users: dict[str, Any],
        channels: dict[str, Any],
        sessions: dict[tuple[Any, Any], Any],
    ) -> None:
        rows = [
            (
                e["mid"],
                channels[e["channel"]],
                users[e["user"]],
                sessions[(users[e["user"]], channels[e["channel"]])],
                e["id"],
                e["text"],
                datetime.fromtimestamp(e["at"], UTC),
            )
            for e in events
        ]
        await self._insert_messages("in", rows)

    async def _messages_out(self, events: Sequence[RawEvent], channels: dict[str, Any]) -> None:
        if not events:
            return
        found = await self.connection.fetch(
            "SELECT event_id, session_id FROM messages WHERE event_id = ANY($1::uuid[])",
            [e["in_reply_to"] for e in events],
        )
        session_of = {str(row[0]): row[1] for row in found}
        rows = [
            (
                e["mid"],
                channels[e["channel"]],
                None,
                session_of.get(e["in_reply_to"]),
                e["id"],
                e["text"],
                datetime.fromtimestamp(e["at"], UTC),
            )
            for e in events
        ]
        await self._insert_messages("out", rows)

    async def _insert_messages(self, direction: str, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        columns = list(zip(*rows, strict=True))
        await self.connection.execute(
            """INSERT INTO messages (id, direction, external_id, platform_channel_id,
                 platform_user_id, session_id, bot_id, event_id, text, attachments, occurred_at,
                 created_at, updated_at)
               SELECT gen_random_uuid(), $1, m, c, u, s, $2, e, t, '[]'::jsonb, o, o, o
               FROM unnest($3::text[], $4::uuid[], $5::uuid[], $6::uuid[], $7::uuid[],
                 $8::text[], $9::timestamptz[]) AS x(m, c, u, s, e, t, o)
               ON CONFLICT (platform_channel_id, external_id) DO NOTHING""",
            direction,
            self.bot_id,
            *columns,
        )


def _refs(user: Any, channel: Any, sessions: dict[tuple[Any, Any], Any]) -> str:
    return orjson.dumps(
        {"user": str(user), "channel": str(channel), "session": str(sessions[(user, channel)])}
    ).decode()


def _hex(value: str) -> str:
    """SQLAlchemy's `Uuid` on SQLite: 32 hex digits."""
    return uuid.UUID(value).hex


def _stamp(moment: float) -> str:
    """SQLAlchemy's `DateTime` on SQLite."""
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


class SqliteWriter:
    """sqlite3 on one thread: the batch is one `BEGIN … COMMIT` of `executemany` calls.

    Every call goes to the same single thread, so closing waits for a write still under way
    (a cancelled `await` does not stop its thread; closing beside it would crash sqlite3)."""

    def __init__(
        self, connection: sqlite3.Connection, bot: str, bot_id: str, thread: ThreadPoolExecutor
    ) -> None:
        self.connection, self.bot, self.bot_id, self.thread = connection, bot, bot_id, thread

    @classmethod
    async def open(cls, path: str, bot: str) -> SqliteWriter:
        thread = ThreadPoolExecutor(1, thread_name_prefix="raw-sqlite")
        connection = await asyncio.get_running_loop().run_in_executor(thread, _connect, path)
        row = connection.execute("SELECT id FROM bots WHERE name = ?", (bot,)).fetchone()
        return cls(connection, bot, row[0], thread)

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self.thread, self.connection.close)
        self.thread.shutdown()

    async def write(
        self, events: Sequence[RawEvent], settled: Sequence[RawEvent] = ()
    ) -> list[RawEvent]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.thread, self._write, events, settled)

    async def record_sent(self, actions: Sequence[RawEvent]) -> None:
        await asyncio.get_running_loop().run_in_executor(self.thread, self._record_sent, actions)

    def _record_sent(self, actions: Sequence[RawEvent]) -> None:
        now = _stamp(datetime.now(UTC).timestamp())
        self.connection.executemany(
            "INSERT INTO sent_actions (id, platform, bot, channel_id, message_id, sent_at)"
            " VALUES (?, 'generic', ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
            [(_hex(a["id"]), self.bot, a["channel_id"], a["id"], now) for a in actions],
        )

    def _write(self, events: Sequence[RawEvent], settled: Sequence[RawEvent]) -> list[RawEvent]:
        now = _stamp(datetime.now(UTC).timestamp())
        actions = {e["id"]: answer(e, self.bot) for e in events if e["t"] == "in"}
        db = self.connection
        db.execute("BEGIN")
        try:
            self._settle(db, settled, now)
            fresh = self._claim(db, events, actions, now)
            channels = self._channels(db, fresh, now)
            inbound = [e for e in fresh if e["t"] == "in"]
            users = self._users(db, inbound, now)
            sessions = self._sessions(db, inbound, users, channels, now)
            self._messages(db, inbound, users, channels, sessions, fresh)
            self._owe(db, inbound, users, channels, sessions, now)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return [actions[e["id"]] for e in fresh if e["id"] in actions]

    def _owe(
        self,
        db: sqlite3.Connection,
        events: Sequence[RawEvent],
        users: dict[str, str],
        channels: dict[str, str],
        sessions: dict[tuple[str, str], str],
        now: str,
    ) -> None:
        later = _stamp(datetime.now(UTC).timestamp() + 10)
        db.executemany(
            "INSERT INTO outbox (id, event_id, bot_id, conversation_key, event, refs, owner,"
            " claimed_until, attempts, created_at) VALUES (?, ?, ?, ?, ?, ?, 'raw', ?, 1, ?)",
            [
                (
                    _hex(e["id"]),
                    _hex(e["id"]),
                    self.bot_id,
                    f"generic:{self.bot}:{e['channel']}",
                    orjson.dumps(e).decode(),
                    _refs(users[e["user"]], channels[e["channel"]], sessions),
                    later,
                    now,
                )
                for e in events
            ],
        )

    def _settle(self, db: sqlite3.Connection, settled: Sequence[RawEvent], now: str) -> None:
        if not settled:
            return
        ids = [_hex(e["id"]) for e in settled]
        db.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in ids])
        db.executemany(
            "INSERT INTO tool_calls (id, bot_id, event_id, tool, args, outcome, duration_ms,"
            " created_at) VALUES (?, ?, ?, 'fallback', '', 'ok', 0, ?)",
            [(uuid.uuid4().hex, self.bot_id, i, now) for i in ids],
        )

    def _claim(
        self,
        db: sqlite3.Connection,
        events: Sequence[RawEvent],
        actions: dict[str, RawEvent],
        now: str,
    ) -> list[RawEvent]:
        keys = [e["key"] for e in events]
        seen = {row[0] for row in _select_in(db, "processed_events", "dedupe_key", keys)}
        fresh = list({e["key"]: e for e in events if e["key"] not in seen}.values())
        db.executemany(
            "INSERT INTO processed_events (id, dedupe_key, event_id, event_type, platform, bot,"
            " processed_at, result) VALUES (?, ?, ?, ?, 'generic', ?, ?, ?)",
            [
                (
                    uuid.uuid4().hex,
                    e["key"],
                    _hex(e["id"]),
                    "message.created" if e["t"] == "in" else "message.sent",
                    self.bot,
                    now,
                    orjson.dumps({"actions": [actions[e["id"]]]} if e["id"] in actions else {}),
                )
                for e in fresh
            ],
        )
        return fresh

    def _channels(
        self, db: sqlite3.Connection, events: Sequence[RawEvent], now: str
    ) -> dict[str, str]:
        rows = last_per_key([(e["channel"], e.get("channel_type", "direct")) for e in events])
        db.executemany(
            "INSERT INTO platform_channels (id, bot_id, platform, external_id, type, created_at,"
            " updated_at) VALUES (?, ?, 'generic', ?, ?, ?, ?)"
            " ON CONFLICT (bot_id, platform, external_id)"
            " DO UPDATE SET updated_at = excluded.updated_at",
            [(uuid.uuid4().hex, self.bot_id, c, t, now, now) for c, t in rows],
        )
        found = _select_in(
            db,
            "platform_channels",
            "external_id",
            [r[0] for r in rows],
            "id",
            f"{GENERIC} AND bot_id = '{self.bot_id}'",
        )
        return {row[0]: row[1] for row in found}

    def _users(
        self, db: sqlite3.Connection, events: Sequence[RawEvent], now: str
    ) -> dict[str, str]:
        rows = last_per_key([(e["user"], e.get("user_name")) for e in events])
        db.executemany(
            "INSERT INTO platform_users (id, platform, external_id, name, is_bot, user_id,"
            " last_seen_at, created_at, updated_at) VALUES (?, 'generic', ?, ?, 0, ?, ?, ?, ?)"
            " ON CONFLICT (platform, external_id) DO UPDATE SET name = excluded.name,"
            " last_seen_at = excluded.last_seen_at, updated_at = excluded.updated_at",
            [(uuid.uuid4().hex, u, n, uuid.uuid4().hex, now, now, now) for u, n in rows],
        )
        found = _select_in(
            db, "platform_users", "external_id", [r[0] for r in rows], "id, user_id", GENERIC
        )
        persons = [person for _, _, person in found]
        marks = ", ".join("?" * len(persons))
        db.execute(
            "INSERT INTO users (id, name, is_active, created_at, updated_at)"  # noqa: S608
            f" SELECT user_id, name, 1, ?, ? FROM platform_users WHERE user_id IN ({marks})"
            " AND NOT EXISTS (SELECT 1 FROM users WHERE users.id = platform_users.user_id)",
            [now, now, *persons],
        )
        return {row[0]: row[1] for row in found}

    def _sessions(
        self,
        db: sqlite3.Connection,
        events: Sequence[RawEvent],
        users: dict[str, str],
        channels: dict[str, str],
        now: str,
    ) -> dict[tuple[str, str], str]:
        pairs = list({(users[e["user"]], channels[e["channel"]]) for e in events})
        db.executemany(
            "INSERT INTO user_sessions (id, bot_id, platform_user_id, platform_channel_id,"
            " started_at, last_activity_at, context, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, '{}', ?, ?)"
            " ON CONFLICT (bot_id, platform_user_id, platform_channel_id) WHERE ended_at IS NULL"
            " DO UPDATE SET last_activity_at = excluded.last_activity_at,"
            " updated_at = excluded.updated_at",
            [(uuid.uuid4().hex, self.bot_id, u, c, now, now, now, now) for u, c in pairs],
        )
        found = _select_in(
            db,
            "user_sessions",
            "platform_user_id",
            [p[0] for p in pairs],
            "platform_channel_id, id",
            "AND ended_at IS NULL",
        )
        return {(row[0], row[1]): row[2] for row in found}

    def _messages(
        self,
        db: sqlite3.Connection,
        inbound: Sequence[RawEvent],
        users: dict[str, str],
        channels: dict[str, str],
        sessions: dict[tuple[str, str], str],
        fresh: Sequence[RawEvent],
    ) -> None:
        rows: list[tuple[str, RawEvent, str, str | None, str | None]] = []
        for e in inbound:
            user, channel = users[e["user"]], channels[e["channel"]]
            rows.append(("in", e, channel, user, sessions[(user, channel)]))
        outbound = [e for e in fresh if e["t"] == "out"]
        replied = [_hex(e["in_reply_to"]) for e in outbound]
        session_of = dict(_select_in(db, "messages", "event_id", replied, "session_id"))
        for e in outbound:
            rows.append(
                ("out", e, channels[e["channel"]], None, session_of.get(_hex(e["in_reply_to"])))
            )
        db.executemany(
            "INSERT INTO messages (id, direction, external_id, platform_channel_id,"
            " platform_user_id, session_id, bot_id, event_id, text, attachments, occurred_at,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '[]', ?, ?, ?)"
            " ON CONFLICT (platform_channel_id, external_id) DO NOTHING",
            [
                (
                    uuid.uuid4().hex,
                    d,
                    e["mid"],
                    c,
                    u,
                    s,
                    self.bot_id,
                    _hex(e["id"]),
                    e["text"],
                    _stamp(e["at"]),
                    _stamp(e["at"]),
                    _stamp(e["at"]),
                )
                for d, e, c, u, s in rows
            ],
        )


def _select_in(
    db: sqlite3.Connection,
    table: str,
    column: str,
    values: Sequence[str],
    also: str = "",
    where: str = "",
) -> list[tuple[Any, ...]]:
    if not values:
        return []
    selected = f"{column}, {also}" if also else column
    marks = ", ".join("?" * len(values))
    sql = f"SELECT {selected} FROM {table} WHERE {column} IN ({marks}) {where}"  # noqa: S608
    return db.execute(sql, list(values)).fetchall()


def _connect(path: str) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for pragma in (
        "journal_mode=WAL",
        "synchronous=NORMAL",
        "foreign_keys=ON",
        "busy_timeout=30000",
    ):
        connection.execute(f"PRAGMA {pragma}")
    return connection
