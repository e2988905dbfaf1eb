"""Automations through the whole system, on SQLite + memory and PostgreSQL + RabbitMQ: a
scheduled firing runs once with three core processes, an event fires a tool once, failures
are recorded, the admin API shows it all, and the configuration is mirrored on start."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from sqlalchemy import select

from gateway import codec
from gateway.app import Role, Runtime
from gateway.automations.runner import ToolRunner
from gateway.automations.triggers import EventTriggers
from gateway.bus.factory import create_bus
from gateway.bus.topology import AUTOMATIONS_QUEUE
from gateway.config import Settings
from gateway.events import ChannelRef, Event, utcnow
from gateway.metrics import Metrics
from gateway.publisher import event_message
from store.models import AutomationRun, SystemAutomation
from tests.automations.support import BERLIN_MONDAY_0900, FakeTools, TestClock, digest, helpdesk
from tests.support.pipeline import (
    CallbackReceiver,
    GenericClient,
    count_rows,
    eventually,
    make_settings,
    message,
    running,
)

TOKEN = {"Authorization": "Bearer admin-token-for-tests"}
BERLIN = ZoneInfo("Europe/Berlin")


def _settings(backend: tuple[str, str], receiver: str, *automations: dict[str, Any]) -> Settings:
    return make_settings(*backend, bots=[helpdesk(receiver)], automations=list(automations))


@asynccontextmanager
async def cluster(
    settings: Settings,
    *,
    cores: int = 3,
    tools: ToolRunner | None = None,
    clock: TestClock | None = None,
) -> AsyncIterator[tuple[Runtime, list[Runtime]]]:
    """A gateway, an adapters process and `cores` core processes, each a Runtime of its own
    (own database pool, own bus connection), started one after another."""
    async with AsyncExitStack() as stack:

        async def start(role: Role, **options: Any) -> Runtime:
            return await stack.enter_async_context(Runtime(settings, role, **options))

        gateway = await start("gateway")
        await start("adapters", serve_http=False)
        extra: dict[str, Any] = {"automation_tools": tools} | ({"clock": clock} if clock else {})
        core = [await start("core", serve_http=False, **extra) for _ in range(cores)]
        yield gateway, core


def _runs(runtime: Runtime, automation: str, outcome: str) -> float:
    value = runtime.metrics.registry.get_sample_value(
        "botgate_automation_runs_total", {"automation": automation, "outcome": outcome}
    )
    return value or 0.0


async def _run_rows(runtime: Runtime) -> list[AutomationRun]:
    async with runtime.db.transaction() as session:
        return list((await session.execute(select(AutomationRun))).scalars())


async def test_a_scheduled_firing_runs_once_with_three_core_processes(
    backend: tuple[str, str],
) -> None:
    clock = TestClock(BERLIN_MONDAY_0900 - timedelta(seconds=1.5))
    async with CallbackReceiver() as receiver:
        settings = _settings(backend, receiver.url, digest())
        async with cluster(settings, clock=clock) as (gateway, cores):
            clock.run()  # every core is waiting for 09:00 now
            await asyncio.wait_for(receiver.delivered.wait(), 30)

            async def all_tried() -> bool:
                outcomes = ("succeeded", "elsewhere", "failed")
                return sum(_runs(c, "monday-digest", o) for c in cores for o in outcomes) == 3

            await eventually(all_tried, timeout=30)
            [run] = await _run_rows(gateway)

    assert sum(_runs(core, "monday-digest", "succeeded") for core in cores) == 1
    assert sum(_runs(core, "monday-digest", "elsewhere") for core in cores) == 2
    assert (run.status, run.error) == ("succeeded", None)
    assert run.firing == "schedule:2026-11-23T08:00:00+00:00"
    assert run.scheduled_at == datetime.fromisoformat("2026-11-23T08:00:00+00:00")
    [(headers, body)] = receiver.requests  # one send
    sent = codec.loads(body)
    assert (sent["channel_id"], sent["text"]) == ("room-1", "Weekly digest")
    assert [headers["X-Botgate-Delivery"]] == run.result["actions"]


async def test_an_event_runs_the_tool_of_its_automation_once(backend: tuple[str, str]) -> None:
    echo = {
        "name": "echo",
        "bot": "helpdesk",
        "event": "generic.helpdesk.message.created",
        "tool": "help",
        "args": "from an automation",
    }
    tools = FakeTools()
    async with CallbackReceiver() as receiver:
        settings = _settings(backend, receiver.url, echo)
        async with cluster(settings, tools=tools) as (gateway, _):
            client = GenericClient(gateway.http.url)
            try:
                status, body = await client.post(message("hello"))
            finally:
                await client.close()
            assert status == 202

            async def answered() -> bool:
                return len(receiver.requests) == 2  # the bot's own answer and the tool's

            await eventually(answered, timeout=30)
            await eventually(lambda: _finished(gateway), timeout=30)
            [run] = await _run_rows(gateway)

    [call] = tools.calls
    assert (call.tool, call.args, call.bot) == ("help", "from an automation", "helpdesk")
    assert call.event is not None
    assert str(call.event.id) == body["event_id"]
    assert (call.user and call.user.id, call.channel.id) == ("u-17", "room-1")
    texts = sorted(codec.loads(sent)["text"] for _, sent in receiver.requests)
    assert "help ran with 'from an automation' for u-17" in texts
    assert (run.status, str(run.event_id), run.firing) == (
        "succeeded",
        body["event_id"],
        f"event:{body['event_id']}",
    )
    assert run.result["tool_call"] == str(call.id)


async def _finished(runtime: Runtime) -> bool:
    rows = await _run_rows(runtime)
    return bool(rows) and all(row.finished_at is not None for row in rows)


@pytest.mark.parametrize(
    ("tools", "error"),
    [
        (
            FakeTools(fail="the weather service is down"),
            "RuntimeError: the weather service is down",
        ),
    ],
)
async def test_a_failing_tool_fails_its_run_and_sends_nothing(
    sqlite_url: str, memory_url: str, tools: FakeTools | None, error: str
) -> None:
    automation = digest(send=None, tool="help", to={"platform": "generic", "channel_id": "r"})
    clock = TestClock(BERLIN_MONDAY_0900 - timedelta(seconds=0.5))
    async with CallbackReceiver() as receiver:
        settings = _settings((sqlite_url, memory_url), receiver.url, automation)
        async with running(settings, automation_tools=tools, clock=clock) as runtime:
            clock.run()  # the scheduler waits for 09:00 now
            await eventually(lambda: _finished(runtime))
            [run] = await _run_rows(runtime)
            assert _runs(runtime, "monday-digest", "failed") == 1
    assert (run.status, run.error, run.result) == ("failed", error, {})
    assert receiver.requests == []


async def test_a_scheduled_tool_runs_through_the_tool_registry(
    sqlite_url: str, memory_url: str
) -> None:
    """No fake: the bot's own `help`, for a firing with no event (a schedule), sent to the
    automation's channel, and logged as a tool call."""
    automation = digest(send=None, tool="help", to={"platform": "generic", "channel_id": "r"})
    clock = TestClock(BERLIN_MONDAY_0900 - timedelta(seconds=0.5))
    async with CallbackReceiver() as receiver:
        settings = _settings((sqlite_url, memory_url), receiver.url, automation)
        async with running(settings, clock=clock) as runtime:
            clock.run()
            await eventually(lambda: _finished(runtime))
            await asyncio.wait_for(receiver.delivered.wait(), 10)
            [run] = await _run_rows(runtime)
            calls = await count_rows(runtime, "tool_calls")
    assert (run.status, run.error) == ("succeeded", None)
    [(_, body)] = receiver.requests
    assert codec.loads(body)["text"].startswith("Here is what I can do:")
    assert calls == 1


