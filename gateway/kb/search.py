"""`KnowledgeBase`: one per process. Searches collections by keyword and by meaning.

The question is embedded before any read (an embeddings API may be slow). The collections'
postings and vectors are kept in memory per revision (gateway/kb/keyword.py, semantic.py), so
a search of collections searched before ranks without the database and then reads, in one
statement outside a transaction, the passages it found and the collections' revisions: when
one changed meanwhile, the search is made again in a transaction that reads the collections
first (and their postings and vectors anew). One round trip instead of four on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.config import KbConfig
from gateway.kb.embeddings import Embedder, StaticEmbedder, Vectors, embedder_for
from gateway.kb.errors import CollectionNotFound, EmbeddingError, EmptyCollection, KbError
from gateway.kb.fusion import Candidate, Rankings, fuse
from gateway.kb.keyword import KeywordIndex
from gateway.kb.query import query_terms
from gateway.kb.semantic import Nearest, VectorCache
from store import kb as records
from store.database import Database

log = logging.getLogger(__name__)
Mode = Literal["fused", "keyword", "semantic"]
MODES: tuple[Mode, ...] = ("fused", "keyword", "semantic")
CANDIDATES = 100  # from each ranking, before fusion
PER_DOCUMENT = 3  # passages of one document in a result, at most
WARM_EVERY = 30.0  # seconds between looks for changed collections (KnowledgeBase.warm)
STOP_WAIT = 10.0  # seconds a stop waits for a warming search to end
KNOWN_SEARCHES = 256  # (organization, collections) pairs whose collections are remembered
Used = tuple[str, Sequence[str]]  # an organization and collections a bot searches


@dataclass(frozen=True)
class Hit:
    passage_id: uuid.UUID
    collection: str
    document: str  # the document's path in its collection
    title: str
    heading: str
    text: str
    score: float  # 0..1, higher is better (see `KnowledgeBase.search`)
    url: str | None  # the collection's base_url + the document's path
    similarity: float | None = None  # cosine of question and passage (None: no vector)


class KnowledgeBase:
    """The embedding model and cached vectors of one process; `async with` or start/stop."""

    def __init__(self, config: KbConfig, embedder: Embedder | None = None) -> None:
        self.config = config
        self.embedder = embedder or embedder_for(config)
        self.vectors = VectorCache()
        self.keywords = KeywordIndex()
        # the collections of the searches made lately, as last read: (organization, names)
        self._known: dict[tuple[str, tuple[str, ...]], tuple[records.Collection, ...]] = {}
        self._keeping: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        return None

    async def warm(self, db: Database | None = None, used: Sequence[Used] = ()) -> None:
        """Load the built-in model now (a thread: it takes a second or two), so that the
        first question is not the one that waits for it. With `used`, the collections the
        bots search: their postings and vectors are loaded in the background, and again
        whenever they change (an import here or in another process)."""
        if isinstance(self.embedder, StaticEmbedder):
            await asyncio.to_thread(self.embedder.load)
        if db is not None and used and self._keeping is None:
            self._keeping = asyncio.create_task(self._keep_warm(db, used), name="kb-warm")

    async def _keep_warm(self, db: Database, used: Sequence[Used]) -> None:
        """A search now and every WARM_EVERY: cheap while nothing changed, and after a change
        it reads the new postings (seconds at 50,000 passages) instead of a user's question."""
        while not self._stopping.is_set():
            for organization, names in used:
                try:
                    await self.search(db, organization, names, "warm", limit=1)
                except KbError:
                    pass  # no such collection, or an empty one, yet: nothing to load
                except Exception as exc:  # the database may be away: the next round tries
                    log.debug("knowledge base not warmed: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), WARM_EVERY)

    async def stop(self) -> None:
        """Let a warming search under way end (cancelled inside its transaction, it would
        leave its connection to the garbage collector), within a bound."""
        if self._keeping is not None:
            self._stopping.set()
            try:
                await asyncio.wait_for(asyncio.shield(self._keeping), STOP_WAIT)
            except TimeoutError:
                self._keeping.cancel()
                await asyncio.gather(self._keeping, return_exceptions=True)
            self._keeping = None
        await self.embedder.aclose()

    async def __aenter__(self) -> KnowledgeBase:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def search(
        self,
        db: Database,
        organization: str,
        collections: Sequence[str],
        query: str,
        *,
        limit: int = 5,
        mode: Mode = "fused",
    ) -> list[Hit]:
        """The best passages for `query` in the named collections of `organization`.

        `score` is the fused score of gateway/kb/fusion.py, 0..1. At most PER_DOCUMENT
        passages of one document are returned. Raises QueryError for a question that
        cannot be searched, CollectionNotFound when none of the collections exists and
        EmptyCollection when they hold no passages.
        """
        terms = query_terms(query, self.config.language, self.config.max_query_chars)
        vector = await self._query_vector(query) if mode != "keyword" else None
        key = (organization, tuple(collections))
        known = self._known.get(key)
        if known is not None and self._cached(known, vector, mode):
            try:
                hits = await self._search_cached(db, known, terms, vector, mode, limit)
            except DBAPIError as exc:  # a pooled connection died: read again the usual way
                if not exc.connection_invalidated:
                    raise
                hits = None
            if hits is not None:
                return hits
        found, hits = await self._search_fresh(
            db, organization, collections, terms, vector, mode, limit
        )
        self._remember(key, found)
        return hits

    def _remember(self, key: tuple[str, tuple[str, ...]], found: list[records.Collection]) -> None:
        if len(found) == len(set(key[1])):  # (with one missing, each search looks for it)
            if len(self._known) >= KNOWN_SEARCHES:
                self._known.clear()
            self._known[key] = tuple(found)

    async def _search_cached(
        self,
        db: Database,
        collections: Sequence[records.Collection],
        terms: Sequence[str],
        vector: Vectors | None,
        mode: Mode,
        limit: int,
    ) -> list[Hit] | None:
        """A search ranked from the postings and vectors in memory, in one statement: the
        passages found, and the collections' revisions that say whether the ranking is still
        current (None when it may not be: then it is searched again the usual way)."""
        async with db.read() as session:
            ranked = _per_document(await self._rank(session, collections, terms, vector, mode))
            if not ranked:
                return None  # perhaps a change added what matches: `_search_fresh` tells
            ids = [key for key, _ in ranked[:limit]]
            rows, revisions = await records.passages_and_revisions(
                session, [c.id for c in collections], ids
            )
            if any(revisions.get(c.id) != c.revision for c in collections) or not rows:
                return None
            cosines = await self._similarities(session, collections, rows, vector)
        scores = dict(ranked)
        return [_hit(row, scores[row.id], cosines.get(row.id)) for row in rows]

    async def _search_fresh(
        self,
        db: Database,
        organization: str,
        collections: Sequence[str],
        terms: Sequence[str],
        vector: Vectors | None,
        mode: Mode,
        limit: int,
    ) -> tuple[list[records.Collection], list[Hit]]:
        """A search that reads the collections first (and their postings and vectors when
        they changed), in one transaction."""
        async with db.transaction() as session:
            found = await records.collections(session, organization, collections)
            if not found:
                raise CollectionNotFound(_missing(organization, collections))
            ranked = _per_document(await self._rank(session, found, terms, vector, mode))
            rows = await records.passages_by_id(session, [key for key, _ in ranked[:limit]])
            if not rows and not await records.has_passages(session, [c.id for c in found]):
                raise EmptyCollection(_empty(found))
            cosines = await self._similarities(session, found, rows, vector)
        scores = dict(ranked)
        return found, [_hit(row, scores[row.id], cosines.get(row.id)) for row in rows]

    def _cached(
        self, collections: Sequence[records.Collection], vector: Vectors | None, mode: Mode
    ) -> bool:
        """Whether a search of these collections (as last read) needs nothing more read."""
        for collection in collections:
            if mode != "semantic" and not self.keywords.holds(collection):
                return False
            semantic = mode != "keyword" and vector is not None
            if (
                semantic
                and collection.embedding_model == self.embedder.model_id
                and not self.vectors.holds(collection)
            ):
                return False
        return True

    async def _similarities(
        self,
        session: AsyncSession,
        collections: Sequence[records.Collection],
        rows: Sequence[records.PassageRow],
        vector: Vectors | None,
    ) -> dict[uuid.UUID, float]:
        found: dict[uuid.UUID, float] = {}
        if vector is None:
            return found
        for collection in collections:
            if collection.embedding_model == self.embedder.model_id:
                ids = [row.id for row in rows if row.collection == collection.name]
                found |= await self.vectors.similarities(session, collection, ids, vector)
        return found

    async def _query_vector(self, query: str) -> Vectors | None:
        try:
            vectors = await self.embedder.embed([query])
            return vectors[0]  # type: ignore[no-any-return]
        except EmbeddingError as exc:
            log.warning("semantic search skipped: %s", exc)
            return None

    async def _rank(
        self,
        session: AsyncSession,
        collections: Sequence[records.Collection],
        terms: Sequence[str],
        vector: Vectors | None,
        mode: Mode,
    ) -> list[tuple[Candidate, float]]:
        usable: list[records.Collection] = []
        if mode != "keyword" and vector is not None:
            usable = [c for c in collections if c.embedding_model == self.embedder.model_id]
            for collection in usable:  # (vectors of another model wait for the next import)
                await self.vectors.load(session, collection)
        keyword, nearest = await asyncio.gather(
            self._keyword(session, collections, terms) if mode != "semantic" else _none(),
            self.vectors.nearest(usable, vector, CANDIDATES)
            if vector is not None and usable
            else _nothing_near(),
        )
        semantic = [candidate for candidate, _ in nearest.passages]
        rankings = Rankings(
            [*keyword.passages, semantic] if semantic else keyword.passages,
            keyword.keyword,
            nearest.best,
            nearest.mean,
        )
        return fuse(rankings)

    async def _keyword(
        self,
        session: AsyncSession,
        collections: Sequence[records.Collection],
        terms: Sequence[str],
    ) -> Rankings:
        return await self.keywords.search(session, collections, terms, CANDIDATES)


async def _none() -> Rankings:
    return Rankings([])


async def _nothing_near() -> Nearest:
    return Nearest([], {}, {})


def _per_document(ranked: list[tuple[Candidate, float]]) -> list[tuple[uuid.UUID, float]]:
    """The ranking with at most PER_DOCUMENT passages of each document."""
    taken: dict[uuid.UUID, int] = {}
    kept = []
    for candidate, score in ranked:
        taken[candidate.document] = taken.get(candidate.document, 0) + 1
        if taken[candidate.document] <= PER_DOCUMENT:
            kept.append((candidate.passage, score))
    return kept


def _hit(row: records.PassageRow, score: float, similarity: float | None) -> Hit:
    url = row.base_url.rstrip("/") + "/" + row.document if row.base_url else None
    return Hit(
        row.id, row.collection, row.document, row.title, row.heading, row.text, score, url,
        similarity,
    )  # fmt: skip


async def find_collection(
    session: AsyncSession, organization: str, name: str
) -> records.Collection:
    found = await records.collection(session, organization, name)
    if found is None:
        raise CollectionNotFound(f"no collection {name!r} in organization {organization!r}")
    return found


def _missing(organization: str, names: Sequence[str]) -> str:
    listed = ", ".join(names) or "(none given)"
    return (
        f"no collection {listed} in organization {organization!r}; "
        "import documents with `botgate kb import COLLECTION PATH`"
    )


def _empty(collections: Sequence[records.Collection]) -> str:
    names = ", ".join(c.name for c in collections)
    return f"collection {names} has no documents yet: import some with `botgate kb import`"
