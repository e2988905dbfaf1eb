"""Knowledge-base collections, their documents and the passages searched in them.

Besides the mapped columns, the database keeps a full-text index of the passages that the
ORM does not see (migration 0004): on SQLite the FTS5 table `kb_passages_fts` (its rows
keyed by `kb_passages.seq`), on PostgreSQL the `kb_passages.search` tsvector with a GIN
index; triggers keep both in step with `kb_passages`. `UNMAPPED` names them for schema
comparisons.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, IdMixin, TimestampMixin

DEFAULT_LANGUAGE = "english"

# Database objects of the full-text index that exist beside the models (see the docstring).
UNMAPPED_TABLE_PREFIX = "kb_passages_fts"
UNMAPPED_COLUMNS = frozenset({("kb_passages", "search")})
UNMAPPED_INDEXES = frozenset({"ix_kb_passages_search"})


class KbCollection(IdMixin, TimestampMixin, Base):
    __tablename__ = "kb_collections"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(Text, default="")
    # Stemming and stop words of the full-text index (a PostgreSQL text search configuration).
    language: Mapped[str] = mapped_column(String(32), default=DEFAULT_LANGUAGE)
    # Citations link to base_url + the document's path when it is set.
    base_url: Mapped[str | None] = mapped_column(String(1024), default=None)
    # The model that made the stored vectors: another model re-embeds on the next import.
    embedding_model: Mapped[str | None] = mapped_column(String(256), default=None)
    # Bumped by every change of the collection's passages: caches of its vectors compare it.
    revision: Mapped[int] = mapped_column(BigInteger, default=0)


class KbDocument(IdMixin, TimestampMixin, Base):
    __tablename__ = "kb_documents"
    __table_args__ = (UniqueConstraint("collection_id", "path"),)
    collection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("kb_collections.id", ondelete="CASCADE")
    )
    path: Mapped[str] = mapped_column(String(1024))  # relative to the folder it was imported from
    title: Mapped[str] = mapped_column(String(512))
    content: Mapped[str] = mapped_column(Text)  # the text extracted from the file
    content_hash: Mapped[str] = mapped_column(String(64))  # sha256 of the file's bytes
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)


class KbPassage(IdMixin, TimestampMixin, Base):
    __tablename__ = "kb_passages"
    collection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("kb_collections.id", ondelete="CASCADE"), index=True
    )
    document_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("kb_documents.id", ondelete="CASCADE"), index=True
    )
    # A stable integer key derived from `id`: SQLite's FTS5 keys its rows by integers.
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    position: Mapped[int]  # order within the document
    title: Mapped[str] = mapped_column(String(512))  # the document's title
    heading: Mapped[str] = mapped_column(Text, default="")  # heading path, " > " between levels
    text: Mapped[str] = mapped_column(Text)
    # float16 little-endian, unit length; None until embedded.
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)


class UserKbAssociation(IdMixin, TimestampMixin, Base):
    """A person's extra collection, searched besides their bot's `kb` (`users`: a person
    keeps it across the platform identities joined with `link`)."""

    __tablename__ = "user_kb_associations"
    __table_args__ = (UniqueConstraint("user_id", "collection_id"),)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    collection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("kb_collections.id", ondelete="CASCADE")
    )


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Alembic's filter: leave the full-text index objects out of schema comparisons."""
    if type_ == "table" and name and name.startswith(UNMAPPED_TABLE_PREFIX):
        return False
    if type_ == "column" and reflected and compare_to is None:
        table = getattr(getattr(obj, "table", None), "name", None)
        return (table, name) not in UNMAPPED_COLUMNS
    return not (type_ == "index" and name in UNMAPPED_INDEXES)
