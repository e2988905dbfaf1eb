"""knowledge base: passages with full-text and vector search, collection settings

Revision ID: 0004
Revises: 0003

`kb_passages` holds the passages of each document. Its full-text index lives beside the
models (store/models/knowledge.py): on SQLite the contentless FTS5 table `kb_passages_fts`
(rows keyed by `kb_passages.seq`, Porter stemming), on PostgreSQL the `search`
tsvector column with a GIN index, built in the collection's language. Triggers keep both
in step with `kb_passages`; a later migration that rebuilds `kb_passages` on SQLite (batch
mode copies the table) must create the triggers again.

`kb_documents.source` becomes `path` (CONTRACT section 6). `user_kb_associations` moves from
a platform identity to the person (`users`), so that extra collections follow identities
joined with `link`; existing rows are carried over.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOW = sa.text("CURRENT_TIMESTAMP")

COLLECTION_COLUMNS: list[sa.Column[Any]] = [
    sa.Column("language", sa.String(32), server_default="english", nullable=False),
    sa.Column("base_url", sa.String(1024), nullable=True),
    sa.Column("embedding_model", sa.String(256), nullable=True),
    sa.Column("revision", sa.BigInteger(), server_default="0", nullable=False),
]

# `collection` holds one token per passage ("c" + the collection's id as SQLite stores it):
# a MATCH can then stay inside the collections searched, without a join over every match.
SQLITE_FTS = [
    """CREATE VIRTUAL TABLE kb_passages_fts USING fts5(
        title, heading, text, collection, content='',
        tokenize='porter unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER kb_passages_fts_insert AFTER INSERT ON kb_passages BEGIN
        INSERT INTO kb_passages_fts(rowid, title, heading, text, collection)
        VALUES (new.seq, new.title, new.heading, new.text, 'c' || new.collection_id);
    END""",
    """CREATE TRIGGER kb_passages_fts_delete AFTER DELETE ON kb_passages BEGIN
        INSERT INTO kb_passages_fts(kb_passages_fts, rowid, title, heading, text, collection)
        VALUES ('delete', old.seq, old.title, old.heading, old.text, 'c' || old.collection_id);
    END""",
    """CREATE TRIGGER kb_passages_fts_update AFTER UPDATE OF seq, title, heading, text,
    collection_id ON kb_passages BEGIN
        INSERT INTO kb_passages_fts(kb_passages_fts, rowid, title, heading, text, collection)
        VALUES ('delete', old.seq, old.title, old.heading, old.text, 'c' || old.collection_id);
        INSERT INTO kb_passages_fts(rowid, title, heading, text, collection)
        VALUES (new.seq, new.title, new.heading, new.text, 'c' || new.collection_id);
    END""",
]

POSTGRES_FTS = [
    "ALTER TABLE kb_passages ADD COLUMN search tsvector",
    """CREATE FUNCTION kb_passages_search() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        config regconfig;
    BEGIN
        SELECT language::regconfig INTO config FROM kb_collections WHERE id = NEW.collection_id;
        NEW.search := setweight(to_tsvector(config, NEW.title), 'A')
            || setweight(to_tsvector(config, NEW.heading), 'B')
            || setweight(to_tsvector(config, NEW.text), 'D');
        RETURN NEW;
    END
    $$""",
    """CREATE TRIGGER kb_passages_search BEFORE INSERT OR UPDATE OF collection_id, title,
    heading, text ON kb_passages FOR EACH ROW EXECUTE FUNCTION kb_passages_search()""",
    "CREATE INDEX ix_kb_passages_search ON kb_passages USING gin (search)",
]


def upgrade() -> None:
    # kb_collections is referenced by other tables: altered in place, never copied (on SQLite
    # a copy would drop the old table, and its cascades would empty the referencing ones).
    for column in COLLECTION_COLUMNS:
        op.add_column("kb_collections", column)
    _rename_document_column("source", "path")
    _create_passages()
    for statement in SQLITE_FTS if op.get_bind().dialect.name == "sqlite" else POSTGRES_FTS:
        op.execute(statement)
    _associations_to_people()


def _rename_document_column(old: str, new: str) -> None:
    # Two steps: in one batch SQLite's copy would build the constraint on the old name.
    with op.batch_alter_table("kb_documents") as batch:
        batch.drop_constraint(f"uq_kb_documents_collection_id_{old}", type_="unique")
        batch.alter_column(old, new_column_name=new, existing_type=sa.String(1024))
    with op.batch_alter_table("kb_documents") as batch:
        batch.create_unique_constraint(
            f"uq_kb_documents_collection_id_{new}", ["collection_id", new]
        )


def _create_passages() -> None:
    op.create_table(
        "kb_passages",
        sa.Column("collection_id", sa.Uuid(), nullable=False),
        sa.Column("document_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(512), nullable=False),
        sa.Column("heading", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["kb_collections.id"],
            name=op.f("fk_kb_passages_collection_id_kb_collections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["kb_documents.id"],
            name=op.f("fk_kb_passages_document_id_kb_documents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_passages")),
        sa.UniqueConstraint("seq", name=op.f("uq_kb_passages_seq")),
    )
    op.create_index(op.f("ix_kb_passages_collection_id"), "kb_passages", ["collection_id"])
    op.create_index(op.f("ix_kb_passages_document_id"), "kb_passages", ["document_id"])


def _associations_to_people() -> None:
    with op.batch_alter_table("user_kb_associations") as batch:
        batch.add_column(sa.Column("user_id", sa.Uuid(), nullable=True))
    op.execute(
        "UPDATE user_kb_associations SET user_id = (SELECT p.user_id FROM platform_users p"
        " WHERE p.id = user_kb_associations.platform_user_id)"
    )
    _drop_duplicates("user_id")
    with op.batch_alter_table("user_kb_associations") as batch:
        batch.drop_constraint(
            "uq_user_kb_associations_platform_user_id_collection_id", type_="unique"
        )
        batch.drop_constraint(
            "fk_user_kb_associations_platform_user_id_platform_users", type_="foreignkey"
        )
        batch.drop_column("platform_user_id")
        batch.alter_column("user_id", existing_type=sa.Uuid(), nullable=False)
        batch.create_foreign_key(
            "fk_user_kb_associations_user_id_users", "users", ["user_id"], ["id"],
            ondelete="CASCADE",
        )  # fmt: skip
        batch.create_unique_constraint(
            "uq_user_kb_associations_user_id_collection_id", ["user_id", "collection_id"]
        )


def _drop_duplicates(key: str) -> None:
    """Rows without `key`, and all but one row per (key, collection), cannot be carried over."""
    op.execute(f"DELETE FROM user_kb_associations WHERE {key} IS NULL")  # noqa: S608
    op.execute(
        f"DELETE FROM user_kb_associations WHERE EXISTS (SELECT 1 FROM user_kb_associations b"  # noqa: S608
        f" WHERE b.{key} = user_kb_associations.{key}"
        " AND b.collection_id = user_kb_associations.collection_id"
        " AND b.id < user_kb_associations.id)"
    )


def downgrade() -> None:
    _associations_to_identities()
    if op.get_bind().dialect.name == "sqlite":
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER kb_passages_fts_{name}")
        op.execute("DROP TABLE kb_passages_fts")
    else:
        op.execute("DROP TRIGGER kb_passages_search ON kb_passages")
        op.execute("DROP FUNCTION kb_passages_search()")
    op.drop_index(op.f("ix_kb_passages_document_id"), table_name="kb_passages")
    op.drop_index(op.f("ix_kb_passages_collection_id"), table_name="kb_passages")
    op.drop_table("kb_passages")
    _rename_document_column("path", "source")
    for column in reversed(COLLECTION_COLUMNS):
        op.drop_column("kb_collections", column.name)


def _associations_to_identities() -> None:
    with op.batch_alter_table("user_kb_associations") as batch:
        batch.add_column(sa.Column("platform_user_id", sa.Uuid(), nullable=True))
    op.execute(
        "UPDATE user_kb_associations SET platform_user_id = (SELECT p.id FROM platform_users p"
        " WHERE p.user_id = user_kb_associations.user_id ORDER BY p.created_at, p.id LIMIT 1)"
    )
    _drop_duplicates("platform_user_id")
    with op.batch_alter_table("user_kb_associations") as batch:
        batch.drop_constraint("uq_user_kb_associations_user_id_collection_id", type_="unique")
        batch.drop_constraint("fk_user_kb_associations_user_id_users", type_="foreignkey")
        batch.drop_column("user_id")
        batch.alter_column("platform_user_id", existing_type=sa.Uuid(), nullable=False)
        batch.create_foreign_key(
            "fk_user_kb_associations_platform_user_id_platform_users", "platform_users",
            ["platform_user_id"], ["id"], ondelete="CASCADE",
        )  # fmt: skip
        batch.create_unique_constraint(
            "uq_user_kb_associations_platform_user_id_collection_id",
            ["platform_user_id", "collection_id"],
        )
