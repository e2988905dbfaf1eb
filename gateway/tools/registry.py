"""The tool registry: the one source of every bot's tools. `help` lists from it, Discord
application commands and Telegram's command menu are registered from it, and every command,
slash command and button is dispatched through it."""

from __future__ import annotations

from contextlib import AsyncExitStack

import aiohttp

from gateway.bus.base import Bus
from gateway.config import BotConfig, Settings, ToolConfig
from gateway.tools.base import CommandSpec, Tool
from gateway.tools.builtin.help import HelpTool
from gateway.tools.builtin.kb import KbTool
from gateway.tools.builtin.lang import LangTool
from gateway.tools.builtin.link import LinkTool, UnlinkTool
from gateway.tools.builtin.notes import ForgetTool, RememberTool
from gateway.tools.kinds.bus import BusAnswers, BusTool
from gateway.tools.kinds.http import HttpTool
from gateway.tools.kinds.python import PythonTool, entry_point_tools, load_entry
from gateway.tools.names import BUILTIN_NAMES, with_companions


def builtin_tools() -> dict[str, Tool]:
    tools: list[Tool] = [
        HelpTool(),
        KbTool(),
        RememberTool(),
        ForgetTool(),
        LinkTool(),
        UnlinkTool(),
        LangTool(),
    ]
    return {tool.name: tool for tool in tools}


class ToolRegistry:
    """Built-ins, `[tools.NAME]` tables and `botgate.tools` entry points, by name. Opened with
    `start` (HTTP client, bus answer queue) and closed with `stop`."""

    def __init__(self, settings: Settings, bus: Bus, extra: dict[str, Tool] | None = None) -> None:
        self.settings, self.bus = settings, bus
        self._tools: dict[str, Tool] = {**builtin_tools(), **(extra or {})}
        self._stack = AsyncExitStack()
        # One higher whenever a tool is registered: what is derived from the tools (`help`'s
        # text) is cached under it.
        self.generation = 0

    async def start(self) -> None:
        try:
            await self._open_configured(self.settings.tools)
            wanted = {name for bot in self.settings.bots for name in bot.tools}
            missing = wanted - set(self._tools) - set(self.settings.tools) - BUILTIN_NAMES
            self._tools.update(entry_point_tools(missing))
            self.generation += 1
        except BaseException:
            await self._stack.aclose()
            raise

    async def stop(self) -> None:
        await self._stack.aclose()

    async def _open_configured(self, configured: dict[str, ToolConfig]) -> None:
        kinds = {config.kind for config in configured.values()}
        http = answers = None
        if "http" in kinds:
            http = await self._stack.enter_async_context(aiohttp.ClientSession())
        if "bus" in kinds:
            answers = BusAnswers(self.bus)
            await answers.start()
            self._stack.push_async_callback(answers.stop)
        for name, config in configured.items():
            self._tools[name] = self._configured(name, config, http, answers)
            self.generation += 1

    @staticmethod
    def _configured(
        name: str,
        config: ToolConfig,
        http: aiohttp.ClientSession | None,
        answers: BusAnswers | None,
    ) -> Tool:
        if config.kind == "http":
            assert http is not None
            return HttpTool(name, config, http)
        if config.kind == "bus":
            assert answers is not None
            return BusTool(name, config, answers)
        assert config.entry is not None
        return PythonTool(
            name,
            load_entry(name, config.entry),
            description=config.description or None,
            timeout=config.timeout.total_seconds(),
            parameters=config.parameters,
        )

    def add(self, tool: Tool) -> None:
        """Register a tool made in code (a built-in of another part, a test's)."""
        self._tools[tool.name] = tool
        self.generation += 1

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def names(self) -> list[str]:
        return sorted(self._tools)

    def tools_for(self, bot: BotConfig) -> list[Tool]:
        """The bot's tools in its listed order, each with its companions (`forget`, `unlink`)."""
        return [tool for name in with_companions(bot.tools) if (tool := self._tools.get(name))]

    def commands_for(self, bot: BotConfig) -> list[CommandSpec]:
        return [CommandSpec(tool.name, tool.description) for tool in self.tools_for(bot)]

    def available(self, bot: BotConfig, name: str, session_tools: tuple[str, ...]) -> Tool | None:
        """The tool `name` if this bot, or this session, has it."""
        if name in session_tools or name in with_companions(bot.tools):
            return self._tools.get(name)
        return None
