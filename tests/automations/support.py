"""Automations under test: a clock that starts where the test wants, and a fake tool runner."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from gateway.events import ToolCall, ToolReply
from tests.support.pipeline import generic_bot

BERLIN_MONDAY_0900 = datetime.fromisoformat("2026-11-23T09:00:00+01:00")


class TestClock:
    """Wall time that stands at `start` until `run()`, then runs at the real pace (schedulers
    sleep real seconds until a time read from it). Started processes wait for the same
    instant; the test lets time run once they all wait."""

    __test__ = False  # not a test class

    def __init__(self, start: datetime) -> None:
        self.start = start
        self._since: float | None = None

    def run(self) -> None:
        self._since = time.monotonic()

    def __call__(self) -> datetime:
        elapsed = 0.0 if self._since is None else time.monotonic() - self._since
        return self.start + timedelta(seconds=elapsed)


class FakeTools:
    """A `ToolRunner` that answers with what it was asked, or fails when told to."""

    def __init__(self, fail: str | None = None) -> None:
        self.calls: list[ToolCall] = []
        self.fail = fail

    async def run_tool(self, call: ToolCall) -> Sequence[ToolReply]:
        self.calls.append(call)
        if self.fail:
            raise RuntimeError(self.fail)
        who = call.user.id if call.user else "nobody"
        return [ToolReply(text=f"{call.tool} ran with {call.args!r} for {who}")]


def digest(**overrides: Any) -> dict[str, Any]:
    """Every Monday at 9 in Berlin, the bot posts to room-1."""
    return {
        "name": "monday-digest",
        "bot": "helpdesk",
        "cron": "0 9 * * MON",
        "timezone": "Europe/Berlin",
        "send": {"platform": "generic", "channel_id": "room-1", "text": "Weekly digest"},
        **overrides,
    }


def helpdesk(callback_url: str) -> dict[str, Any]:
    """A generic bot whose replies go to `callback_url`; tool automations run its `help`."""
    return generic_bot("helpdesk", callback_url=callback_url)
