"""Tools marked `waits = False` get no timeout timer from the runner: that is right only while
they answer without ever yielding to the event loop, which these tests hold them to."""

from __future__ import annotations

import uuid
from typing import Any, cast

import pytest

from gateway.bus.base import Bus
from gateway.events import Event, utcnow
from gateway.metrics import Metrics
from gateway.tools.base import Refs, Reply, Services, Turn
from gateway.tools.profiles import Profiles
from gateway.tools.registry import ToolRegistry, builtin_tools
from gateway.tools.runner import ToolRunner
from store.database import Database
from tests.support.pipeline import make_settings


def _turn(text: str) -> Turn:
    settings = make_settings("sqlite+aiosqlite:///unused.db", "memory://")
    bus = cast(Bus, None)
    db = cast(Database, None)  # a tool that never waits never reads the database either
    services = Services(settings, db, bus, ToolRegistry(settings, bus), Profiles(db))
    event = Event.model_validate(
        {
            "type": "message.created",
            "platform": "generic",
            "bot": "helpdesk",
            "dedupe_key": f"test:{uuid.uuid4()}",
            "occurred_at": utcnow(),
            "conversation_key": "generic:helpdesk:room",
            "channel": {"id": "room"},
            "message": {"id": "m1", "text": text},
        }
    )
    return Turn(uuid.uuid4(), event, settings.bots[0], Refs(uuid.uuid4()), services)


@pytest.mark.parametrize(
    "name", [name for name, tool in builtin_tools().items() if not getattr(tool, "waits", True)]
)
def test_a_tool_that_never_waits_answers_in_one_step(name: str) -> None:
    tool = builtin_tools()[name]
    running = tool.run(_turn(f"/{name}").call(name, ""))
    with pytest.raises(StopIteration) as done:
        running.send(None)  # one step, and it returned: it never yielded to the loop
    replies: Any = done.value.value
    assert replies
    assert all(isinstance(reply, Reply) for reply in replies)


def test_help_is_one_of_them() -> None:
    assert builtin_tools()["help"].waits is False  # type: ignore[attr-defined]


async def test_the_runner_answers_and_logs_a_tool_that_never_waits() -> None:
    metrics = Metrics()
    turn = _turn("/help")
    replies = await ToolRunner(metrics).run(builtin_tools()["help"], turn.call("help", ""))
    assert "/help" in replies[0].text
    assert [call["outcome"] for call in turn.tool_calls] == ["ok"]
    assert metrics.registry.get_sample_value(
        "botgate_tool_calls_total", {"tool": "help", "outcome": "ok"}
    )
