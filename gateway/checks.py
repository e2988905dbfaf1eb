"""`botgate check`: the config loads, the database answers and is migrated, the bus connects.

It only reads: no database file, table, key file or broker object is created.
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.bus.factory import probe_bus
from gateway.config import Settings
from gateway.crypto import KEY_FILE, existing_vault
from gateway.errors import BotgateError
from gateway.urls import hide_password
from store.database import Database


async def run_checks(settings: Settings, say: Callable[[str], None]) -> int:
    """Say what is fine and what is not; 0 when all is well."""
    say(f"config: {settings.source}, {len(settings.bots)} bot(s)")
    results = [
        await _check_security(settings, say),
        await _check_database(settings, say),
        await _check_bus(settings, say),
    ]
    return 0 if all(results) else 1


async def _check_security(settings: Settings, say: Callable[[str], None]) -> bool:
    try:
        vault = existing_vault(settings)
    except BotgateError as exc:
        say(f"security: FAIL: {exc}")
        return False
    if vault is None:
        say(f"security: ok (no secret_key: `botgate serve` generates ./{KEY_FILE} on first start)")
    else:
        say("security: ok")
    return True


async def _check_database(settings: Settings, say: Callable[[str], None]) -> bool:
    try:
        async with Database.open_existing(settings.database) as db:
            status = await db.migration_status()
    except BotgateError as exc:
        say(f"database: FAIL: {exc}")
        return False
    say(f"database: ok ({db.url_for_display}, at {status.current})")
    return True


async def _check_bus(settings: Settings, say: Callable[[str], None]) -> bool:
    try:
        await probe_bus(settings.bus.url)
    except BotgateError as exc:
        say(f"bus: FAIL: {exc}")
        return False
    say(f"bus: ok ({hide_password(settings.bus.url)})")
    return True
