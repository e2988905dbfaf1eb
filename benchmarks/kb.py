"""Knowledge-base figures: import rate, search latency, memory, the answer threshold.

    python -m benchmarks.kb import    --database-url URL [--docs FOLDER]
    python -m benchmarks.kb search    --database-url URL --passages N
    python -m benchmarks.kb threshold --database-url URL   (collections `python`, `postgres`)
    python -m benchmarks.kb tune      --database-url URL [--database-url URL2]   (the same)

`import` imports the Python manual (Debian's python3-doc) into a fresh collection and prints
passages per second. `search` builds a collection of N passages (the passages of the Python
and PostgreSQL manuals, repeated until there are N), then times the fused search
of the evaluation questions in this process, warm (the first round fills the caches and is
not counted), and prints p50/p95 and the process's RSS. Each prints one JSON object. Use a
database of its own: the collections it makes are named `bench-*`. `tune` is the
cross-validation that chose the fusion's weights (benchmarks/kb_tune.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import time
from pathlib import Path
from typing import Any

from benchmarks.kb_tune import run_tune
from gateway.config import DatabaseConfig, KbConfig
from gateway.kb.answer import relevance
from gateway.kb.embeddings import to_bytes
from gateway.kb.errors import QueryError
from gateway.kb.importer import Importer
from gateway.kb.passages import Passage
from gateway.kb.search import KnowledgeBase
from store import kb as records
from store import migrate
from store.database import Database

HERE = Path(__file__).resolve().parent.parent / "tests" / "kb"
PYTHON_DOCS = "/usr/share/doc/python3.11/html"
POSTGRES_DOCS = "/usr/share/doc/postgresql-doc-15/html"
EXCLUDE = ("_*", "genindex*", "search.html", "py-modindex.html")


async def run_import(db: Database, kb: KnowledgeBase, docs: str) -> dict[str, Any]:
    name = f"bench-import-{int(time.time())}"
    importer = Importer(kb, db, "default", name)
    await importer.prepare()
    report = await importer.run([Path(docs)], exclude=EXCLUDE)
    return {
        "documents": report.new,
        "passages": report.passages,
        "seconds": round(report.seconds, 1),
        "passages_per_second": round(report.passages / report.seconds, 1),
        "database": db.dialect,
    }


async def run_search(db: Database, kb: KnowledgeBase, passages: int) -> dict[str, Any]:
    name = f"bench-{passages}"
    async with db.transaction() as session:
        stats = await records.collection_stats(session, "default", [name])
    if not stats or stats[0].passages < passages:
        await _build(db, kb, name, passages)
    questions = _questions()
    await kb.warm()
    started = time.perf_counter()  # the first search reads the collection's vectors and postings
    await kb.search(db, "default", [name], questions[0])
    first = (time.perf_counter() - started) * 1000
    for question in questions:  # warm: the stems of the questions' words
        await kb.search(db, "default", [name], question)
    times = []
    cpu = time.process_time()
    for question in questions * 3:
        started = time.perf_counter()
        await kb.search(db, "default", [name], question)
        times.append((time.perf_counter() - started) * 1000)
    cpu = (time.process_time() - cpu) * 1000 / len(times)
    times.sort()
    return {
        "passages": passages,
        "queries": len(times),
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[int(len(times) * 0.95) - 1], 1),
        "cpu_ms_per_search": round(cpu, 1),  # this process's (SQLite runs in it)
        "first_search_ms": round(first),
        "load_average": round(os.getloadavg()[0], 1),  # the machine is shared: wall times vary
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "database": db.dialect,
    }


def _questions() -> list[str]:
    lines = (HERE / "python-doc.jsonl").read_text() + (HERE / "postgresql-doc.jsonl").read_text()
    return [json.loads(line)["query"] for line in lines.splitlines() if line.strip()]


async def _build(db: Database, kb: KnowledgeBase, name: str, passages: int) -> None:
    """`passages` passages: those of the Python and PostgreSQL manuals, repeated (each copy a
    document of its own) until there are enough; real text keeps real word frequencies."""
    pages = _manual_pages()
    async with db.transaction() as session:
        collection = await records.ensure_collection(session, "default", name)
    written, copy = 0, 0
    while written < passages:
        for path, made in pages:
            if written >= passages:
                break
            made = made[: passages - written]
            vectors = await kb.embedder.embed([p.embedding_text() for p in made])
            rows = [
                records.NewPassage(p.heading, p.text, to_bytes(v))
                for p, v in zip(made, vectors, strict=True)
            ]
            async with db.transaction() as session:
                await records.replace_document(
                    session, collection.id, path=f"{copy}/{path}", title=made[0].title,
                    content="", content_hash=f"{copy}/{path}", metadata={}, passages=rows,
                    embedding_model=kb.embedder.model_id,
                )  # fmt: skip
            written += len(rows)
        copy += 1


def _manual_pages() -> list[tuple[str, list[Passage]]]:
    from gateway.kb.errors import DocumentError
    from gateway.kb.formats import parse
    from gateway.kb.passages import split

    found = []
    for manual, root in (("python", PYTHON_DOCS), ("postgres", POSTGRES_DOCS)):
        for page in sorted(Path(root).rglob("*.html")):
            relative = f"{manual}/{page.relative_to(root)}"  # (both have a glossary.html)
            if relative.startswith("_") or "index" in page.name:
                continue
            try:
                made = split(parse(relative, page.read_bytes()))
            except DocumentError:
                continue
            found.append((relative, made))
    return found


async def run_threshold(db: Database, kb: KnowledgeBase) -> dict[str, Any]:
    """Best relevance of answerable (evaluation) and off-topic questions, per manual."""
    off_topic = [q for q in (HERE / "off-topic.txt").read_text().splitlines() if q.strip()]
    result: dict[str, Any] = {}
    for collection, file in (("python", "python-doc.jsonl"), ("postgres", "postgresql-doc.jsonl")):
        async with db.transaction() as session:
            if await records.collection(session, "default", collection) is None:
                continue  # import it (benchmarks.kb import, or botgate kb import) to measure it
        on = [json.loads(line)["query"] for line in (HERE / file).read_text().splitlines()]
        answerable = [await _best(db, kb, collection, q) for q in on]
        other = [await _best(db, kb, collection, q) for q in off_topic]
        result[collection] = {
            str(t): {
                "answerable": round(sum(s >= t for s in answerable) / len(answerable), 2),
                "off_topic": round(sum(s >= t for s in other) / len(other), 2),
            }
            for t in (0.35, 0.4, 0.45, 0.5, 0.55)
        }
    return result


async def _best(db: Database, kb: KnowledgeBase, collection: str, question: str) -> float:
    try:
        hits = await kb.search(db, "default", [collection], question, limit=3)
    except QueryError:
        return 0.0
    return max((relevance(hit) for hit in hits), default=0.0)


async def main(arguments: argparse.Namespace) -> dict[str, Any]:
    dbs = [Database(DatabaseConfig(url=url)) for url in arguments.database_url]
    db = dbs[0]
    try:
        for each in dbs:
            await migrate.upgrade(each.engine)
        async with KnowledgeBase(KbConfig()) as kb:
            if arguments.command == "import":
                return await run_import(db, kb, arguments.docs)
            if arguments.command == "search":
                return await run_search(db, kb, arguments.passages)
            if arguments.command == "tune":
                return await run_tune(dbs, kb)
            return await run_threshold(db, kb)
    finally:
        for each in dbs:
            await each.close()


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.kb")
    parser.add_argument("command", choices=["import", "search", "threshold", "tune"])
    parser.add_argument(
        "--database-url", required=True, action="append", help="several for `tune`"
    )
    parser.add_argument("--docs", default=PYTHON_DOCS)
    parser.add_argument("--passages", type=int, default=1000)
    return parser.parse_args()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(parse_arguments()))))
