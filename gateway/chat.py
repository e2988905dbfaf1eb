"""`botgate chat`: a terminal conversation with one bot through the whole pipeline.

On a terminal, a prompt (prompt_toolkit) edits the line, recalls earlier lines with the arrow
keys and keeps the bot's words above it. From a pipe, lines are read as they come and nothing
but the bot's words is written to stdout. A number presses the button the bot last offered
under that number.
"""

from __future__ import annotations

import asyncio
import sys
from contextlib import AbstractContextManager, nullcontext
from typing import Protocol

import click
from prompt_toolkit import PromptSession
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.patch_stdout import patch_stdout

from adapters.console import ConsoleAdapter
from gateway.app import Runtime
from gateway.config import BotConfig, Settings
from gateway.errors import ConfigError

PROMPT = "you> "


class Lines(Protocol):
    """Where the person's lines come from and the bot's go to."""

    async def read(self) -> str | None:
        """The next line, or None when the person leaves."""
        ...

    def show(self, text: str) -> None: ...

    def note(self, text: str) -> None: ...

    def attached(self) -> AbstractContextManager[None]:
        """While the chat runs (a terminal keeps output above its prompt)."""
        ...


async def run_chat(settings: Settings, bot_name: str | None) -> int:
    bot = _chosen(settings, bot_name)
    lines = TerminalLines() if sys.stdin.isatty() and sys.stdout.isatty() else PipedLines()
    console = ConsoleAdapter(bot, settings, output=lines.show)
    wait = settings.server.reply_wait.total_seconds()
    async with Runtime(
        settings, "all", adapters={("console", bot.name): console}, serve_http=False
    ):
        with lines.attached():
            lines.note(f"chatting with {bot.name}: up/down recall lines, a number presses a "
                       "button, Ctrl-D leaves")  # fmt: skip
            while (line := await lines.read()) is not None:
                if line.strip():
                    await _exchange(console, line.strip(), wait, lines)
    return 0


async def _exchange(console: ConsoleAdapter, text: str, wait: float, lines: Lines) -> None:
    """Say `text` (or press button `text`) and wait for the bot's answer."""
    event_id = await console.press(int(text)) if text.isdigit() else None
    if event_id is None:
        event_id = await console.say(text)
    if not await console.wait_answer(event_id, wait):
        lines.note(f"({console.bot.name} said nothing)")


def _chosen(settings: Settings, bot_name: str | None) -> BotConfig:
    bot = settings.bot(bot_name) if bot_name else (settings.bots[0] if settings.bots else None)
    if bot is None:
        known = ", ".join(b.name for b in settings.bots) or "none configured"
        raise ConfigError(
            f"--bot {bot_name or ''!r}: no such bot (bots: {known}); add a [[bots]] table to "
            "the config or name one of these"
        )
    return bot


class TerminalLines:
    """A prompt with line editing and history; output is shown above it."""

    def __init__(self) -> None:
        self._session: PromptSession[str] = PromptSession(history=InMemoryHistory())

    async def read(self) -> str | None:
        try:
            return await self._session.prompt_async(PROMPT)
        except (EOFError, KeyboardInterrupt):
            return None

    def show(self, text: str) -> None:
        print(text, flush=True)  # through patch_stdout: above the prompt

    def attached(self) -> AbstractContextManager[None]:
        return patch_stdout(raw=True)

    def note(self, text: str) -> None:
        print(text, flush=True)


class PipedLines:
    """Lines from a pipe or a file; the bot's words alone on stdout."""

    async def read(self) -> str | None:
        line = await asyncio.to_thread(sys.stdin.readline)
        return line if line else None

    def show(self, text: str) -> None:
        click.echo(text)

    def note(self, text: str) -> None:
        click.echo(text, err=True)

    def attached(self) -> AbstractContextManager[None]:
        return nullcontext()
