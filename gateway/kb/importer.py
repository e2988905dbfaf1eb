"""Importing files into a collection.

Per file: read, hash (sha256 of the bytes), and stop there when the collection holds the
same bytes already; else parse (in a worker thread), split into passages, embed them, and
write the document with its passages in one transaction, in place of the earlier version.
A file that fails is reported with its reason and changes nothing; the others go on.

When the collection's vectors came from another embedding model than the one configured,
every passage is embedded again first (one transaction), so that a collection's vectors
always come from one model.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from gateway.kb import formats
from gateway.kb.embeddings import to_bytes
from gateway.kb.errors import DocumentError, EmbeddingError, EmptyDocument
from gateway.kb.passages import Passage, split
from gateway.kb.progress import NullProgress, Progress
from gateway.kb.search import KnowledgeBase
from gateway.kb.walk import Found, walk
from store import kb as records
from store.database import Database

Outcome = Literal["new", "changed", "unchanged"]
REEMBED_BATCH = 2048


@dataclass
class ImportReport:
    collection: str
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    empty: int = 0  # files with no text: nothing to search, not an error
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    pruned: int = 0
    passages: int = 0  # written by this import
    skipped: int = 0  # files of other types in the folders walked
    seconds: float = 0.0

    def count(self, outcome: Outcome, passages: int) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)
        self.passages += passages

    def summary(self) -> str:
        parts = [
            f"{self.new} new",
            f"{self.changed} changed",
            f"{self.unchanged} unchanged",
            f"{len(self.failed)} failed",
        ]
        if self.empty:
            parts.append(f"{self.empty} without text")
        if self.pruned:
            parts.append(f"{self.pruned} removed")
        skipped = f"; {self.skipped} files of other types skipped" if self.skipped else ""
        return (
            f"{self.collection}: {', '.join(parts)}; {self.passages} passages written"
            f"{skipped}; {self.seconds:.1f} s"
        )


@dataclass(frozen=True)
class Imported:
    outcome: Outcome
    passages: int


class Importer:
    def __init__(
        self,
        kb: KnowledgeBase,
        db: Database,
        organization: str,
        collection: str,
        progress: Progress | None = None,
    ) -> None:
        self.kb, self.db = kb, db
        self.organization, self.name = organization, collection
        self.progress = progress or NullProgress()
        self._collection: records.Collection | None = None

    async def prepare(self, *, language: str | None = None, base_url: str | None = None) -> None:
        """Create the collection if needed, apply settings, re-embed for a new model."""
        async with self.db.transaction() as session:
            created = await records.ensure_collection(session, self.organization, self.name)
            await records.configure_collection(
                session, created.id, language=language, base_url=base_url
            )
            found = await records.collection(session, self.organization, self.name)
        assert found is not None
        self._collection = found
        await self._reembed(found)

    async def run(
        self, paths: Sequence[Path], *, prune: bool = False, exclude: Sequence[str] = ()
    ) -> ImportReport:
        started = time.perf_counter()
        if self._collection is None:
            await self.prepare()
        assert self._collection is not None
        report = ImportReport(self.name)
        found = await asyncio.to_thread(walk, paths, exclude)
        report.skipped = found.skipped
        async with self.db.transaction() as session:
            stored = await records.stored_documents(session, self._collection.id)
        self.progress.start(len(found.found))
        for item in found.found:
            await self._one(item, stored, report)
        if prune:
            report.pruned = await self._prune(stored, {item.path for item in found.found})
        self.progress.finish()
        report.seconds = time.perf_counter() - started
        return report

    async def _one(
        self, item: Found, stored: dict[str, records.StoredDocument], report: ImportReport
    ) -> None:
        try:
            if item.problem:
                raise DocumentError(item.problem)
            data = await asyncio.to_thread(_read, item.file, self.kb.config.max_file_bytes)
            done = await self._import(item.path, data, stored.get(item.path))
        except EmptyDocument as exc:
            await self._forget(item.path, stored)
            report.empty += 1
            self.progress.step(item.path, "empty", str(exc))
            return
        except (DocumentError, EmbeddingError) as exc:
            report.failed.append((item.path, str(exc)))
            self.progress.step(item.path, "failed", str(exc))
            return
        report.count(done.outcome, done.passages)
        detail = _passages(done.passages) if done.outcome != "unchanged" else ""
        self.progress.step(item.path, done.outcome, detail)

    async def import_bytes(self, path: str, data: bytes) -> Imported:
        """One document from its bytes (the admin API's upload)."""
        assert self._collection is not None, "prepare() first"
        async with self.db.transaction() as session:
            stored = await records.stored_documents(session, self._collection.id, [path])
        return await self._import(path, data, stored.get(path))

    async def _import(
        self, path: str, data: bytes, stored: records.StoredDocument | None
    ) -> Imported:
        collection = self._collection
        assert collection is not None, "prepare() first"
        digest = hashlib.sha256(data).hexdigest()
        if stored is not None and stored.content_hash == digest:
            return Imported("unchanged", 0)
        document = await asyncio.to_thread(formats.parse, path, data)
        passages = split(document, self.kb.config.passage_chars)
        vectors = await self.kb.embedder.embed([p.embedding_text() for p in passages])
        async with self.db.transaction() as session:
            await records.replace_document(
                session,
                collection.id,
                path=path,
                title=document.title,
                content=document.text,
                content_hash=digest,
                metadata={**document.metadata, "bytes": len(data)},
                passages=_new_passages(passages, vectors),
                embedding_model=self.kb.embedder.model_id,
            )
        return Imported("changed" if stored is not None else "new", len(passages))

    async def _forget(self, path: str, stored: dict[str, records.StoredDocument]) -> None:
        """A file that has no text any more: its earlier version goes."""
        assert self._collection is not None
        if path in stored:
            async with self.db.transaction() as session:
                await records.delete_documents(session, self._collection.id, [path])

    async def _prune(self, stored: dict[str, records.StoredDocument], seen: set[str]) -> int:
        assert self._collection is not None
        gone = sorted(set(stored) - seen)
        async with self.db.transaction() as session:
            count = await records.delete_documents(session, self._collection.id, gone)
        for path in gone:
            self.progress.note(f"removed {path}")
        return count

    async def _reembed(self, collection: records.Collection) -> None:
        model = self.kb.embedder.model_id
        if collection.embedding_model in (None, model):
            return
        async with self.db.transaction() as session:
            rows = await records.passage_texts(session, collection.id)
        self.progress.note(
            f"{self.name}: embedding {len(rows)} passages again with {model} "
            f"(they were embedded with {collection.embedding_model})"
        )
        vectors = []
        for start in range(0, len(rows), REEMBED_BATCH):
            batch = rows[start : start + REEMBED_BATCH]
            texts = [
                Passage(title, heading, text).embedding_text() for _, title, heading, text in batch
            ]
            embedded = await self.kb.embedder.embed(texts)
            vectors += [
                (row[0], to_bytes(vector)) for row, vector in zip(batch, embedded, strict=True)
            ]
        async with self.db.transaction() as session:
            await records.set_embeddings(session, collection.id, model, vectors)


def _new_passages(passages: Sequence[Passage], vectors: object) -> list[records.NewPassage]:
    return [
        records.NewPassage(p.heading, p.text, to_bytes(vector))
        for p, vector in zip(passages, vectors, strict=True)  # type: ignore[call-overload]
    ]


def _passages(count: int) -> str:
    return f"{count} passage" if count == 1 else f"{count} passages"


def _read(file: Path, limit: int) -> bytes:
    try:
        size = file.stat().st_size
        if size > limit:
            raise DocumentError(
                f"file is {size / 2**20:.1f} MiB, over kb.max_file_bytes ({limit / 2**20:.0f} MiB)"
            )
        return file.read_bytes()
    except OSError as exc:
        raise DocumentError(f"cannot read it: {exc.strerror or exc}") from None
