"""tools: owed answers (outbox), the send ledger, tool calls, notes per person, link codes

Revision ID: 0003
Revises: 0002

Notes (`bot_memories`) move from the platform identity to the person behind it; the downgrade
moves them back to the identity they were told through.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    _create_outbox()
    op.create_table(
        "sent_actions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("bot", sa.String(length=64), nullable=False),
        sa.Column("channel_id", sa.String(length=256), nullable=False),
        sa.Column("message_id", sa.String(length=256), nullable=True),
        sa.Column("sent_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sent_actions")),
    )
    op.create_index(op.f("ix_sent_actions_sent_at"), "sent_actions", ["sent_at"])
    _create_tool_calls()
    op.create_table(
        "login_failures",
        sa.Column("platform_user_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["platform_user_id"],
            ["platform_users.id"],
            name=op.f("fk_login_failures_platform_user_id_platform_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    op.create_index(
        "ix_login_failures_identity_time", "login_failures", ["platform_user_id", "created_at"]
    )
    with op.batch_alter_table("basic_tools") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default=""))
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("citations", JSON, nullable=False, server_default="[]"))
    with op.batch_alter_table("user_login_tokens") as batch:
        batch.add_column(sa.Column("purpose", sa.String(16), nullable=False, server_default="link"))
        batch.add_column(sa.Column("organization_id", sa.Uuid(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_user_login_tokens_organization_id_organizations"),
            "organizations",
            ["organization_id"],
            ["id"],
            ondelete="CASCADE",
        )
    _notes_to_persons()


def downgrade() -> None:
    _notes_to_identities()
    with op.batch_alter_table("user_login_tokens") as batch:
        batch.drop_constraint(
            op.f("fk_user_login_tokens_organization_id_organizations"), type_="foreignkey"
        )
        batch.drop_column("organization_id")
        batch.drop_column("purpose")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("citations")
    with op.batch_alter_table("basic_tools") as batch:
        batch.drop_column("kind")
    op.drop_index("ix_login_failures_identity_time", table_name="login_failures")
    op.drop_table("login_failures")
    op.drop_index("ix_tool_calls_bot_time", table_name="tool_calls")
    op.drop_index(op.f("ix_tool_calls_session_id"), table_name="tool_calls")
    op.drop_index(op.f("ix_tool_calls_user_id"), table_name="tool_calls")
    op.drop_table("tool_calls")
    op.drop_index(op.f("ix_sent_actions_sent_at"), table_name="sent_actions")
    op.drop_table("sent_actions")
    op.drop_index(op.f("ix_outbox_claimed_until"), table_name="outbox")
    op.drop_index(op.f("ix_outbox_conversation_key"), table_name="outbox")
    op.drop_table("outbox")


def _create_outbox() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("bot_id", sa.Uuid(), nullable=False),
        sa.Column("conversation_key", sa.String(length=1024), nullable=False),
        sa.Column("event", JSON, nullable=False),
        sa.Column("refs", JSON, nullable=False),
        sa.Column("reply_to", sa.String(length=255), nullable=True),
        sa.Column("traceparent", sa.String(length=64), nullable=True),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("claimed_until", TIME, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["bot_id"], ["bots.id"], name=op.f("fk_outbox_bot_id_bots"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.create_index(op.f("ix_outbox_claimed_until"), "outbox", ["claimed_until"])
    op.create_index(op.f("ix_outbox_conversation_key"), "outbox", ["conversation_key"])


def _create_tool_calls() -> None:
    op.create_table(
        "tool_calls",
        sa.Column("bot_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=True),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("event_id", sa.Uuid(), nullable=True),
        sa.Column("tool", sa.String(length=64), nullable=False),
        sa.Column("args", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bot_id"], ["bots.id"], name=op.f("fk_tool_calls_bot_id_bots"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tool_calls")),
    )
    op.create_index("ix_tool_calls_bot_time", "tool_calls", ["bot_id", "created_at"])
    op.create_index(op.f("ix_tool_calls_session_id"), "tool_calls", ["session_id"])
    op.create_index(op.f("ix_tool_calls_user_id"), "tool_calls", ["user_id"])


def _notes_to_persons() -> None:
    with op.batch_alter_table("bot_memories") as batch:
        batch.add_column(sa.Column("user_id", sa.Uuid(), nullable=True))
    op.execute(
        "UPDATE bot_memories SET user_id = (SELECT p.user_id FROM platform_users p"
        " WHERE p.id = bot_memories.platform_user_id)"
    )
    with op.batch_alter_table("bot_memories") as batch:
        batch.drop_constraint("uq_bot_memories_bot_id_platform_user_id_key", type_="unique")
        batch.drop_constraint("fk_bot_memories_platform_user_id_platform_users", type_="foreignkey")
        batch.create_unique_constraint(
            "uq_bot_memories_bot_id_user_id_key", ["bot_id", "user_id", "key"]
        )
        batch.create_index("ix_bot_memories_user_id", ["user_id"])
        batch.create_foreign_key(
            "fk_bot_memories_user_id_users", "users", ["user_id"], ["id"], ondelete="CASCADE"
        )
        batch.create_foreign_key(
            "fk_bot_memories_platform_user_id_platform_users",
            "platform_users",
            ["platform_user_id"],
            ["id"],
            ondelete="SET NULL",
        )


def _notes_to_identities() -> None:
    """Each note goes back to the identity it was told through (else the person's first)."""
    op.execute(
        "UPDATE bot_memories SET platform_user_id = (SELECT p.id FROM platform_users p"
        " WHERE p.user_id = bot_memories.user_id ORDER BY p.created_at LIMIT 1)"
        " WHERE platform_user_id IS NULL"
    )
    with op.batch_alter_table("bot_memories") as batch:
        batch.drop_constraint("fk_bot_memories_platform_user_id_platform_users", type_="foreignkey")
        batch.drop_constraint("fk_bot_memories_user_id_users", type_="foreignkey")
        batch.drop_index("ix_bot_memories_user_id")
        batch.drop_constraint("uq_bot_memories_bot_id_user_id_key", type_="unique")
        batch.create_unique_constraint(
            "uq_bot_memories_bot_id_platform_user_id_key", ["bot_id", "platform_user_id", "key"]
        )
        batch.create_foreign_key(
            "fk_bot_memories_platform_user_id_platform_users",
            "platform_users",
            ["platform_user_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch.drop_column("user_id")
