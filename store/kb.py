"""Knowledge-base data access: collections, documents, passages, a person's extra collections.

Functions take an ORM session (its transaction is the caller's) and plain values, and return
frozen rows. Every change to a collection's passages bumps its `revision`, which caches of
its vectors compare. Keyword search is in `store.kb_search`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, null, select, union_all, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import (
    KbCollection,
    KbDocument,
    KbPassage,
    Organization,
    UserKbAssociation,
)
from store.upsert import table_of, upsert


@dataclass(frozen=True)
class Collection:
    id: uuid.UUID
    organization: str
    name: str
    language: str
    base_url: str | None
    embedding_model: str | None
    revision: int


@dataclass(frozen=True)
class CollectionStats:
    collection: Collection
    documents: int
    passages: int


@dataclass(frozen=True)
class StoredDocument:
    id: uuid.UUID
    path: str
    content_hash: str


@dataclass(frozen=True)
class DocumentInfo:
    path: str
    title: str
    passages: int
    updated_at: datetime


@dataclass(frozen=True)
class NewPassage:
    heading: str
    text: str
    embedding: bytes | None


@dataclass(frozen=True)
class PassageRow:
    id: uuid.UUID
    collection: str
    document: str  # the document's path
    title: str
    heading: str
    text: str
    base_url: str | None


def _now() -> datetime:
    return datetime.now(UTC)


def passage_seq(passage_id: uuid.UUID) -> int:
    """The full-text index key of a passage: the random low 63 bits of its UUIDv7."""
    return int.from_bytes(passage_id.bytes[8:], "big") & (2**63 - 1)


_COLLECTION_COLUMNS = (
    KbCollection.id,
    Organization.name,
    KbCollection.name,
    KbCollection.language,
    KbCollection.base_url,
    KbCollection.embedding_model,
    KbCollection.revision,
)


def _collections_query() -> Any:
    return select(*_COLLECTION_COLUMNS).join(
        Organization, Organization.id == KbCollection.organization_id
    )


async def collections(
    session: AsyncSession, organization: str | None = None, names: Sequence[str] | None = None
) -> list[Collection]:
    """Collections by name (all of an organization, or all, when not given), sorted by name."""
    query = _collections_query().order_by(Organization.name, KbCollection.name)
    if organization is not None:
        query = query.where(Organization.name == organization)
    if names is not None:
        query = query.where(KbCollection.name.in_(list(names)))
    return [Collection(*row) for row in (await session.execute(query)).all()]


async def collection(session: AsyncSession, organization: str, name: str) -> Collection | None:
    found = await collections(session, organization, [name])
    return found[0] if found else None


async def ensure_collection(session: AsyncSession, organization: str, name: str) -> Collection:
    """The collection, created (and its organization) when missing."""
    now = _now()
    org = {"id": uuid.uuid4(), "name": organization, "created_at": now, "updated_at": now}
    await session.execute(upsert(session, Organization, ["name"], []).values(**org))
    org_id = select(Organization.id).where(Organization.name == organization).scalar_subquery()
    row = {
        "id": uuid.uuid4(),
        "organization_id": org_id,
        "name": name,
        "description": "",
        "revision": 0,
        "created_at": now,
        "updated_at": now,
    }
    statement = upsert(session, KbCollection, ["organization_id", "name"], [])
    await session.execute(statement.values(**row))
    found = await collection(session, organization, name)
    assert found is not None
    return found


async def configure_collection(
    session: AsyncSession,
    collection_id: uuid.UUID,
    *,
    language: str | None = None,
    base_url: str | None = None,
) -> None:
    """Change the settings given. A new language re-indexes the passages (PostgreSQL builds
    their tsvector in the collection's language, on update too)."""
    values: dict[str, Any] = {}
    if language is not None:
        values["language"] = language
    if base_url is not None:
        values["base_url"] = base_url or None
    if not values:
        return
    query = select(KbCollection.language).where(KbCollection.id == collection_id)
    old_language = (await session.execute(query)).scalar_one()
    await _touch(session, collection_id, **values)
    if language is not None and language != old_language:
        await session.execute(
            update(KbPassage)
            .where(KbPassage.collection_id == collection_id)
            .values(title=KbPassage.title)
        )


async def _touch(session: AsyncSession, collection_id: uuid.UUID, **values: Any) -> None:
    await session.execute(
        update(KbCollection)
        .where(KbCollection.id == collection_id)
        .values(revision=KbCollection.revision + 1, updated_at=_now(), **values)
    )


async def collection_stats(
    session: AsyncSession, organization: str | None = None, names: Sequence[str] | None = None
) -> list[CollectionStats]:
    found = await collections(session, organization, names)
    ids = [c.id for c in found]
    documents = await _counts(session, KbDocument, ids)
    passages = await _counts(session, KbPassage, ids)
    return [CollectionStats(c, documents.get(c.id, 0), passages.get(c.id, 0)) for c in found]


async def _counts(session: AsyncSession, model: Any, ids: list[uuid.UUID]) -> dict[Any, int]:
    if not ids:
        return {}
    query = (
        select(model.collection_id, func.count())
        .where(model.collection_id.in_(ids))
        .group_by(model.collection_id)
    )
    return {key: count for key, count in (await session.execute(query)).all()}


async def delete_collection(session: AsyncSession, collection_id: uuid.UUID) -> None:
    # Passages first and explicitly: their delete triggers keep the full-text index in step.
    await session.execute(delete(KbPassage).where(KbPassage.collection_id == collection_id))
    await session.execute(delete(KbDocument).where(KbDocument.collection_id == collection_id))
    await session.execute(delete(KbCollection).where(KbCollection.id == collection_id))


async def stored_documents(
    session: AsyncSession, collection_id: uuid.UUID, paths: Sequence[str] | None = None
) -> dict[str, StoredDocument]:
    """The collection's documents (those at `paths` when given), by path."""
    query = select(KbDocument.id, KbDocument.path, KbDocument.content_hash).where(
        KbDocument.collection_id == collection_id
    )
    if paths is not None:
        query = query.where(KbDocument.path.in_(list(paths)))
    return {row.path: StoredDocument(*row) for row in (await session.execute(query)).all()}


async def documents(session: AsyncSession, collection_id: uuid.UUID) -> list[DocumentInfo]:
    counts = (
        select(KbPassage.document_id, func.count().label("n"))
        .where(KbPassage.collection_id == collection_id)
        .group_by(KbPassage.document_id)
        .subquery()
    )
    query = (
        select(
            KbDocument.path, KbDocument.title, func.coalesce(counts.c.n, 0), KbDocument.updated_at
        )
        .outerjoin(counts, counts.c.document_id == KbDocument.id)
        .where(KbDocument.collection_id == collection_id)
        .order_by(KbDocument.path)
    )
    return [DocumentInfo(*row) for row in (await session.execute(query)).all()]


async def replace_document(
    session: AsyncSession,
    collection_id: uuid.UUID,
    *,
    path: str,
    title: str,
    content: str,
    content_hash: str,
    metadata: dict[str, Any],
    passages: Sequence[NewPassage],
    embedding_model: str,
) -> uuid.UUID:
    """Write the document and its passages in place of any earlier version at `path`;
    `embedding_model` made their vectors (the collection's vectors all come from one model)."""
    existing = await session.execute(
        select(KbDocument.id).where(
            KbDocument.collection_id == collection_id, KbDocument.path == path
        )
    )
    document_id = existing.scalar_one_or_none()
    values = {
        "title": title[:512],
        "content": content,
        "content_hash": content_hash,
        "metadata": metadata,
        "updated_at": _now(),
    }
    if document_id is None:
        document_id = uuid.uuid4()
        row = {"id": document_id, "collection_id": collection_id, "path": path, **values}
        await session.execute(insert(KbDocument).values(**_orm_keys(row)))
    else:
        await session.execute(delete(KbPassage).where(KbPassage.document_id == document_id))
        await session.execute(
            update(KbDocument).where(KbDocument.id == document_id).values(**_orm_keys(values))
        )
    await _insert_passages(session, collection_id, document_id, title[:512], passages)
    await _touch(session, collection_id, embedding_model=embedding_model)
    return document_id


def _orm_keys(values: dict[str, Any]) -> dict[str, Any]:
    """`metadata` is `metadata_` on the model (the name is taken on declarative classes)."""
    return {("metadata_" if key == "metadata" else key): value for key, value in values.items()}


async def _insert_passages(
    session: AsyncSession,
    collection_id: uuid.UUID,
    document_id: uuid.UUID,
    title: str,
    passages: Sequence[NewPassage],
) -> None:
    if not passages:
        return
    now = _now()
    rows = []
    for position, passage in enumerate(passages):
        passage_id = uuid.uuid4()
        rows.append(
            {
                "id": passage_id,
                "collection_id": collection_id,
                "document_id": document_id,
                "seq": passage_seq(passage_id),
                "position": position,
                "title": title,
                "heading": passage.heading,
                "text": passage.text,
                "embedding": passage.embedding,
                "created_at": now,
                "updated_at": now,
            }
        )
    await session.execute(insert(KbPassage), rows)


async def delete_documents(
    session: AsyncSession, collection_id: uuid.UUID, paths: Sequence[str]
) -> int:
    """Remove the documents at `paths`; returns how many there were."""
    if not paths:
        return 0
    ids = list(
        (
            await session.execute(
                select(KbDocument.id).where(
                    KbDocument.collection_id == collection_id, KbDocument.path.in_(list(paths))
                )
            )
        ).scalars()
    )
    if ids:
        await session.execute(delete(KbPassage).where(KbPassage.document_id.in_(ids)))
        await session.execute(delete(KbDocument).where(KbDocument.id.in_(ids)))
        await _touch(session, collection_id)
    return len(ids)


async def passage_vectors(
    session: AsyncSession, collection_id: uuid.UUID
) -> list[tuple[uuid.UUID, uuid.UUID, bytes]]:
    """Every embedded passage of the collection: (id, document id, vector bytes)."""
    query = select(KbPassage.id, KbPassage.document_id, KbPassage.embedding).where(
        KbPassage.collection_id == collection_id, KbPassage.embedding.is_not(None)
    )
    return [tuple(row) for row in (await session.execute(query)).all()]  # type: ignore[misc]


async def passage_texts(
    session: AsyncSession, collection_id: uuid.UUID
) -> list[tuple[uuid.UUID, str, str, str]]:
    """(id, title, heading, text) of every passage: what a new model embeds again."""
    query = select(KbPassage.id, KbPassage.title, KbPassage.heading, KbPassage.text).where(
        KbPassage.collection_id == collection_id
    )
    return [tuple(row) for row in (await session.execute(query)).all()]  # type: ignore[misc]


async def set_embeddings(
    session: AsyncSession,
    collection_id: uuid.UUID,
    model: str,
    vectors: Sequence[tuple[uuid.UUID, bytes]],
) -> None:
    """Store vectors made by `model` and record it as the collection's model."""
    if vectors:
        table = table_of(KbPassage)
        statement = (
            update(table)
            .where(table.c.id == bindparam("passage_id"))
            .values(embedding=bindparam("vector"))
        )
        await session.execute(
            statement, [{"passage_id": key, "vector": vector} for key, vector in vectors]
        )
    await _touch(session, collection_id, embedding_model=model)


def _passages(*leading: Any) -> Any:
    """SELECT `leading`, then a `PassageRow`'s columns, of passages with their documents and
    collections."""
    return (
        select(
            *leading,
            KbPassage.id,
            KbCollection.name,
            KbDocument.path,
            KbPassage.title,
            KbPassage.heading,
            KbPassage.text,
            KbCollection.base_url,
        )
        .join(KbDocument, KbDocument.id == KbPassage.document_id)
        .join(KbCollection, KbCollection.id == KbPassage.collection_id)
    )


async def passages_by_id(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[PassageRow]:
    """The passages with those ids, in the order of `ids` (unknown ids are left out)."""
    if not ids:
        return []
    query = _passages().where(KbPassage.id.in_(list(ids)))
    rows = {row.id: PassageRow(*row) for row in (await session.execute(query)).all()}
    return [rows[key] for key in ids if key in rows]


def _passages_and_revisions() -> Any:
    passages = _passages(KbPassage.collection_id, KbCollection.revision).where(
        KbPassage.id.in_(bindparam("ids", expanding=True))
    )
    # (a join from the collections to their passages would walk all of a collection's
    # passages on SQLite, whose planner takes the collection's index over the ids)
    revisions = select(KbCollection.id, KbCollection.revision, *[null()] * 7).where(
        KbCollection.id.in_(bindparam("collections", expanding=True))
    )
    return union_all(passages, revisions)


_PASSAGES_AND_REVISIONS = _passages_and_revisions()  # built once: a search's hot path


async def passages_and_revisions(
    session: AsyncSession, collections: Sequence[uuid.UUID], ids: Sequence[uuid.UUID]
) -> tuple[list[PassageRow], dict[uuid.UUID, int]]:
    """The passages with those ids (in the order of `ids`) and the current revision of each
    of the collections, in one statement: a search's one read while it ranks from cached
    postings and vectors, and the check that they are still current. A collection that no
    longer exists is missing from the revisions."""
    params = {"ids": list(ids), "collections": list(collections)}
    found: dict[uuid.UUID, int] = {}
    rows: dict[uuid.UUID, PassageRow] = {}
    for row in (await session.execute(_PASSAGES_AND_REVISIONS, params)).all():
        found[_uuid(row[0])] = row[1]
        if row[2] is not None:
            rows[_uuid(row[2])] = PassageRow(_uuid(row[2]), *row[3:])
    return [rows[key] for key in ids if key in rows], found


def _uuid(value: object) -> uuid.UUID:
    """A UUID column read through a UNION, which some drivers hand back as text."""
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


async def add_user_collection(
    session: AsyncSession, user_id: uuid.UUID, collection_id: uuid.UUID
) -> bool:
    """Give a person an extra collection; False when they had it already."""
    now = _now()
    row = {
        "id": uuid.uuid4(),
        "user_id": user_id,
        "collection_id": collection_id,
        "created_at": now,
        "updated_at": now,
    }
    statement = upsert(session, UserKbAssociation, ["user_id", "collection_id"], [])
    result = await session.execute(statement.values(**row))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def remove_user_collection(
    session: AsyncSession, user_id: uuid.UUID, collection_id: uuid.UUID
) -> bool:
    """Take an extra collection from a person; False when they did not have it."""
    result = await session.execute(
        delete(UserKbAssociation).where(
            UserKbAssociation.user_id == user_id,
            UserKbAssociation.collection_id == collection_id,
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def user_collections(
    session: AsyncSession, user_id: uuid.UUID, organization: str
) -> list[str]:
    """Names of the person's extra collections in the organization, sorted."""
    query = (
        select(KbCollection.name)
        .join(UserKbAssociation, UserKbAssociation.collection_id == KbCollection.id)
        .join(Organization, Organization.id == KbCollection.organization_id)
        .where(UserKbAssociation.user_id == user_id, Organization.name == organization)
        .order_by(KbCollection.name)
    )
    return list((await session.execute(query)).scalars())


async def has_passages(session: AsyncSession, collection_ids: Sequence[uuid.UUID]) -> bool:
    if not collection_ids:
        return False
    query = select(KbPassage.id).where(KbPassage.collection_id.in_(list(collection_ids))).limit(1)
    return (await session.execute(query)).first() is not None
