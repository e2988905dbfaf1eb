"""bot-scoped channels, a person behind every platform user

Revision ID: 0002
Revises: 0001

Upgrade: `platform_channels` gets `bot_id` and is unique on (bot_id, platform, external_id). An
existing channel goes to the bot its messages, sessions and clicks belong to; a channel that
several bots used is split into one row per bot, each bot's rows moving with it; a channel no
bot used goes to a bot on its platform. Every platform user without a person gets a `users`
row. No row is lost.

Downgrade: channels split per bot are merged back into one row per (platform, external_id),
unless two bots recorded the same platform message id in one chat (they would collide on
`messages`): then it refuses, naming the chat, and changes nothing. `users` rows stay.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_now = sa.DateTime(timezone=True)
channels = sa.table(
    "platform_channels",
    sa.column("id", sa.Uuid()),
    sa.column("bot_id", sa.Uuid()),
    sa.column("platform", sa.String()),
    sa.column("external_id", sa.String()),
    sa.column("type", sa.String()),
    sa.column("name", sa.String()),
    sa.column("created_at", _now),
    sa.column("updated_at", _now),
)
users = sa.table(
    "users",
    sa.column("id", sa.Uuid()),
    sa.column("name", sa.String()),
    sa.column("is_active", sa.Boolean()),
    sa.column("created_at", _now),
    sa.column("updated_at", _now),
)
platform_users = sa.table(
    "platform_users",
    sa.column("id", sa.Uuid()),
    sa.column("name", sa.String()),
    sa.column("display_name", sa.String()),
    sa.column("user_id", sa.Uuid()),
)
bots = sa.table("bots", sa.column("id", sa.Uuid()), sa.column("name", sa.String()))
platform_bots = sa.table(
    "platform_bots", sa.column("bot_id", sa.Uuid()), sa.column("platform", sa.String())
)
# The rows that say which bot used a channel, and move with that bot when it is split.
USES = {
    name: sa.table(
        name,
        sa.column("platform_channel_id", sa.Uuid()),
        sa.column("bot_id", sa.Uuid()),
        sa.column("external_id", sa.String()) if name == "messages" else sa.column("id"),
    )
    for name in ("messages", "user_sessions", "clicks")
}


class DowngradeRefused(RuntimeError):
    """The downgrade would lose data; nothing was changed."""


def upgrade() -> None:
    with op.batch_alter_table("platform_channels") as batch:
        batch.add_column(sa.Column("bot_id", sa.Uuid(), nullable=True))
        batch.drop_constraint("uq_platform_channels_platform_external_id", type_="unique")
    _assign_channels(op.get_bind())
    with op.batch_alter_table("platform_channels") as batch:
        batch.alter_column("bot_id", existing_type=sa.Uuid(), nullable=False)
        batch.create_unique_constraint(
            "uq_platform_channels_bot_id_platform_external_id",
            ["bot_id", "platform", "external_id"],
        )
        batch.create_foreign_key(
            "fk_platform_channels_bot_id_bots", "bots", ["bot_id"], ["id"], ondelete="CASCADE"
        )
    _give_everyone_a_person(op.get_bind())
    with op.batch_alter_table("platform_users") as batch:
        batch.drop_constraint("fk_platform_users_user_id_users", type_="foreignkey")
        batch.alter_column("user_id", existing_type=sa.Uuid(), nullable=False)
        batch.create_foreign_key(
            "fk_platform_users_user_id_users",
            "users",
            ["user_id"],
            ["id"],
            ondelete="CASCADE",
            deferrable=True,
            initially="DEFERRED",
        )


def downgrade() -> None:
    _merge_channels(op.get_bind())
    with op.batch_alter_table("platform_users") as batch:
        batch.drop_constraint("fk_platform_users_user_id_users", type_="foreignkey")
        batch.alter_column("user_id", existing_type=sa.Uuid(), nullable=True)
        batch.create_foreign_key(
            "fk_platform_users_user_id_users", "users", ["user_id"], ["id"], ondelete="SET NULL"
        )
    with op.batch_alter_table("platform_channels") as batch:
        batch.drop_constraint("fk_platform_channels_bot_id_bots", type_="foreignkey")
        batch.drop_constraint("uq_platform_channels_bot_id_platform_external_id", type_="unique")
        batch.create_unique_constraint(
            "uq_platform_channels_platform_external_id", ["platform", "external_id"]
        )
        batch.drop_column("bot_id")


# -- upgrade ---------------------------------------------------------------------------------


def _assign_channels(bind: sa.Connection) -> None:
    used_by = _bots_using_channels(bind)
    fallback = _bot_per_platform(bind)
    names = dict(bind.execute(sa.select(bots.c.id, bots.c.name)).all())
    rows = bind.execute(sa.select(channels).order_by(channels.c.created_at, channels.c.id)).all()
    for row in rows:
        owners = sorted(used_by.get(row.id, ()), key=lambda bot: names.get(bot, ""))
        if not owners:
            owners = [_fallback_bot(fallback, row.platform, row.external_id)]
        first, *others = owners
        bind.execute(sa.update(channels).where(channels.c.id == row.id).values(bot_id=first))
        for bot_id in others:
            _split_off(bind, row, bot_id)


def _bots_using_channels(bind: sa.Connection) -> dict[uuid.UUID, set[uuid.UUID]]:
    used_by: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    for table in USES.values():
        query = (
            sa.select(table.c.platform_channel_id, table.c.bot_id)
            .where(table.c.platform_channel_id.is_not(None), table.c.bot_id.is_not(None))
            .distinct()
        )
        for channel_id, bot_id in bind.execute(query):
            used_by[channel_id].add(bot_id)
    return used_by


def _bot_per_platform(bind: sa.Connection) -> dict[str | None, uuid.UUID]:
    """For channels no bot used: a bot on that platform, else any bot (by name)."""
    fallback: dict[str | None, uuid.UUID] = {}
    query = (
        sa.select(platform_bots.c.platform, bots.c.id)
        .select_from(bots.outerjoin(platform_bots, platform_bots.c.bot_id == bots.c.id))
        .order_by(bots.c.name)
    )
    for platform, bot_id in bind.execute(query):
        fallback.setdefault(platform, bot_id)
        fallback.setdefault(None, bot_id)
    return fallback


def _fallback_bot(fallback: dict[str | None, uuid.UUID], platform: str, external: str) -> uuid.UUID:
    bot_id = fallback.get(platform) or fallback.get(None)
    if bot_id is None:
        raise RuntimeError(
            f"channel {platform}:{external} belongs to no bot and the database has no bots; "
            "start botgate once with its bots configured (it records them), then migrate again"
        )
    return bot_id


def _split_off(bind: sa.Connection, row: sa.Row[tuple[object, ...]], bot_id: uuid.UUID) -> None:
    """A copy of the channel for `bot_id`, taking that bot's messages, sessions and clicks.
    It is younger than the original, which a downgrade keeps."""
    new_id, now = uuid.uuid4(), datetime.now(UTC)
    copy = {column: getattr(row, column) for column in row._fields}
    bind.execute(
        sa.insert(channels).values(
            {**copy, "id": new_id, "bot_id": bot_id, "created_at": now, "updated_at": now}
        )
    )
    for table in USES.values():
        bind.execute(
            sa.update(table)
            .where(table.c.platform_channel_id == row.id, table.c.bot_id == bot_id)
            .values(platform_channel_id=new_id)
        )


def _give_everyone_a_person(bind: sa.Connection) -> None:
    now = datetime.now(UTC)
    orphans = bind.execute(
        sa.select(platform_users.c.id, platform_users.c.name, platform_users.c.display_name).where(
            platform_users.c.user_id.is_(None)
        )
    ).all()
    for platform_user_id, name, display_name in orphans:
        person = uuid.uuid4()
        person_row = {
            "id": person,
            "name": display_name or name,
            "is_active": True,
            "created_at": now,
            "updated_at": now,
        }
        bind.execute(sa.insert(users).values(person_row))
        bind.execute(
            sa.update(platform_users)
            .where(platform_users.c.id == platform_user_id)
            .values(user_id=person)
        )


# -- downgrade -------------------------------------------------------------------------------


def _merge_channels(bind: sa.Connection) -> None:
    groups: dict[tuple[str, str], list[uuid.UUID]] = defaultdict(list)
    query = sa.select(channels.c.platform, channels.c.external_id, channels.c.id).order_by(
        channels.c.created_at, channels.c.id
    )
    for platform, external_id, channel_id in bind.execute(query):
        groups[(platform, external_id)].append(channel_id)
    shared = {key: ids for key, ids in groups.items() if len(ids) > 1}
    for (platform, external_id), ids in shared.items():
        _refuse_if_messages_collide(bind, platform, external_id, ids)
    for ids in shared.values():
        kept, *merged = ids
        for table in USES.values():
            bind.execute(
                sa.update(table)
                .where(table.c.platform_channel_id.in_(merged))
                .values(platform_channel_id=kept)
            )
        bind.execute(sa.delete(channels).where(channels.c.id.in_(merged)))


def _refuse_if_messages_collide(
    bind: sa.Connection, platform: str, external_id: str, ids: list[uuid.UUID]
) -> None:
    messages = USES["messages"]
    clash = bind.execute(
        sa.select(messages.c.external_id)
        .where(messages.c.platform_channel_id.in_(ids))
        .group_by(messages.c.external_id)
        .having(sa.func.count() > 1)
        .limit(1)
    ).first()
    if clash is not None:
        raise DowngradeRefused(
            f"cannot downgrade below 0002: in chat {platform}:{external_id} several bots "
            f"recorded message {clash[0]}, which the older schema keeps only once; nothing "
            "was changed (export or remove those messages first)"
        )
