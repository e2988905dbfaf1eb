from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gateway.config import DatabaseConfig
from gateway.core.recorder import Recorder
from gateway.crypto import Vault, generate_key
from store import bots as bot_records
from store.database import Database
from tests.support.pipeline import generic_bot, make_settings


@pytest.fixture
async def recorder(database_url: str) -> AsyncIterator[tuple[Recorder, Database]]:
    settings = make_settings(
        database_url, "memory://", bots=[generic_bot("helpdesk")], sessions={"idle_timeout": "30m"}
    )
    db = Database(DatabaseConfig(url=database_url))
    await db.migrate()
    async with db.transaction() as session:
        bot_ids = await bot_records.sync_bots(session, settings, Vault(generate_key()))
    yield Recorder(settings, bot_ids, owner="test-core"), db
    await db.close()