async def test_the_admin_api_shows_automations_and_their_runs(
    sqlite_url: str, memory_url: str
) -> None:
    clock = TestClock(BERLIN_MONDAY_0900 - timedelta(seconds=0.5))
    welcome = {
        "name": "welcome",
        "bot": "helpdesk",
        "event": "*.helpdesk.member.joined",
        "send": {"text": "Welcome!"},
    }
    async with CallbackReceiver() as receiver:
        settings = _settings((sqlite_url, memory_url), receiver.url, digest(), welcome)
        async with running(settings, clock=clock) as runtime:
            clock.run()
            await eventually(lambda: _finished(runtime))
            base = runtime.http.url + "/api/v1/automations"
            status, listed = await _get(base, TOKEN)
            assert status == 200
            runs = await _get(base + "/monday-digest/runs?limit=1", TOKEN)
            bad = [
                await _get(base + "/monday-digest/runs?limit=0", TOKEN),
                await _get(base + "/monday-digest/runs?before=yesterday", TOKEN),
                await _get(base + "/nope/runs", TOKEN),
                await _get(base, {}),
            ]

    by_name = {entry["name"]: entry for entry in listed["automations"]}
    scheduled, by_event = by_name["monday-digest"], by_name["welcome"]
    assert (scheduled["cron"], scheduled["timezone"], scheduled["active"]) == (
        "0 9 * * MON",
        "Europe/Berlin",
        True,
    )
    assert scheduled["send"]["text"] == "Weekly digest"
    next_run = datetime.fromisoformat(scheduled["next_run_at"]).astimezone(
        ZoneInfo("Europe/Berlin")
    )
    assert (next_run.weekday(), next_run.hour, next_run.minute) == (0, 9, 0)
    assert next_run > utcnow()
    assert scheduled["last_run"]["status"] == "succeeded"
    assert (by_event["event"], by_event["next_run_at"], by_event["last_run"]) == (
        "*.helpdesk.member.joined",
        None,
        None,
    )
    status, page = runs
    assert status == 200
    assert page["automation"] == "monday-digest"
    [run] = page["runs"]
    assert run["firing"] == "schedule:2026-11-23T08:00:00+00:00"
    assert page["next_before"] == run["scheduled_at"]  # a full page: there may be more
    assert [code for code, _ in bad] == [400, 400, 404, 401]
    assert "limit must be a whole number from 1 to 500" in bad[0][1]["error"]
    assert "before must be an ISO 8601 time" in bad[1][1]["error"]


