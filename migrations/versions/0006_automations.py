"""automations: named system_automations mirrored from the configuration, and their runs

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
NOW = sa.text("CURRENT_TIMESTAMP")


def upgrade() -> None:
    with op.batch_alter_table("system_automations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("timezone", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_system_automations_name"), ["name"])

    op.create_table(
        "automation_runs",
        sa.Column("automation_id", sa.Uuid(), nullable=False),
        sa.Column("firing", sa.String(length=128), nullable=False),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("result", JSON, nullable=False),
        sa.Column("runner", sa.String(length=128), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.ForeignKeyConstraint(
            ["automation_id"],
            ["system_automations.id"],
            name=op.f("fk_automation_runs_automation_id_system_automations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation_runs")),
        sa.UniqueConstraint(
            "automation_id", "firing", name=op.f("uq_automation_runs_automation_id_firing")
        ),
    )
    with op.batch_alter_table("automation_runs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_automation_runs_automation_time", ["automation_id", "scheduled_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_automation_runs_started_at"), ["started_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("automation_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_automation_runs_started_at"))
        batch_op.drop_index("ix_automation_runs_automation_time")

    op.drop_table("automation_runs")
    with op.batch_alter_table("system_automations", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_system_automations_name"), type_="unique")
        batch_op.drop_column("timezone")
        batch_op.drop_column("name")
