"""Knowledge-base routes of the admin API (under /api/v1): reading takes the `read` scope,
changing the `write` scope, and every change is audited.

    GET    /kb/collections                               collections with their counts
    GET    /kb/collections/{collection}/documents        the documents of one
    PUT    /kb/collections/{collection}/documents/{path} upload a file (the raw body)
    DELETE /kb/collections/{collection}/documents/{path} remove one document
    DELETE /kb/collections/{collection}                  remove a collection
    GET    /kb/collections/{collection}/search?q=...     ranked passages

Every route takes `?org=` (default: "default"). An upload is imported like a file of
`botgate kb import`: same formats, unchanged bytes are a no-op, a changed file replaces its
passages in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from gateway.config import Settings
from gateway.errors import PayloadError
from gateway.http.auth import principal, requires
from gateway.http.inbound import json_response, read_body
from gateway.kb.errors import DocumentNotFound, EmptyDocument
from gateway.kb.importer import Importer
from gateway.kb.names import collection_name, document_path
from gateway.kb.search import KnowledgeBase, find_collection
from store import audit
from store import kb as records
from store.database import Database

PREFIX = "/kb/collections"


@dataclass
class KbDeps:
    settings: Settings
    db: Database
    kb: KnowledgeBase


KB_DEPS = web.AppKey("kb_deps", KbDeps)


def add_routes(app: web.Application, deps: KbDeps) -> None:
    app[KB_DEPS] = deps
    app.router.add_get(PREFIX, list_collections)
    app.router.add_get(PREFIX + "/{collection}/documents", list_documents)
    app.router.add_put(PREFIX + "/{collection}/documents/{path:.+}", put_document)
    app.router.add_delete(PREFIX + "/{collection}/documents/{path:.+}", delete_document)
    app.router.add_delete(PREFIX + "/{collection}", delete_collection)
    app.router.add_get(PREFIX + "/{collection}/search", search)


def _organization(request: web.Request) -> str:
    return request.query.get("org", "default")


def _collection(request: web.Request) -> str:
    return collection_name(request.match_info["collection"])


async def list_collections(request: web.Request) -> web.Response:
    deps = request.app[KB_DEPS]
    async with deps.db.transaction() as session:
        stats = await records.collection_stats(session, request.query.get("org"))
    return json_response(200, {"collections": [_collection_json(item) for item in stats]})


def _collection_json(item: records.CollectionStats) -> dict[str, object]:
    c = item.collection
    return {
        "name": c.name,
        "organization": c.organization,
        "documents": item.documents,
        "passages": item.passages,
        "language": c.language,
        "base_url": c.base_url,
        "embedding_model": c.embedding_model,
    }


async def list_documents(request: web.Request) -> web.Response:
    deps = request.app[KB_DEPS]
    async with deps.db.transaction() as session:
        found = await find_collection(session, _organization(request), _collection(request))
        documents = await records.documents(session, found.id)
    listed = [
        {"path": d.path, "title": d.title, "passages": d.passages,
         "updated_at": d.updated_at.isoformat()}
        for d in documents
    ]  # fmt: skip
    return json_response(200, {"collection": found.name, "documents": listed})


@requires("write")
async def put_document(request: web.Request) -> web.Response:
    deps = request.app[KB_DEPS]
    name, path = _collection(request), document_path(request.match_info["path"])
    data = await read_body(request, deps.settings.kb.max_file_bytes)
    importer = Importer(deps.kb, deps.db, _organization(request), name)
    await importer.prepare()
    try:
        done = await importer.import_bytes(path, data)
    except EmptyDocument as exc:
        raise PayloadError(f"{path}: {exc}") from None
    await _audit(deps, request, "kb.import", f"{name}/{path}", {"outcome": done.outcome})
    status = 201 if done.outcome == "new" else 200
    return json_response(
        status, {"document": path, "outcome": done.outcome, "passages": done.passages}
    )


@requires("write")
async def delete_document(request: web.Request) -> web.Response:
    deps = request.app[KB_DEPS]
    name, path = _collection(request), request.match_info["path"]
    async with deps.db.transaction() as session:
        found = await find_collection(session, _organization(request), name)
        if not await records.delete_documents(session, found.id, [path]):
            raise DocumentNotFound(f"no document {path!r} in collection {name}")
        audit.record(session, principal(request).actor, "kb.delete", ("kb", f"{name}/{path}"))
    return json_response(200, {"deleted": path})


@requires("write")
async def delete_collection(request: web.Request) -> web.Response:
    deps = request.app[KB_DEPS]
    async with deps.db.transaction() as session:
        found = await find_collection(session, _organization(request), _collection(request))
        await records.delete_collection(session, found.id)
        audit.record(session, principal(request).actor, "kb.delete", ("kb", found.name))
    return json_response(200, {"deleted": found.name})


async def _audit(
    deps: KbDeps, request: web.Request, action: str, target: str, details: dict[str, object]
) -> None:
    async with deps.db.transaction() as session:
        audit.record(session, principal(request).actor, action, ("kb", target), details=details)


async def search(request: web.Request) -> web.Response:
    deps = request.app[KB_DEPS]
    try:
        limit = int(request.query.get("limit", "5"))
    except ValueError:
        raise PayloadError("limit must be a whole number") from None
    if not 1 <= limit <= 100:
        raise PayloadError("limit must be between 1 and 100")
    hits = await deps.kb.search(
        deps.db, _organization(request), [_collection(request)], request.query.get("q", ""),
        limit=limit,
    )  # fmt: skip
    results = [
        {"rank": rank, "document": h.document, "title": h.title, "heading": h.heading,
         "score": round(h.score, 4), "text": h.text, "url": h.url}
        for rank, h in enumerate(hits, start=1)
    ]  # fmt: skip
    return json_response(200, {"results": results})