async def _get(url: str, headers: dict[str, str]) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as response:
        return response.status, await response.json(content_type=None)


async def test_the_configuration_is_mirrored_and_dropped_patterns_are_unbound(
    backend: tuple[str, str],
) -> None:
    joined, created = "generic.helpdesk.member.joined", "generic.helpdesk.message.created"
    before = {"name": "greet", "bot": "helpdesk", "event": joined, "send": {"text": "Hi"}}
    after = {"name": "log", "bot": "helpdesk", "event": created, "send": {"text": "Noted"}}
    async with CallbackReceiver() as receiver:
        async with running(_settings(backend, receiver.url, before, digest()), "core"):
            pass
        async with running(_settings(backend, receiver.url, after), "core") as runtime:
            rows = await _automation_rows(runtime)
    assert {(row.name, row.kind, row.is_active) for row in rows} == {
        ("greet", "event", False),
        ("monday-digest", "schedule", False),
        ("log", "event", True),
    }
    bus = create_bus(backend[1])
    await bus.connect()
    try:
        await bus.publish(event_message(_event("member.joined")))  # no automation wants it
        await bus.publish(event_message(_event("message.created")))

        async def one_waits() -> bool:
            stats = await bus.queue_stats(AUTOMATIONS_QUEUE)
            return stats is not None and stats.ready == 1

        await eventually(one_waits)
    finally:
        await bus.close()


async def _automation_rows(runtime: Runtime) -> list[SystemAutomation]:
    async with runtime.db.transaction() as session:
        return list((await session.execute(select(SystemAutomation))).scalars())


def _event(kind: str) -> Event:
    return Event(
        type=kind,  # type: ignore[arg-type]
        platform="generic",
        bot="helpdesk",
        dedupe_key=f"generic:helpdesk:{uuid.uuid4()}",
        occurred_at=utcnow(),
        conversation_key="generic:helpdesk:room-1",
        channel=ChannelRef(id="room-1"),
    )


async def test_the_bots_own_messages_never_fire_an_automation() -> None:
    everything = {"name": "all", "bot": "helpdesk", "event": "#", "send": {"text": "again"}}
    settings = make_settings("sqlite+aiosqlite://", "memory://", automations=[everything])
    automation = settings.automations[0]

    async def fire(_: object) -> bool:
        return True

    triggers = EventTriggers(
        create_bus("memory://"), [(automation, uuid.uuid4())], fire, Metrics(), 5
    )
    assert triggers.matching(_event("message.created")) != []
    assert triggers.matching(_event("message.sent")) == []  # or it would answer itself forever
    other_bot = _event("message.created").model_copy(update={"bot": "other"})
    assert triggers.matching(other_bot) == []
