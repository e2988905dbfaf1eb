"""Import: every format, re-import, change, prune, and files that cannot be imported."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import text

from gateway.kb.importer import Importer, ImportReport
from gateway.kb.search import KnowledgeBase
from store import kb as records
from store.database import Database
from tests.kb.conftest import import_folder, write_handbook
from tests.kb.pdfs import pdf_with_text, pdf_without_text


async def _documents(db: Database, collection: str = "handbook") -> dict[str, int]:
    async with db.transaction() as session:
        found = await records.collection(session, "acme", collection)
        assert found is not None
        return {d.path: d.passages for d in await records.documents(session, found.id)}


async def _run(kb: KnowledgeBase, db: Database, *paths: Path, prune: bool = False) -> ImportReport:
    importer = Importer(kb, db, "acme", "handbook")
    await importer.prepare()
    return await importer.run(list(paths), prune=prune)


async def test_every_format_is_imported_with_titles_and_headings(
    kb: KnowledgeBase, db: Database, tmp_path: Path
) -> None:
    report = await _run(kb, db, write_handbook(tmp_path / "docs"))
    assert (report.new, report.changed, report.unchanged, report.failed) == (5, 0, 0, [])
    documents = await _documents(db)
    assert set(documents) == {
        "refunds.md", "shipping/europe.txt", "support.html", "warranty.rst", "manual.pdf"
    }  # fmt: skip
    assert report.passages == sum(documents.values())
    hits = await kb.search(db, "acme", ["handbook"], "gift card refund", mode="keyword")
    assert (hits[0].document, hits[0].title, hits[0].heading) == (
        "refunds.md", "Refund policy", "Refunds > Exceptions"
    )  # fmt: skip
    html = await kb.search(db, "acme", ["handbook"], "support hotline", mode="keyword")
    assert (html[0].document, html[0].title) == ("support.html", "Contact support")
    rst = await kb.search(db, "acme", ["handbook"], "receipt repair", mode="keyword")
    assert (rst[0].title, rst[0].heading) == ("Warranty", "Claims")
    pdf = await kb.search(db, "acme", ["handbook"], "power button reset", mode="keyword")
    assert (pdf[0].document, pdf[0].title, pdf[0].heading) == ("manual.pdf", "Manual", "page 1")


async def test_html_navigation_and_footer_are_not_imported(
    kb: KnowledgeBase, db: Database, tmp_path: Path
) -> None:
    await _run(kb, db, write_handbook(tmp_path / "docs"))
    for chrome in ("navigation link", "footer text"):
        hits = await kb.search(db, "acme", ["handbook"], chrome, mode="keyword")
        assert all(chrome not in hit.text for hit in hits)


async def test_reimporting_unchanged_files_changes_nothing(
    kb: KnowledgeBase, db: Database, tmp_path: Path
) -> None:
    folder = write_handbook(tmp_path / "docs")
    await _run(kb, db, folder)
    async with db.transaction() as session:
        before = await records.collection(session, "acme", "handbook")
    again = await _run(kb, db, folder)
    async with db.transaction() as session:
        after = await records.collection(session, "acme", "handbook")
    assert (again.new, again.changed, again.unchanged, again.passages) == (0, 0, 5, 0)
    assert before is not None
    assert after is not None
    assert after.revision == before.revision  # nothing written


async def test_a_changed_file_replaces_its_passages(
    kb: KnowledgeBase, db: Database, tmp_path: Path
) -> None:
    folder = write_handbook(tmp_path / "docs")
    await _run(kb, db, folder)
    (folder / "refunds.md").write_text("# Refunds\n\nRefunds now take thirty days.\n")
    report = await _run(kb, db, folder)
    assert (report.new, report.changed, report.unchanged) == (0, 1, 4)
    assert (await _documents(db))["refunds.md"] == 1
    assert await kb.search(db, "acme", ["handbook"], "gift cards", mode="keyword") == []
    hits = await kb.search(db, "acme", ["handbook"], "thirty days", mode="keyword")
    assert hits[0].text == "Refunds now take thirty days."


async def test_prune_removes_documents_whose_files_are_gone(
    kb: KnowledgeBase, db: Database, tmp_path: Path
) -> None:
    folder = write_handbook(tmp_path / "docs")
    await _run(kb, db, folder)
    (folder / "warranty.rst").unlink()
    kept = await _run(kb, db, folder)
    assert kept.pruned == 0
    assert "warranty.rst" in await _documents(db)
    pruned = await _run(kb, db, folder, prune=True)
    assert pruned.pruned == 1
    assert "warranty.rst" not in await _documents(db)
    assert await kb.search(db, "acme", ["handbook"], "receipt repair", mode="keyword") == []


async def test_bad_files_are_named_with_the_reason_and_the_rest_imports(
    kb: KnowledgeBase, db: Database, tmp_path: Path
) -> None:
    folder = write_handbook(tmp_path / "docs")
    (folder / "latin1.txt").write_bytes("Caf\xe9 menu".encode("latin-1"))
    (folder / "scan.pdf").write_bytes(pdf_without_text())
    (folder / "broken.pdf").write_bytes(pdf_with_text(["cut short"])[:150])
    (folder / "loop").symlink_to(folder)
    (folder / "outside.md").symlink_to(tmp_path / "secret.md")
    (tmp_path / "secret.md").write_text("# Secret\n\nnot for the collection\n")
    (folder / "dangling.md").symlink_to(tmp_path / "missing.md")
    (folder / "empty.md").write_text("")
    (folder / "image.png").write_bytes(b"\x89PNG")
    report = await _run(kb, db, folder, tmp_path / "nothing-here", tmp_path / "secret.md")
    failed = dict(report.failed)
    assert failed["latin1.txt"].startswith("not UTF-8 text (byte 0xe9 at offset 3)")
    assert "no text layer" in failed["scan.pdf"]
    assert failed["broken.pdf"].startswith("not a readable PDF")
    assert failed["loop"].startswith("symbolic link loop")
    assert "outside the folder imported" in failed["outside.md"]
    assert failed["dangling.md"] == "broken symbolic link"
    assert failed["nothing-here"] == "no such file or folder"
    assert len(failed) == 7
    assert (report.new, report.empty, report.skipped) == (6, 1, 1)  # secret.md given itself
    assert set(await _documents(db)) == {
        "refunds.md", "shipping/europe.txt", "support.html", "warranty.rst", "manual.pdf",
        "secret.md",
    }  # fmt: skip


async def test_a_file_that_fails_after_a_good_import_keeps_the_good_version(
    kb: KnowledgeBase, db: Database, tmp_path: Path
) -> None:
    folder = write_handbook(tmp_path / "docs")
    await _run(kb, db, folder)
    (folder / "manual.pdf").write_bytes(b"%PDF-1.4 truncated")
    report = await _run(kb, db, folder)
    assert [path for path, _ in report.failed] == ["manual.pdf"]
    hits = await kb.search(db, "acme", ["handbook"], "power button", mode="keyword")
    assert hits[0].document == "manual.pdf"


async def test_deleting_a_collection_empties_the_full_text_index(
    kb: KnowledgeBase, db: Database, tmp_path: Path
) -> None:
    await import_folder(kb, db, write_handbook(tmp_path / "docs"))
    async with db.transaction() as session:
        found = await records.collection(session, "acme", "handbook")
        assert found is not None
        await records.delete_collection(session, found.id)
    async with db.engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            count = "SELECT count(*) FROM kb_passages_fts WHERE kb_passages_fts MATCH 'refunds'"
        else:
            count = "SELECT count(*) FROM kb_passages WHERE search @@ to_tsquery('refunds')"
        assert (await connection.execute(text(count))).scalar_one() == 0


async def test_a_new_embedding_model_reembeds_on_the_next_import(
    kb: KnowledgeBase, db: Database, tmp_path: Path
) -> None:
    folder = write_handbook(tmp_path / "docs")
    await _run(kb, db, folder)
    async with db.transaction() as session:
        found = await records.collection(session, "acme", "handbook")
        assert found is not None
        await records.set_embeddings(session, found.id, "an-older-model", [])
    assert await kb.search(db, "acme", ["handbook"], "warranty", mode="semantic") == []
    report = await _run(kb, db, folder)
    assert report.unchanged == 5
    async with db.transaction() as session:
        found = await records.collection(session, "acme", "handbook")
    assert found is not None
    assert found.embedding_model == kb.embedder.model_id
    hits = await kb.search(db, "acme", ["handbook"], "how long is the guarantee", mode="semantic")
    assert hits[0].document == "warranty.rst"


def test_symlinked_folders_inside_the_argument_are_followed(tmp_path: Path) -> None:
    from gateway.kb.walk import walk

    folder = write_handbook(tmp_path / "docs")
    os.symlink(folder / "shipping", folder / "delivery")
    found = walk([folder])
    paths = {item.path for item in found.found if item.problem is None}
    assert {"shipping/europe.txt", "delivery/europe.txt"} <= paths
