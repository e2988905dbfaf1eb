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

log = logging.getLogger(__name__)
Json = dict[str, Any]
STATE_KEY = "commands_hash"
_NAME = re.compile(r"^[a-z0-9_-]{1,32}$")
DESCRIPTIONS = {
    "help": "Show what this bot can do",
    "kb": "Search the knowledge base",
    "remember": "Remember something for later",
    "link": "Link your chat account to your user account",
}


def command_payloads(tools: list[str]) -> list[Json]:
    """One slash command per tool, each taking its arguments as one optional text."""
    names = sorted({tool.lower() for tool in tools if _NAME.match(tool.lower())})
    return [_command(name) for name in names]


def _command(name: str) -> Json:
    return {
        "name": name,
        "type": 1,
        "description": DESCRIPTIONS.get(name, f"Run the {name} tool"),
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
    tools: list[str],
    application_id: str,
    guild_id: str | None,
) -> bool:
    """Bulk-overwrite the commands if they differ from the last registration; True if it did."""
    payloads = command_payloads(tools)
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
