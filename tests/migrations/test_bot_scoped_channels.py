"""Migration 0002 on a database written by the schema before it: channels shared by two bots
are split per bot with each bot's rows, every platform user gets a person, nothing is lost;
the downgrade merges them back, or refuses when the merge would lose messages."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.config import DatabaseConfig
from store import migrate
from store.database import Database

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
META = sa.MetaData()


# Columns the old schema requires that a test row does not care about.
DEFAULTS: dict[str, dict[str, Any]] = {
    "bots": {"description": "", "is_active": True},
    "platform_bots": {"credentials": "", "settings": {}, "state": {}, "is_active": True},
    "platform_users": {"is_bot": False},
    "user_sessions": {"started_at": NOW, "last_activity_at": NOW, "context": {}},
    "messages": {"attachments": [], "occurred_at": NOW},
}


def _table(name: str, *columns: str, uuids: tuple[str, ...] = ("id",)) -> sa.Table:
    kinds: dict[str, sa.types.TypeEngine[Any]] = {c: sa.String() for c in columns}
    kinds |= {c: sa.Uuid() for c in uuids}
    for column, value in DEFAULTS.get(name, {}).items():
        kinds[column] = _kind(value)
    defaults = DEFAULTS.get(name, {})
    return sa.Table(
        name, META, *(sa.Column(c, kind, default=defaults.get(c)) for c, kind in kinds.items())
    )


def _kind(value: Any) -> sa.types.TypeEngine[Any]:
    if isinstance(value, bool):
        return sa.Boolean()
    if isinstance(value, datetime):
        return sa.DateTime(timezone=True)
    if isinstance(value, dict | list):
        return sa.JSON()
    return sa.String()


def _ids(*names: str) -> tuple[str, ...]:
    return ("id", *names)


ORGS = _table("organizations", "id", "name")
BOTS = _table("bots", "id", "organization_id", "name", uuids=_ids("organization_id"))
PLATFORM_BOTS = _table("platform_bots", "id", "bot_id", "platform", uuids=_ids("bot_id"))
USERS = _table("platform_users", "id", "platform", "external_id", "name")
CHANNELS = _table("platform_channels", "id", "platform", "external_id", "type")
SESSIONS = _table(
    "user_sessions",
    "id",
    "bot_id",
    "platform_user_id",
    "platform_channel_id",
    uuids=_ids("bot_id", "platform_user_id", "platform_channel_id"),
)
MESSAGES = _table(
    "messages",
    "id",
    "direction",
    "external_id",
    "platform_channel_id",
    "platform_user_id",
    "session_id",
    "bot_id",
    "text",
    uuids=_ids("platform_channel_id", "platform_user_id", "session_id", "bot_id"),
)
CLICKS = _table(
    "clicks",
    "id",
    "bot_id",
    "platform_channel_id",
    "interaction_id",
    uuids=_ids("bot_id", "platform_channel_id"),
)


class Old:
    """Ids of what the previous schema's data holds."""

    org, first, second = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    alice, bob = uuid.uuid4(), uuid.uuid4()
    private, group, idle = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


async def _insert(connection: AsyncConnection, table: sa.Table, *rows: dict[str, Any]) -> None:
    await connection.execute(sa.insert(table), list(rows))


async def _fill_previous_version(connection: AsyncConnection) -> None:
    """What the schema at 0001 held after two Telegram bots talked to one person."""
    await _insert(connection, ORGS, {"id": Old.org, "name": "acme"})
    await _insert(
        connection,
        BOTS,
        {"id": Old.first, "organization_id": Old.org, "name": "first"},
        {"id": Old.second, "organization_id": Old.org, "name": "second"},
    )
    await _insert(
        connection,
        PLATFORM_BOTS,
        {"id": uuid.uuid4(), "bot_id": Old.first, "platform": "telegram"},
        {"id": uuid.uuid4(), "bot_id": Old.second, "platform": "telegram"},
    )
    await _insert(
        connection,
        USERS,
        {"id": Old.alice, "platform": "telegram", "external_id": "100", "name": "alice"},
        {"id": Old.bob, "platform": "telegram", "external_id": "200", "name": "bob"},
    )
    await _insert(
        connection,
        CHANNELS,
        {"id": Old.private, "platform": "telegram", "external_id": "100", "type": "direct"},
        {"id": Old.group, "platform": "telegram", "external_id": "-5", "type": "group"},
        {"id": Old.idle, "platform": "telegram", "external_id": "-6", "type": "group"},
    )
    sessions = {bot: uuid.uuid4() for bot in (Old.first, Old.second)}
    await _insert(
        connection,
        SESSIONS,
        *(
            {
                "id": session,
                "bot_id": bot,
                "platform_user_id": Old.alice,
                "platform_channel_id": Old.private,
            }
            for bot, session in sessions.items()
        ),
    )
    await _insert(
        connection,
        MESSAGES,
        _message("1", Old.private, Old.first, sessions[Old.first]),
        _message("2", Old.private, Old.second, sessions[Old.second]),
        _message("3", Old.private, Old.first, sessions[Old.first], direction="out"),
        _message("9", Old.group, Old.first, None, user=Old.bob),
    )
    await _insert(
        connection,
        CLICKS,
        {
            "id": uuid.uuid4(),
            "bot_id": Old.second,
            "platform_channel_id": Old.private,
            "interaction_id": "more",
        },
    )


