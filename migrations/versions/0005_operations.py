"""operations: dead-letter store, audit outcome, message time index

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
NOW = sa.text("CURRENT_TIMESTAMP")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "dead_letters",
        sa.Column("message_id", sa.String(length=256), nullable=False),
        sa.Column("origin_exchange", sa.String(length=256), nullable=False),
        sa.Column("origin_queue", sa.String(length=256), nullable=False),
        sa.Column("routing_key", sa.String(length=256), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("error", sa.String(length=256), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("headers", JSON, nullable=False),
        sa.Column("content_type", sa.String(length=128), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=True),
        sa.Column("bot", sa.String(length=64), nullable=True),
        sa.Column("user_key", sa.String(length=300), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("times_dead", sa.Integer(), nullable=False),
        sa.Column("times_redriven", sa.Integer(), nullable=False),
        sa.Column("last_dead_at", WHEN, nullable=False),
        sa.Column("redrive_requested_by", sa.String(length=128), nullable=True),
        sa.Column("claimed_at", WHEN, nullable=True),
        sa.Column("redriven_at", WHEN, nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", WHEN, server_default=NOW, nullable=False),
        sa.Column("updated_at", WHEN, server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
        sa.UniqueConstraint(
            "message_id", "origin_queue", name=op.f("uq_dead_letters_message_id_origin_queue")
        ),
    )
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.create_index("ix_dead_letters_status", ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_dead_letters_user_key"), ["user_key"], unique=False)
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("outcome", sa.String(length=16), server_default="ok", nullable=False)
        )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index("ix_messages_time", ["occurred_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_time")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_column("outcome")
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dead_letters_user_key"))
        batch_op.drop_index("ix_dead_letters_status")
    op.drop_table("dead_letters")
