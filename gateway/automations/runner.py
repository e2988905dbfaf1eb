"""One firing of an automation: claim it, do it (send a message, or run a tool and send its
replies), record the outcome.

The claim is the insert of the firing's `automation_runs` row, unique per (automation,
firing): of several core processes that see the same firing, only the one whose insert
lands runs it. A process that dies after claiming leaves the run `running`: a firing is
never run twice.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from gateway import tracing
from gateway.bus.base import Bus
from gateway.config import AutomationConfig
from gateway.errors import PermanentError
from gateway.events import Action, Button, ChannelRef, Event, TextFormat, ToolCall, ToolReply
from gateway.ids import new_id
from gateway.metrics import Metrics
from gateway.publisher import action_message
from store import automations as records
from store.database import Database

log = logging.getLogger(__name__)


class ToolRunner(Protocol):
    """Runs a bot's tool for an automation; the core's tool registry implements it."""

    async def run_tool(self, call: ToolCall) -> Sequence[ToolReply]:
        """Run `call.tool` for `call.bot` with `call.args` in `call.channel` (`call.event` is
        the event that fired the automation, if one did); returns the replies to send there.
        Raise to fail the run: the exception's message is recorded with it."""
        ...


@dataclass(frozen=True)
class Firing:
    automation: AutomationConfig
    automation_id: uuid.UUID
    key: str  # unique per automation: 'schedule:<UTC time>' or 'event:<event id>'
    scheduled_at: datetime
    event: Event | None = None
    traceparent: str | None = None

    @classmethod
    def scheduled(
        cls, automation: AutomationConfig, automation_id: uuid.UUID, at: datetime
    ) -> Firing:
        at = at.astimezone(UTC)
        return cls(automation, automation_id, f"schedule:{at.isoformat()}", at)

    @classmethod
    def by_event(
        cls,
        automation: AutomationConfig,
        automation_id: uuid.UUID,
        event: Event,
        traceparent: str | None,
    ) -> Firing:
        key = f"event:{event.id}"
        return cls(automation, automation_id, key, event.occurred_at, event, traceparent)


@dataclass(frozen=True)
class Target:
    """Where a firing's messages go."""

    platform: str
    channel: ChannelRef
    thread_id: str | None


Fire = Callable[[Firing], Awaitable[bool]]  # runs a firing if it claims it


def target_of(firing: Firing) -> Target:
    """The automation's own destination; what it leaves out comes from the event."""
    wanted, event = firing.automation.destination, firing.event
    if wanted.channel_id is not None:
        platform = wanted.platform or (event.platform if event else None)
        assert platform is not None  # the configuration has it for scheduled automations
        channel = ChannelRef(id=wanted.channel_id, type=wanted.channel_type)
        return Target(platform, channel, wanted.thread_id)
    assert event is not None  # only event automations may leave the channel out
    return Target(event.platform, event.channel, wanted.thread_id or event.thread_id)


def runner_name() -> str:
    """host:pid/instance, to tell in a run row which process ran it."""
    return f"{socket.gethostname()}:{os.getpid()}/{new_id().hex[-6:]}"


class AutomationRunner:
    def __init__(
        self, db: Database, bus: Bus, metrics: Metrics, tools: ToolRunner | None = None
    ) -> None:
        self.db, self.bus, self.metrics, self.tools = db, bus, metrics, tools
        self.name = runner_name()

    async def fire(self, firing: Firing) -> bool:
        """Run the firing if this process claims it; False if another had. A database failure
        while claiming propagates: then nothing ran, and nothing is recorded."""
        automation = firing.automation.name
        event_id = firing.event.id if firing.event else None
        async with self.db.transaction() as session:
            run_id = await records.claim(
                session, firing.automation_id, firing.key, firing.scheduled_at, self.name, event_id
            )
        if run_id is None:
            self.metrics.automation_runs.labels(automation, "elsewhere").inc()
            return False
        error, result = await self._run(firing)
        async with self.db.transaction() as session:
            await records.finish(session, run_id, error=error, result=result)
        self.metrics.automation_runs.labels(automation, "failed" if error else "succeeded").inc()
        return True

    async def _run(self, firing: Firing) -> tuple[str | None, dict[str, Any]]:
        attributes = {"botgate.automation": firing.automation.name, "botgate.firing": firing.key}
        with tracing.span("automation.run", parent=firing.traceparent, attributes=attributes) as s:
            try:
                return None, await self._do(firing, tracing.traceparent_of(s) or firing.traceparent)
            except Exception as exc:  # the run failed: recorded, and never retried
                log.warning("automation %s failed: %s", firing.automation.name, exc)
                tracing.fail(s, exc)
                return f"{type(exc).__name__}: {exc}", {}

    async def _do(self, firing: Firing, traceparent: str | None) -> dict[str, Any]:
        automation, target = firing.automation, target_of(firing)
        result: dict[str, Any] = {}
        if automation.send is not None:
            send = automation.send
            actions = [_action(firing, target, send.text, send.format)]
        else:
            call = _tool_call(firing, target)
            result["tool_call"] = str(call.id)
            replies = await self._tools().run_tool(call)
            actions = [_action(firing, target, r.text, "markdown", r.buttons) for r in replies]
        for action in actions:  # one at a time: the replies keep their order
            await self.bus.publish(action_message(action, traceparent))
        result["actions"] = [str(action.id) for action in actions]
        return result

    def _tools(self) -> ToolRunner:
        if self.tools is None:
            raise PermanentError("no tool runner is available to automations in this process")
        return self.tools


def _tool_call(firing: Firing, target: Target) -> ToolCall:
    automation, event = firing.automation, firing.event
    assert automation.tool is not None
    return ToolCall(
        tool=automation.tool,
        args=automation.args,
        platform=target.platform,
        bot=automation.bot,
        user=event.user if event else None,
        channel=target.channel,
        event=event,
    )


def _action(
    firing: Firing,
    target: Target,
    text: str,
    text_format: TextFormat,
    buttons: Sequence[Button] = (),
) -> Action:
    return Action(
        type="message.send",
        platform=target.platform,
        bot=firing.automation.bot,
        channel_id=target.channel.id,
        thread_id=target.thread_id,
        in_reply_to=firing.event.id if firing.event else None,
        text=text,
        format=text_format,
        buttons=list(buttons),
    )
