"""A bot's responder chain, built from its config: its tools (commands, slash commands and
buttons whose id names a tool), then what answers plain messages (the knowledge base, an
assistant), then the fallback reply. The first link that answers wins."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.events import Event
from gateway.tools.base import Reply, Responder, Turn
from gateway.tools.registry import ToolRegistry
from gateway.tools.runner import ToolRunner


def command_of(event: Event) -> tuple[str | None, str]:
    """(tool name, arguments) the event asks for: a button's id, or a command."""
    if event.interaction is not None:
        return event.interaction.id, event.interaction.value or ""
    if event.message is not None and event.message.command is not None:
        return event.message.command.name.lower(), event.message.command.args
    return None, ""


class ToolResponder:
    """Runs the tool a command or button names, if the bot (or this session) has it."""

    def __init__(self, registry: ToolRegistry, runner: ToolRunner) -> None:
        self.registry, self.runner = registry, runner

    async def respond(self, turn: Turn) -> list[Reply] | None:
        name, args = command_of(turn.event)
        if name is None:
            return None
        tool = self.registry.available(turn.bot, name, turn.session_tools)
        if tool is None:
            return None  # not a tool of this bot: the fallback answers
        return await self.runner.run(tool, turn.call(name, args))


class Fallback:
    def __init__(self, default: str) -> None:
        self.default = default

    async def respond(self, turn: Turn) -> list[Reply] | None:
        return [Reply(turn.bot.fallback_reply or self.default)]


class Chain:
    def __init__(self, responders: Sequence[Responder]) -> None:
        self.responders = list(responders)

    async def answer(self, turn: Turn) -> list[Reply]:
        for responder in self.responders:
            replies = await responder.respond(turn)
            if replies is not None:
                return replies
        return []
