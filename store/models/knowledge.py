"""Knowledge-base collections and documents."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, IdMixin, TimestampMixin


class KbCollection(IdMixin, TimestampMixin, Base):
    __tablename__ = "kb_collections"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(Text, default="")


class KbDocument(IdMixin, TimestampMixin, Base):
    __tablename__ = "kb_documents"
    __table_args__ = (UniqueConstraint("collection_id", "source"),)
    collection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("kb_collections.id", ondelete="CASCADE")
    )
    source: Mapped[str] = mapped_column(String(1024))  # path or URL it was imported from
    title: Mapped[str] = mapped_column(String(512))
    content: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)


class UserKbAssociation(IdMixin, TimestampMixin, Base):
    __tablename__ = "user_kb_associations"
    __table_args__ = (UniqueConstraint("platform_user_id", "collection_id"),)
    platform_user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("platform_users.id", ondelete="CASCADE")
    )
    collection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("kb_collections.id", ondelete="CASCADE")
    )
