from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.config import DatabaseConfig, KbConfig
from gateway.kb.embeddings import StaticEmbedder
from gateway.kb.importer import Importer
from gateway.kb.search import KnowledgeBase
from store import migrate
from store.database import Database
from tests.kb.pdfs import pdf_with_text

HANDBOOK = {
    "refunds.md": (
        "---\ntitle: Refund policy\n---\n# Refunds\n\nRefunds are issued within **14 days** of "
        "the return reaching our warehouse.\n\n## Exceptions\n\nGift cards and downloadable "
        "software cannot be refunded.\n"
    ),
    "shipping/europe.txt": (
        "Parcels to addresses in Europe arrive within three to five business days.\n\n"
        "Express delivery costs 10 EUR and arrives the next day."
    ),
    "support.html": (
        "<html><head><title>Support - Acme</title></head><body>"
        "<nav><a href='/'>Home</a> <a href='/shop'>Shop navigation link</a></nav>"
        "<main><h1>Contact support</h1><p>Call the support hotline at +49 30 1234 "
        "on weekdays between 9:00 and 17:00.</p><h2>Email</h2><p>Write to help@example.com; "
        "we answer every email within one business day.</p></main>"
        "<footer>Copyright Acme footer text</footer></body></html>"
    ),
    "warranty.rst": (
        "Warranty\n========\n\nEvery device carries a two year warranty against "
        "manufacturing defects.\n\nClaims\n------\n\nSend the device with the original "
        "receipt to our repair centre.\n"
    ),
}


def write_handbook(folder: Path) -> Path:
    for name, text in HANDBOOK.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (folder / "manual.pdf").write_bytes(
        pdf_with_text(["Press the power button for five seconds to reset the device."], "Manual")
    )
    return folder


@pytest.fixture(scope="session")
def embedder() -> StaticEmbedder:
    """One built-in model for the whole run: it is stateless once loaded."""
    model = StaticEmbedder()
    model.load()
    return model


@pytest.fixture
async def kb(embedder: StaticEmbedder) -> AsyncIterator[KnowledgeBase]:
    async with KnowledgeBase(KbConfig(), embedder) as base:
        yield base


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(DatabaseConfig(url=database_url))
    await migrate.upgrade(database.engine)
    yield database
    await database.close()


async def import_folder(
    kb: KnowledgeBase, db: Database, folder: Path, collection: str = "handbook", **options: object
) -> object:
    importer = Importer(kb, db, "acme", collection)
    await importer.prepare(**options)  # type: ignore[arg-type]
    return await importer.run([folder])
