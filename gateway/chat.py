"""`botgate chat`: a terminal conversation with one bot through the whole pipeline."""

from __future__ import annotations

import asyncio
import sys

import click

from adapters.console import ConsoleAdapter
from gateway.app import Runtime
from gateway.config import Settings
from gateway.errors import ConfigError


async def run_chat(settings: Settings, bot_name: str | None) -> int:
    bot = settings.bot(bot_name) if bot_name else (settings.bots[0] if settings.bots else None)
    if bot is None:
        known = ", ".join(b.name for b in settings.bots) or "none configured"
        raise ConfigError(f"no bot {bot_name or ''!r} to chat with (bots: {known})")
    console = ConsoleAdapter(bot, settings, output=click.echo)
    wait = settings.server.reply_wait.total_seconds()
    async with Runtime(
        settings, "all", adapters={("console", bot.name): console}, serve_http=False
    ):
        click.echo(f"chatting with {bot.name}; Ctrl-D to leave", err=True)
        while line := await asyncio.to_thread(sys.stdin.readline):
            if line.strip():
                event_id = await console.say(line.strip())
                if not await console.wait_answer(event_id, wait):
                    click.echo(f"({bot.name} said nothing)", err=True)
    return 0
