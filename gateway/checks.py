"""`botgate check`: the config loads, the database answers and is migrated, the bus connects."""

from __future__ import annotations

from collections.abc import Callable

from gateway.bus.factory import create_bus
from gateway.config import Settings
from gateway.crypto import vault_for
from gateway.errors import BotgateError
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
        vault_for(settings)
    except BotgateError as exc:
        say(f"security: FAIL: {exc}")
        return False
    say("security: ok")
    return True


async def _check_database(settings: Settings, say: Callable[[str], None]) -> bool:
    db = Database(settings.database)
    try:
        await db.ping()
        status = await db.migration_status()
    except BotgateError as exc:
        say(f"database: FAIL: {exc}")
        return False
    finally:
        await db.close()
    if not status.up_to_date:
        say(
            f"database: FAIL: {db.url_for_display} has pending migrations "
            f"({', '.join(status.pending)}); "
            "run `botgate migrate up` (serve applies them on start)"
        )
        return False
    say(f"database: ok ({db.url_for_display}, at {status.current})")
    return True


async def _check_bus(settings: Settings, say: Callable[[str], None]) -> bool:
    try:
        bus = create_bus(settings.bus.url)
        await bus.connect()
    except BotgateError as exc:
        say(f"bus: FAIL: {exc}")
        return False
    await bus.close()
    say(f"bus: ok ({bus.url_for_display})")
    return True
