"""Search: keyword, semantic and fused rankings, bad questions, the embeddings API."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiohttp import web
from sqlalchemy import Engine, event, text
from sqlalchemy.pool import Pool

from gateway.config import DatabaseConfig, KbConfig
from gateway.kb import search
from gateway.kb.embeddings import HttpEmbedder
from gateway.kb.errors import CollectionNotFound, EmbeddingError, EmptyCollection, QueryError
from gateway.kb.importer import Importer
from gateway.kb.search import KnowledgeBase
from store import kb as records
from store import migrate
from store.database import Database
from tests.kb.conftest import import_folder, write_handbook
from tests.support.pipeline import eventually


@pytest.fixture
async def handbook(kb: KnowledgeBase, db: Database, tmp_path: Path) -> Database:
    await import_folder(kb, db, write_handbook(tmp_path / "docs"))
    return db


@pytest.mark.parametrize("mode", ["keyword", "semantic", "fused"])
async def test_each_mode_finds_the_answering_document_first(
    kb: KnowledgeBase, handbook: Database, mode: str
) -> None:
    hits = await kb.search(
        handbook,
        "acme",
        ["handbook"],
        "how many days until refunds are paid",
        mode=mode,  # type: ignore[arg-type]
    )
    assert hits[0].document == "refunds.md"
    assert all(0 < hit.score <= 1 for hit in hits)
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)


async def test_stemming_matches_other_forms_of_a_word(
    kb: KnowledgeBase, handbook: Database
) -> None:
    hits = await kb.search(handbook, "acme", ["handbook"], "refunding", mode="keyword")
    assert hits[0].document == "refunds.md"


async def test_semantic_search_finds_a_passage_without_shared_words(
    kb: KnowledgeBase, handbook: Database
) -> None:
    hits = await kb.search(handbook, "acme", ["handbook"], "telephone number", mode="semantic")
    assert hits[0].document == "support.html"
    assert hits[0].similarity is not None
    assert hits[0].similarity > 0.3


async def test_limit_and_passages_per_document(kb: KnowledgeBase, handbook: Database) -> None:
    hits = await kb.search(handbook, "acme", ["handbook"], "refunds support warranty", limit=2)
    assert len(hits) == 2
    many = await kb.search(handbook, "acme", ["handbook"], "refunds support warranty", limit=50)
    counts = {doc: [h.document for h in many].count(doc) for doc in {h.document for h in many}}
    assert max(counts.values()) <= 3


async def test_questions_that_cannot_be_searched_say_why(
    kb: KnowledgeBase, handbook: Database
) -> None:
    with pytest.raises(QueryError, match="only stop words or punctuation"):
        await kb.search(handbook, "acme", ["handbook"], "what is it? and how, why!")
    with pytest.raises(QueryError, match="only stop words or punctuation"):
        await kb.search(handbook, "acme", ["handbook"], "?!... ---")
    with pytest.raises(QueryError, match="too long"):
        await kb.search(handbook, "acme", ["handbook"], "refund " * (10 * 2**20 // 7))
    with pytest.raises(QueryError, match="empty"):
        await kb.search(handbook, "acme", ["handbook"], "   ")


async def test_unknown_and_empty_collections(kb: KnowledgeBase, handbook: Database) -> None:
    with pytest.raises(CollectionNotFound, match="no collection nope in organization 'acme'"):
        await kb.search(handbook, "acme", ["nope"], "refunds")
    with pytest.raises(CollectionNotFound):
        await kb.search(handbook, "other-org", ["handbook"], "refunds")
    async with handbook.transaction() as session:
        await records.ensure_collection(session, "acme", "empty")
    with pytest.raises(EmptyCollection, match="has no documents yet"):
        await kb.search(handbook, "acme", ["empty"], "refunds")


async def test_several_collections_are_searched_together(
    kb: KnowledgeBase, handbook: Database, tmp_path: Path
) -> None:
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "vip.md").write_text("# VIP\n\nVIP customers get refunds within two days.\n")
    await import_folder(kb, handbook, extra, "vip", language="german")
    hits = await kb.search(handbook, "acme", ["handbook", "vip"], "refunds", mode="keyword")
    assert {hit.collection for hit in hits} == {"handbook", "vip"}


async def test_a_base_url_makes_citation_links(
    kb: KnowledgeBase, db: Database, tmp_path: Path
) -> None:
    folder = write_handbook(tmp_path / "docs")
    await import_folder(kb, db, folder, base_url="https://docs.example.com/help/")
    hits = await kb.search(db, "acme", ["handbook"], "express delivery")
    assert hits[0].url == "https://docs.example.com/help/shipping/europe.txt"


class FakeEmbeddings:
    """An OpenAI-compatible /embeddings endpoint: hashed bag of words, 64 dimensions."""

    def __init__(self) -> None:
        self.requests: list[dict[str, object]] = []
        self.fail = False

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append({"auth": request.headers.get("Authorization"), **body})
        if self.fail:
            return web.json_response({"error": "overloaded"}, status=503)
        data = [{"index": i, "embedding": _bag(t)} for i, t in enumerate(body["input"])]
        return web.json_response({"object": "list", "data": list(reversed(data))})


def _bag(text: str) -> list[float]:
    vector = np.zeros(64)
    for word in text.lower().split():
        vector[int(hashlib.sha256(word.strip(".,?").encode()).hexdigest(), 16) % 64] += 1
    return vector.tolist()


@pytest.fixture
async def fake_api(aiohttp_port: int = 0) -> AsyncIterator[tuple[str, FakeEmbeddings]]:
    fake = FakeEmbeddings()
    app = web.Application()
    app.router.add_post("/v1/embeddings", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}/v1", fake
    await runner.cleanup()


async def test_an_embeddings_api_replaces_the_built_in_model(
    db: Database, tmp_path: Path, fake_api: tuple[str, FakeEmbeddings]
) -> None:
    url, fake = fake_api
    config = KbConfig(
        embeddings_url=url, embeddings_model="bag-64", embeddings_api_key="k-1", embeddings_batch=2
    )
    async with KnowledgeBase(config) as kb:
        report = await import_folder(kb, db, write_handbook(tmp_path / "docs"))
        hits = await kb.search(db, "acme", ["handbook"], "gift cards refunded", mode="semantic")
    assert report.failed == []  # type: ignore[attr-defined]
    assert hits[0].heading == "Refunds > Exceptions"
    assert hits[0].similarity is not None
    assert {r["auth"] for r in fake.requests} == {"Bearer k-1"}
    assert all(r["model"] == "bag-64" and len(r["input"]) <= 2 for r in fake.requests)  # type: ignore[arg-type]
    async with db.transaction() as session:
        found = await records.collection(session, "acme", "handbook")
    assert found is not None
    assert found.embedding_model == f"bag-64@{url}"


async def test_an_embeddings_api_outage_fails_the_import_and_search_falls_back(
    db: Database, tmp_path: Path, fake_api: tuple[str, FakeEmbeddings]
) -> None:
    url, fake = fake_api
    async with KnowledgeBase(KbConfig(embeddings_url=url, embeddings_model="bag-64")) as kb:
        await import_folder(kb, db, write_handbook(tmp_path / "docs"))
        fake.fail = True
        with pytest.raises(EmbeddingError, match="answered 503"):
            await kb.embedder.embed(["anything"])
        importer = Importer(kb, db, "acme", "handbook")
        await importer.prepare()
        (tmp_path / "docs" / "new.md").write_text("# New\n\nA new page about returns.\n")
        report = await importer.run([tmp_path / "docs"])
        assert [path for path, _ in report.failed] == ["new.md"]
        assert "embeddings API" in report.failed[0][1]
        hits = await kb.search(db, "acme", ["handbook"], "gift cards refunded")
    assert hits[0].heading == "Refunds > Exceptions"  # keyword search still answers


async def test_an_unreachable_embeddings_api_is_a_clear_error() -> None:
    embedder = HttpEmbedder(KbConfig(embeddings_url="http://127.0.0.1:9", embeddings_model="m"))
    with pytest.raises(EmbeddingError, match="unreachable"):
        await embedder.embed(["hello"])
    await embedder.aclose()


async def test_keyword_search_follows_changes_of_the_collection(
    kb: KnowledgeBase, handbook: Database, tmp_path: Path
) -> None:
    """The postings are cached per collection revision: a change is seen by the next search."""
    assert await kb.search(handbook, "acme", ["handbook"], "zeppelin", mode="keyword") == []
    changed = write_handbook(tmp_path / "docs")
    (changed / "shipping" / "europe.txt").write_text("Airship parcels travel by zeppelin.\n")
    await import_folder(kb, handbook, changed)
    hits = await kb.search(handbook, "acme", ["handbook"], "zeppelins", mode="keyword")
    assert [hit.document for hit in hits] == ["shipping/europe.txt"]
    (changed / "shipping" / "europe.txt").unlink()
    importer = Importer(kb, handbook, "acme", "handbook")
    await importer.prepare()
    await importer.run([changed], prune=True)
    assert await kb.search(handbook, "acme", ["handbook"], "zeppelin", mode="keyword") == []


async def test_the_collections_bots_search_are_loaded_before_any_question(
    kb: KnowledgeBase, handbook: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Warming reads the postings of the bots' collections in the background, and reads them
    again after an import changed them, so no user's question waits for that."""
    monkeypatch.setattr(search, "WARM_EVERY", 0.05)

    async def loaded() -> bool:  # the keyword index holds the collection's current revision
        async with handbook.transaction() as session:
            (collection,) = await records.collections(session, "acme", ["handbook"])
        index = kb.keywords._indexes.get(collection.id)
        return index is not None and index.revision == collection.revision

    assert not await loaded()
    await kb.warm(handbook, [("acme", ["not-imported-yet"]), ("acme", ["handbook"])])
    try:
        await eventually(loaded)
        changed = write_handbook(tmp_path / "docs")
        (changed / "shipping" / "europe.txt").write_text("Airship parcels travel by zeppelin.\n")
        await import_folder(kb, handbook, changed)  # as another process's import would
        assert not await loaded()
        await eventually(loaded)
    finally:  # before the database closes: a search after that would open it again
        await kb.stop()


