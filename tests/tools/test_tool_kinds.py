"""One contract for every kind of tool (http, bus, python, an installed package's entry point),
on SQLite + memory and PostgreSQL + RabbitMQ: a tool's answer reaches the person with its
buttons; a tool that is slow, fails, or answers garbage gets the person a short apology within
its timeout, is counted and logged, and the conversation goes on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from gateway.app import Runtime
from gateway.bus.factory import create_bus
from store.models import ToolCallRecord
from tests.support.pipeline import GenericClient, eventually, generic_bot, make_settings, running
from tests.tools.support import TOOL_SECRET, BusService, HttpService, install_entry_point

KINDS = ["http", "bus", "python", "entry_point"]
APOLOGY = "Sorry, /echo is not working right now. Please try again in a moment."


@asynccontextmanager
async def gateway_with_echo(
    kind: str, backend: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Runtime, Any]]:
    async with AsyncExitStack() as stack:
        service: Any = None
        tools: dict[str, Any] = {}
        if kind == "http":
            service = await stack.enter_async_context(HttpService())
            tools["echo"] = {"kind": "http", "url": service.url, "secret": TOOL_SECRET}
        elif kind == "bus":
            bus = create_bus(backend[1])
            await bus.connect()
            stack.push_async_callback(bus.close)
            service = BusService(bus, "echo")
            tools["echo"] = {"kind": "bus"}
        elif kind == "python":
            tools["echo"] = {"kind": "python", "entry": "tests.tools.support:echo"}
        else:
            folder = install_entry_point(tmp_path / "site", "echo", "tests.tools.support:EchoTool")
            monkeypatch.syspath_prepend(str(folder))
        for table in tools.values():
            table |= {"timeout": "1s", "description": "echoes, or fails on purpose"}
        bot = generic_bot("helpdesk") | {"tools": ["help", "echo"]}
        settings = make_settings(*backend, bots=[bot], tools=tools)
        runtime = await stack.enter_async_context(running(settings))
        if kind == "bus":
            await service.start()
        yield runtime, service


@pytest.mark.parametrize("kind", KINDS)
async def test_every_kind_of_tool_keeps_the_tool_contract(
    kind: str, backend: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with gateway_with_echo(kind, backend, tmp_path, monkeypatch) as (runtime, service):
        client = GenericClient(runtime.http.url)
        cases = ["ok", "slow", "fail", "garbage"]
        answers = await asyncio.gather(
            *(
                client.post(
                    {"user": {"id": f"u-{case}"}, "channel": {"id": case}, "text": f"/echo {case}"},
                    wait=True,
                )
                for case in cases
            )
        )
        help_status, help_answer = await client.post(
            {"user": {"id": "u-slow"}, "channel": {"id": "slow"}, "text": "/help"}, wait=True
        )
        await client.close()
        replies = {case: body["replies"] for case, (_, body) in zip(cases, answers, strict=True)}

        async def logged() -> bool:
            async with runtime.db.transaction() as db:
                rows = (await db.execute(select(ToolCallRecord.tool))).scalars().all()
            return len(rows) == 5

        await eventually(logged)
        async with runtime.db.transaction() as db:
            rows = (await db.execute(select(ToolCallRecord.tool, ToolCallRecord.outcome))).all()
        metrics = runtime.metrics.tool_calls
        counted = {o: metrics.labels("echo", o)._value.get() for o in ("ok", "error", "timeout")}

    [ok] = replies["ok"]
    assert ok["text"] == "ok for u-ok"
    assert ok["buttons"] == [{"id": "help", "label": "Help", "url": None}]
    for case in ("slow", "fail", "garbage"):
        assert [r["text"] for r in replies[case]] == [APOLOGY], case
    assert help_status == 200  # the conversation goes on after the failure
    assert "/echo — echoes, or fails on purpose" in help_answer["replies"][0]["text"]
    assert sorted(rows) == sorted(
        [("echo", "ok"), ("echo", "timeout"), ("echo", "error"), ("echo", "error"), ("help", "ok")]
    )
    assert counted == {"ok": 1, "error": 2, "timeout": 1}
    if kind in ("http", "bus"):  # the wire form of the call
        call = next(c for c in service.calls if c["args"] == "ok")
        assert call["schema"] == "botgate.tool_call/1"
        assert (call["tool"], call["platform"], call["bot"]) == ("echo", "generic", "helpdesk")
        assert call["channel"] == {"id": "ok", "type": "direct"}
        assert call["session_id"]
        assert call["event"]["message"]["text"] == "/echo ok"
