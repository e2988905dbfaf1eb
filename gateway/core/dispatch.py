"""Dispatch: should the bot answer an event, and with what.

A chain of responders is asked in order; the first that answers wins. The command router
comes first and the fallback last; knowledge-base lookups and other responders plug in
between without changing the core.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from gateway.config import BotConfig, CoreConfig
from gateway.core.tools import BUILTIN_TOOLS, Reply, Tool, ToolContext
from gateway.events import Action, Button, Event

ANSWERED_TYPES = frozenset({"message.created", "command.invoked", "interaction.clicked"})


def should_answer(event: Event) -> bool:
    """CONTRACT section 5: every message in direct channels; elsewhere only what is addressed."""
    if event.type not in ANSWERED_TYPES or (event.user is not None and event.user.is_bot):
        return False
    if event.type in {"command.invoked", "interaction.clicked"} or event.channel.type == "direct":
        return True
    message = event.message
    return message is not None and (
        message.command is not None or message.mentions_bot or message.reply_to_bot
    )


class Responder(Protocol):
    async def respond(self, context: ToolContext) -> list[Reply] | None:
        """Replies, or None to let the next responder try."""
        ...


class CommandRouter:
    """`/name args` (and slash / application commands, and button ids) to the bot's tools."""

    async def respond(self, context: ToolContext) -> list[Reply] | None:
        name, args = _command_of(context.event)
        if name is None:
            return None
        tool = context.tools.get(name)
        if tool is None:
            return [Reply(f"I don't know /{name}. Type /help to see what I can do.")]
        return await tool.run(context, args)


class Fallback:
    def __init__(self, default: str) -> None:
        self.default = default

    async def respond(self, context: ToolContext) -> list[Reply] | None:
        return [Reply(context.bot.fallback_reply or self.default)]


def _command_of(event: Event) -> tuple[str | None, str]:
    if event.interaction is not None:
        return event.interaction.id, event.interaction.value or ""
    if event.message is not None and event.message.command is not None:
        return event.message.command.name, event.message.command.args
    return None, ""


class Dispatcher:
    def __init__(self, config: CoreConfig, tools: dict[str, Tool] | None = None) -> None:
        self.tools = {**BUILTIN_TOOLS, **(tools or {})}
        self.responders: list[Responder] = [CommandRouter(), Fallback(config.fallback_reply)]

    def tools_of(self, bot: BotConfig) -> dict[str, Tool]:
        return {name: self.tools[name] for name in bot.tools if name in self.tools}

    async def replies(self, context: ToolContext) -> list[Reply]:
        for responder in self.responders:
            answer = await responder.respond(context)
            if answer is not None:
                return answer
        return []


def to_actions(event: Event, replies: Sequence[Reply]) -> list[Action]:
    """`message.send` actions answering `event` where it was said."""
    reply_to = event.message.id if event.message and event.channel.type != "direct" else None
    return [
        Action(
            type="message.send",
            platform=event.platform,
            bot=event.bot,
            channel_id=event.channel.id,
            thread_id=event.thread_id,
            reply_to_id=reply_to,
            in_reply_to=event.id,
            text=reply.text,
            buttons=[Button(id=i, label=label) for i, label in reply.buttons],
        )
        for reply in replies
    ]