@pytest.fixture
def sent() -> Iterator[list[str]]:
    """The statements sent from now on, and on connections opened from now on what asyncpg
    sends besides its prepared statements: BEGIN, COMMIT, ROLLBACK and pre-pings."""
    queries: list[str] = []

    def log(record: Any) -> None:
        queries.append(record.query)

    def watch(dbapi_connection: Any, _record: object) -> None:
        if hasattr(dbapi_connection._connection, "add_query_logger"):  # asyncpg
            dbapi_connection._connection.add_query_logger(log)

    def statement(_connection: object, _cursor: object, sql: str, *_: object) -> None:
        queries.append(sql)

    event.listen(Pool, "connect", watch)
    event.listen(Engine, "before_cursor_execute", statement)
    yield queries
    event.remove(Engine, "before_cursor_execute", statement)
    event.remove(Pool, "connect", watch)


async def test_a_search_of_collections_in_memory_is_one_statement(
    sent: list[str], kb: KnowledgeBase, handbook: Database
) -> None:
    """Once a collection's postings and vectors are in memory, a search reads the passages it
    found and the collection's revision in one statement, outside a transaction."""
    await kb.search(handbook, "acme", ["handbook"], "refunds for gift cards")
    sent.clear()
    hits = await kb.search(handbook, "acme", ["handbook"], "gift cards refunds")
    await asyncio.sleep(0.01)  # asyncpg calls its query loggers soon after
    assert hits[0].heading == "Refunds > Exceptions"
    assert len(sent) == 1, sent
    assert "kb_passages" in sent[0]
    async with handbook.transaction() as session:
        (collection,) = await records.collections(session, "acme", ["handbook"])
        await records.delete_collection(session, collection.id)
    with pytest.raises(CollectionNotFound):
        await kb.search(handbook, "acme", ["handbook"], "gift cards refunds")


@pytest.mark.postgres
async def test_a_search_reads_again_when_its_connection_died(
    kb: KnowledgeBase, postgres_url: str, tmp_path: Path
) -> None:
    """The read path's connections have no pre-ping: a search that meets a connection the
    server closed (a restart, an idle timeout) is made again the usual way."""
    db = Database(DatabaseConfig(url=postgres_url))
    try:
        await migrate.upgrade(db.engine)
        await import_folder(kb, db, write_handbook(tmp_path / "docs"))
        await kb.search(db, "acme", ["handbook"], "express delivery")
        async with db.read() as session:  # the read connection in the pool, used once
            await session.execute(text("SELECT 1"))
        async with db.transaction() as session:
            await session.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        hits = await kb.search(db, "acme", ["handbook"], "express delivery")
        assert hits[0].document == "shipping/europe.txt"
    finally:
        await db.close()
