"""Platform credentials are encrypted at rest and read back with the key, never in plain."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.config import DatabaseConfig
from gateway.crypto import Vault, generate_key, vault_for
from gateway.errors import ConfigError
from store import bots as bot_records
from store.database import Database
from store.models import PlatformBot
from tests.support.pipeline import make_settings

TOKEN = "123456:telegram-token-that-must-not-leak"


async def test_credentials_are_stored_encrypted_and_decrypt_with_the_key(database_url: str) -> None:
    bots = [{"name": "helpdesk", "telegram": {"token": TOKEN, "webhook_secret": "hook-secret-1"}}]
    settings = make_settings(database_url, "memory://", bots=bots)
    vault = vault_for(settings)
    db = Database(DatabaseConfig(url=database_url))
    await db.migrate()
    try:
        async with db.transaction() as session:
            bot_ids = await bot_records.sync_bots(session, settings, vault)
            row = (await session.execute(select(PlatformBot))).scalar_one()
            stored = await bot_records.credentials(session, vault, bot_ids["helpdesk"], "telegram")
            with pytest.raises(ConfigError, match="do not decrypt"):
                await bot_records.credentials(
                    session, Vault(generate_key()), bot_ids["helpdesk"], "telegram"
                )
    finally:
        await db.close()
    assert TOKEN not in row.credentials
    assert "hook-secret-1" not in row.credentials
    assert "token" not in row.settings
    assert row.settings["mode"] == "webhook"
    assert stored == {"token": TOKEN, "webhook_secret": "hook-secret-1"}


def test_a_malformed_key_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="botgate keygen"):
        Vault("not-a-key")


def test_postgres_without_a_key_is_refused(tmp_path: Path) -> None:
    settings = make_settings("postgresql+asyncpg://db/x", "memory://")
    no_key = settings.model_copy(
        update={"security": settings.security.model_copy(update={"secret_key": None})}
    )
    with pytest.raises(ConfigError, match="secret_key is not set"):
        vault_for(no_key)
