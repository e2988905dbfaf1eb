"""`botgate kb ...`: import, search, list, delete, eval.

`kb import` migrates the database like `serve` does (it is how a fresh machine gets its
first collection). The read-only commands (`list`, `search`, `eval`) create nothing: they
refuse a missing SQLite file or a database whose migrations are pending, with what to do.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import click

from gateway import codec
from gateway.cli_support import config_option
from gateway.cli_support import run as _run
from gateway.cli_support import settings_from as _settings
from gateway.config import Settings
from gateway.kb.errors import DocumentNotFound, KbError
from gateway.kb.names import collection_name
from gateway.kb.search import MODES, Hit, KnowledgeBase, Mode, find_collection
from store import kb as records
from store.database import Database

_org = click.option("--org", "organization", default="default", show_default=True)


def _collection(name: str) -> str:
    try:
        return collection_name(name)
    except KbError as exc:
        raise click.BadParameter(str(exc), param_hint="COLLECTION") from None


@asynccontextmanager
async def kb_database(
    settings: Settings, *, write: bool, create: bool = False
) -> AsyncIterator[Database]:
    """The database: created and migrated with `create` (an import); else it must exist and
    be migrated already, and only `write` commands may change it (nothing is created)."""
    if not create:
        async with Database.open_existing(settings.database) as existing:
            if not write:
                yield existing
                return
    db = Database(settings.database)
    try:
        await db.ping()
        if create:
            await db.migrate()
        yield db
    finally:
        await db.close()


@click.group("kb")
def kb() -> None:
    """The knowledge base: import documents, search them, measure retrieval."""


@kb.command("import")
@config_option
@click.argument("collection")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@_org
@click.option("--prune", is_flag=True, help="Remove documents whose files were not found.")
@click.option("--exclude", multiple=True, metavar="GLOB", help="Skip matching paths or folders.")
@click.option("--language", help="Full-text language of the collection (default: kb.language).")
@click.option("--base-url", help="Citations link to BASE_URL/<document path>.")
def import_(
    config_path: str | None,
    collection: str,
    paths: tuple[Path, ...],
    organization: str,
    prune: bool,
    exclude: tuple[str, ...],
    language: str | None,
    base_url: str | None,
) -> None:
    """Import files and folders (Markdown, text, HTML, reStructuredText, PDF)."""
    from gateway.kb.importer import Importer
    from gateway.kb.languages import check_language
    from gateway.kb.progress import progress_for

    settings = _settings(config_path)
    name = _collection(collection)
    if language is not None:
        try:
            check_language(language)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--language") from None

    async def run() -> int:
        async with (
            kb_database(settings, write=True, create=True) as db,
            KnowledgeBase(settings.kb) as base,
        ):
            importer = Importer(base, db, organization, name, progress_for(sys.stderr))
            await importer.prepare(language=language, base_url=base_url)
            report = await importer.run(list(paths), prune=prune, exclude=exclude)
        click.echo(report.summary())
        return 1 if report.failed else 0

    _run(run)


@kb.command()
@config_option
@click.argument("collection")
@click.argument("query")
@_org
@click.option("--limit", type=click.IntRange(1, 100), default=5, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--mode", type=click.Choice(MODES), default="fused", show_default=True)
def search(
    config_path: str | None,
    collection: str,
    query: str,
    organization: str,
    limit: int,
    as_json: bool,
    mode: Mode,
) -> None:
    """Ranked passages for QUERY, best first."""
    settings = _settings(config_path)
    name = _collection(collection)

    async def run() -> int:
        async with kb_database(settings, write=False) as db, KnowledgeBase(settings.kb) as base:
            hits = await base.search(db, organization, [name], query, limit=limit, mode=mode)
        for rank, hit in enumerate(hits, start=1):
            click.echo(_json_line(rank, hit) if as_json else _text_lines(rank, hit))
        if not hits:
            click.echo(f"nothing found in {name} for that question", err=True)
        return 0

    _run(run)


def _json_line(rank: int, hit: Hit) -> str:
    line = {
        "rank": rank,
        "document": hit.document,
        "title": hit.title,
        "heading": hit.heading,
        "score": round(hit.score, 4),
        "text": hit.text,
    }
    return codec.dumps(line).decode()


def _text_lines(rank: int, hit: Hit) -> str:
    where = " > ".join(part for part in (hit.title, hit.heading) if part)
    text = " ".join(hit.text.split())
    text = text if len(text) <= 300 else text[:297] + "..."
    return f"{rank}. {where} [{hit.document}] score {hit.score:.2f}\n   {text}"


@kb.command("list")
@config_option
@click.argument("collection", required=False)
@click.option("--org", "organization", default=None, help="Only this organization's.")
def list_(config_path: str | None, collection: str | None, organization: str | None) -> None:
    """Collections with their counts, or the documents of COLLECTION."""
    settings = _settings(config_path)

    async def run() -> int:
        async with kb_database(settings, write=False) as db, db.transaction() as session:
            if collection is None:
                lines = _collections_table(await records.collection_stats(session, organization))
            else:
                found = await find_collection(
                    session, organization or "default", _collection(collection)
                )
                lines = _documents_table(await records.documents(session, found.id))
        click.echo("\n".join(lines))
        return 0

    _run(run)


def _collections_table(stats: list[records.CollectionStats]) -> list[str]:
    if not stats:
        return ["no collections yet: `botgate kb import COLLECTION PATH` makes one"]
    rows = [("COLLECTION", "ORGANIZATION", "DOCUMENTS", "PASSAGES", "LANGUAGE", "MODEL")]
    for item in stats:
        c = item.collection
        rows.append(
            (c.name, c.organization, str(item.documents), str(item.passages), c.language,
             c.embedding_model or "-")
        )  # fmt: skip
    return _table(rows)


def _documents_table(documents: list[records.DocumentInfo]) -> list[str]:
    if not documents:
        return ["no documents"]
    rows = [("PATH", "PASSAGES", "TITLE")]
    rows += [(d.path, str(d.passages), d.title) for d in documents]
    return _table(rows)


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            for row in rows]  # fmt: skip


@kb.command()
@config_option
@click.argument("collection")
@click.argument("document", required=False)
@_org
def delete(
    config_path: str | None, collection: str, document: str | None, organization: str
) -> None:
    """Remove a collection, or one DOCUMENT (its path) from it."""
    settings = _settings(config_path)
    name = _collection(collection)

    async def run() -> int:
        async with kb_database(settings, write=True) as db, db.transaction() as session:
            found = await find_collection(session, organization, name)
            if document is None:
                stats = await records.collection_stats(session, organization, [name])
                await records.delete_collection(session, found.id)
                message = (
                    f"deleted collection {name} ({stats[0].documents} documents, "
                    f"{stats[0].passages} passages)"
                )
            elif await records.delete_documents(session, found.id, [document]):
                message = f"deleted {document} from {name}"
            else:
                raise DocumentNotFound(f"no document {document!r} in collection {name}")
        click.echo(message)
        return 0

    _run(run)


@kb.command("eval")
@config_option
@click.argument("collection")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--k", "k", type=click.IntRange(1, 50), default=5, show_default=True)
@_org
@click.option("--mode", type=click.Choice(MODES), default="fused", show_default=True)
def eval_(
    config_path: str | None, collection: str, file: Path, k: int, organization: str, mode: Mode
) -> None:
    """Retrieval quality: recall@k and MRR over FILE's questions (JSON lines)."""
    from gateway.kb.eval import evaluate, load_cases

    settings = _settings(config_path)
    name = _collection(collection)
    try:
        cases = load_cases(file)
    except KbError as exc:
        raise click.ClickException(str(exc)) from None

    async def run() -> int:
        async with kb_database(settings, write=False) as db, KnowledgeBase(settings.kb) as base:
            result = await evaluate(base, db, organization, name, cases, k=k, mode=mode)
        click.echo(codec.dumps(result.summary()).decode())
        return 0

    _run(run)
