"""Tools run by automations (`[[automations]] tool = …`): the same registry and runner as a
command, for a firing that may have no event (a schedule) and nobody waiting. A failing tool
fails the run (nothing is sent); its call is logged in `tool_calls` like any other."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

from gateway.config import Settings
from gateway.errors import PermanentError
from gateway.events import Event, MessageBody, ToolCall, ToolReply, conversation_key, utcnow
from gateway.tools.base import Refs, Services, Turn
from gateway.tools.runner import ToolRunner
from store import outbox


class AutomationTools:
    """`gateway.automations.runner.ToolRunner` on the tool registry."""

    def __init__(
        self,
        settings: Settings,
        services: Services,
        runner: ToolRunner,
        bot_ids: Mapping[str, uuid.UUID],
    ) -> None:
        self.settings, self.services, self.runner, self.bot_ids = (
            settings,
            services,
            runner,
            bot_ids,
        )

    async def run_tool(self, call: ToolCall) -> Sequence[ToolReply]:
        bot = self.settings.bot(call.bot)
        tool = self.services.registry.available(bot, call.tool, ()) if bot else None
        if bot is None or tool is None:
            raise PermanentError(f"bot {call.bot!r} has no tool {call.tool!r}")
        event = call.event or _fired(call)
        turn = Turn(call.id, event, bot, Refs(self.bot_ids[bot.name]), self.services)
        replies = await self.runner.run(tool, turn.call(call.tool, call.args), apologise=False)
        async with self.services.db.begin() as db:
            await outbox.log_tool_calls(db, turn.tool_calls)
        return [ToolReply(text=reply.text, buttons=list(reply.buttons)) for reply in replies]


def _fired(call: ToolCall) -> Event:
    """What a tool sees of a scheduled firing: a command in the automation's channel, from
    nobody."""
    now = utcnow()
    return Event(
        type="command.invoked",
        platform=call.platform,
        bot=call.bot,
        dedupe_key=f"{call.platform}:{call.bot}:automation:{call.id}",
        occurred_at=now,
        received_at=now,
        conversation_key=conversation_key(call.platform, call.bot, call.channel.id, None),
        channel=call.channel,
        message=MessageBody(id=str(call.id), text=f"/{call.tool} {call.args}".strip()),
    )