def _message(
    external: str,
    channel: uuid.UUID,
    bot: uuid.UUID,
    session: uuid.UUID | None,
    *,
    direction: str = "in",
    user: uuid.UUID | None = Old.alice,
) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "direction": direction,
        "external_id": external,
        "platform_channel_id": channel,
        "platform_user_id": user if direction == "in" else None,
        "session_id": session,
        "bot_id": bot,
        "text": f"message {external}",
    }


@pytest.fixture
async def old_database(database_url: str) -> AsyncIterator[Database]:
    db = Database(DatabaseConfig(url=database_url))
    await migrate.upgrade(db.engine, "0001")
    async with db.engine.begin() as connection:
        await _fill_previous_version(connection)
    yield db
    await db.close()


async def _rows(db: Database, sql: str) -> list[sa.Row[Any]]:
    async with db.engine.connect() as connection:
        return list((await connection.execute(sa.text(sql))).all())


async def _count(db: Database, table: str) -> int:
    return int((await _rows(db, f"SELECT count(*) FROM {table}"))[0][0])  # noqa: S608


def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


async def _channel_owner(db: Database) -> dict[tuple[str, uuid.UUID], uuid.UUID]:
    rows = await _rows(db, "SELECT external_id, bot_id, id FROM platform_channels")
    return {(external, _uuid(bot)): _uuid(row_id) for external, bot, row_id in rows}


async def test_upgrade_splits_shared_channels_and_keeps_every_row(old_database: Database) -> None:
    db = old_database
    before = {t: await _count(db, t) for t in ("messages", "user_sessions", "clicks")}
    await migrate.upgrade(db.engine)

    owners = await _channel_owner(db)
    assert set(owners) == {
        ("100", Old.first),
        ("100", Old.second),
        ("-5", Old.first),
        ("-6", Old.first),  # used by no bot: the first bot on its platform, by name
    }
    assert owners[("100", Old.first)] == Old.private  # the first owner keeps the row
    assert {t: await _count(db, t) for t in before} == before
    placed = await _rows(db, "SELECT external_id, platform_channel_id, bot_id FROM messages")
    for external, channel, bot in placed:
        expected = "-5" if external == "9" else "100"
        assert owners[(expected, _uuid(bot))] == _uuid(channel), external
    for table in ("user_sessions", "clicks"):
        for channel, bot in await _rows(db, f"SELECT platform_channel_id, bot_id FROM {table}"):  # noqa: S608
            assert owners[("100", _uuid(bot))] == _uuid(channel), table

    persons = await _rows(
        db, "SELECT p.external_id, u.name FROM platform_users p JOIN users u ON u.id = p.user_id"
    )
    assert sorted(persons) == [("100", "alice"), ("200", "bob")]
    assert (await migrate.status(db.engine)).up_to_date


async def test_downgrade_merges_split_channels_back(old_database: Database) -> None:
    db = old_database
    await migrate.upgrade(db.engine)
    await migrate.downgrade(db.engine, "0001")

    channels = await _rows(db, "SELECT external_id, id FROM platform_channels")
    assert sorted(e for e, _ in channels) == ["-5", "-6", "100"]
    private = {_uuid(i) for e, i in channels if e == "100"}
    assert private == {Old.private}
    rows = await _rows(db, "SELECT platform_channel_id FROM messages WHERE external_id != '9'")
    assert {_uuid(r[0]) for r in rows} == private
    assert await _count(db, "messages") == 4
    assert await _count(db, "users") == 2  # persons stay; the old schema allows them


async def test_downgrade_refuses_when_two_bots_hold_the_same_message(
    old_database: Database,
) -> None:
    db = old_database
    await migrate.upgrade(db.engine)
    owners = await _channel_owner(db)
    async with db.engine.begin() as connection:
        for bot in (Old.first, Old.second):
            await _insert(connection, MESSAGES, _message("7", owners[("100", bot)], bot, None))

    with pytest.raises(Exception, match="several bots recorded message 7"):
        await migrate.downgrade(db.engine, "0001")

    assert (await migrate.status(db.engine)).up_to_date  # still at the head
    assert len(await _channel_owner(db)) == 4
    assert await _count(db, "messages") == 6
