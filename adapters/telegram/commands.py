"""The bot's tools as Telegram's command menu (`setMyCommands`), set only when they changed.

The hash of what was last set is kept in the adapter's durable state, so that restarts and
other processes do not set it again."""

from __future__ import annotations

import hashlib
import json
import logging
import re

from telegram import Bot, BotCommand
from telegram.error import TelegramError

from adapters.base import AdapterContext
from adapters.telegram.client import describe
from gateway.tools.base import CommandSpec

log = logging.getLogger(__name__)
PLATFORM = "telegram"
STATE_KEY = "commands_hash"
_NAME = re.compile(r"^[a-z0-9_]{1,32}$")  # Telegram's command names


def command_menu(commands: list[CommandSpec]) -> list[tuple[str, str]]:
    """(command, description) pairs Telegram takes: descriptions of 1 to 256 characters."""
    return [
        (c.name, (c.description or f"run {c.name}")[:256]) for c in commands if _NAME.match(c.name)
    ]


async def sync_commands(bot: Bot, context: AdapterContext, bot_name: str) -> bool:
    """Set the command menu if it differs from the last one set; True if it did."""
    menu = command_menu(context.commands(bot_name))
    digest = hashlib.sha256(json.dumps(menu).encode()).hexdigest()
    if (await context.load_state(PLATFORM, bot_name)).get(STATE_KEY) == digest:
        return False
    try:
        await bot.set_my_commands([BotCommand(name, text) for name, text in menu])
    except TelegramError as exc:  # the menu is a convenience: the commands work without it
        log.warning("setMyCommands failed for %s: %s", bot_name, describe(exc))
        return False
    await context.update_state(PLATFORM, bot_name, lambda state: state.update({STATE_KEY: digest}))
    log.info("set the Telegram command menu of %s (%d commands)", bot_name, len(menu))
    return True
