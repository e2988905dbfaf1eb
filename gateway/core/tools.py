"""Tools: what a bot can do on a command. Later tools (kb, remember, link) register the same way."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from gateway.config import BotConfig
from gateway.events import Event
from store.database import CoreConnection


@dataclass(frozen=True)
class Reply:
    text: str
    buttons: tuple[tuple[str, str], ...] = ()  # (id, label)


@dataclass
class ToolContext:
    """What a tool may use: the event, its bot, its session row and the open transaction."""

    event: Event
    bot: BotConfig
    bot_id: object
    session_id: object
    db: CoreConnection
    tools: Mapping[str, Tool] = field(default_factory=dict)


class Tool(Protocol):
    name: str
    description: str

    async def run(self, context: ToolContext, args: str) -> list[Reply]: ...


class HelpTool:
    name = "help"
    description = "list what I can do"

    async def run(self, context: ToolContext, args: str) -> list[Reply]:
        lines = [f"/{tool.name} — {tool.description}" for tool in context.tools.values()]
        return [Reply("Here is what I can do:\n" + "\n".join(lines))]


BUILTIN_TOOLS: dict[str, Tool] = {tool.name: tool for tool in (HelpTool(),)}
