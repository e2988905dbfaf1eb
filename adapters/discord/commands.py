"""The bot's tools as Discord application commands, registered by bulk overwrite when changed.

The hash of what was last registered (with the application and guild it went to) is kept in
the adapter's durable state, so that restarts and other processes do not overwrite again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from typing import Any

from discord.http import HTTPClient

from adapters.discord.state import AdapterState
from gateway.tools.base import CommandSpec

log = logging.getLogger(__name__)
Json = dict[str, Any]
STATE_KEY = "commands_hash"
_NAME = re.compile(r"^[a-z0-9_-]{1,32}$")


def command_payloads(commands: list[CommandSpec]) -> list[Json]:
    """One slash command per tool, each taking its arguments as one optional text."""
    named = {c.name.lower(): c for c in commands if _NAME.match(c.name.lower())}
    return [_command(name, named[name].description) for name in sorted(named)]


def _command(name: str, description: str) -> Json:
    return {
        "name": name,
        "type": 1,
        "description": (description or f"Run the {name} tool")[:100],
        "options": [
            {
                "type": 3,
                "name": "text",
                "description": "What to pass to the command",
                "required": False,
            }
        ],
    }


def commands_hash(payloads: list[Json], application_id: str, guild_id: str | None) -> str:
    canonical = json.dumps(
        [application_id, guild_id, payloads], sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


async def sync_commands(
    http: HTTPClient,
    state: AdapterState,
    commands: list[CommandSpec],
    application_id: str,
    guild_id: str | None,
) -> bool:
    """Bulk-overwrite the commands if they differ from the last registration; True if it did."""
    payloads = command_payloads(commands)
    digest = commands_hash(payloads, application_id, guild_id)
    if (await state.read()).get(STATE_KEY) == digest:
        return False
    if guild_id:
        await http.bulk_upsert_guild_commands(application_id, guild_id, payloads)
    else:
        await http.bulk_upsert_global_commands(application_id, payloads)
    await state.update(lambda current: current.__setitem__(STATE_KEY, digest))
    log.info("registered %d Discord application commands", len(payloads))
    return True
