"""Tools for the tests, one behaviour per argument, in every kind a tool can be written:
`ok` answers (with a button), `slow` outlives its timeout, `fail` fails the way its kind
fails, `garbage` answers something that is not an answer."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from aiohttp import web

from adapters.base import InboundRequest
from adapters.generic import verify_signature
from gateway import codec
from gateway.bus.base import Bus, Delivery, Message
from gateway.bus.topology import DEFAULT_EXCHANGE, TOOLS_EXCHANGE, Binding, QueueSpec
from gateway.events import Button, utcnow
from gateway.tools.base import Reply, ToolCall

TOOL_SECRET = "tool-secret-0123456789"
SLOW = 30.0  # far beyond any test tool's timeout


def answer_for(args: str, user: str | None) -> dict[str, Any] | None:
    """The answer body for `args`: None means 'never answer'."""
    if args == "ok":
        return {
            "replies": [{"text": f"ok for {user}", "buttons": [{"id": "help", "label": "Help"}]}]
        }
    return None


async def echo(call: ToolCall) -> list[Reply]:
    """the echo tool, in Python"""
    user = call.event.user.id if call.event.user else None
    if call.args == "ok":
        return [Reply(f"ok for {user}", (Button(id="help", label="Help"),))]
    if call.args == "slow":
        await asyncio.sleep(SLOW)
    if call.args == "fail":
        raise RuntimeError("the tool broke")
    return 42  # type: ignore[return-value]  # garbage: not replies


class HttpService:
    """A service answering `botgate.tool_call/1` over HTTP, checking the signature."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> HttpService:
        app = web.Application()
        app.router.add_post("/tool", self._call)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/tool"
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    async def _call(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        inbound = InboundRequest("generic", "tool", "POST", headers, {}, body, utcnow())
        verify_signature(TOOL_SECRET, inbound, 300)  # raises on a bad signature
        call = codec.loads(body)
        self.calls.append(call)
        args = call["args"]
        if args == "slow":
            await asyncio.sleep(SLOW)
        if args == "fail":
            return web.Response(status=500)
        if args == "garbage":
            return web.Response(text="not json at all")
        return web.json_response(answer_for(args, call["user"]["id"]))


class BusService:
    """A service bound to `botgate.tools` for one tool, answering on the bus."""

    def __init__(self, bus: Bus, tool: str) -> None:
        self.bus, self.tool, self.calls = bus, tool, []  # type: ignore[var-annotated]

    async def start(self) -> None:
        queue = f"service.{self.tool}"
        await self.bus.declare_queue(QueueSpec(queue, (Binding(TOOLS_EXCHANGE, self.tool),)))
        await self.bus.consume(queue, self._call, prefetch=10)

    async def _call(self, delivery: Delivery) -> None:
        call = codec.loads(delivery.message.body)
        self.calls.append(call)
        args = call["args"]
        answer: Any = answer_for(args, call["user"]["id"])
        if args == "fail":
            answer = {"error": "the service broke"}
        if args == "garbage":
            answer = "not an answer"
        message = delivery.message
        if args != "slow" and message.reply_to:
            reply = Message(
                DEFAULT_EXCHANGE,
                message.reply_to,
                codec.dumps(answer),
                f"answer-{message.message_id}",
                correlation_id=message.correlation_id,
            )
            await self.bus.publish(reply)
        await delivery.ack()


def install_entry_point(folder: Path, name: str, target: str) -> Path:
    """A distribution's metadata registering `target` as tool `name` (group botgate.tools),
    for the folder to be put on sys.path."""
    info = folder / "botgate_test_tools-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: botgate-test-tools\nVersion: 1.0\n"
    )
    (info / "entry_points.txt").write_text(f"[botgate.tools]\n{name} = {target}\n")
    return folder


CRASH_MARKER_ENV = "BOTGATE_TEST_CRASH_MARKER"


async def crashy(call: ToolCall) -> list[Reply]:
    """Hangs on its first call (the test kills the process then), answers on the next."""
    marker = Path(os.environ[CRASH_MARKER_ENV])
    if not await asyncio.to_thread(marker.exists):
        await asyncio.to_thread(marker.write_text, str(call.id))
        await asyncio.sleep(SLOW)
    first = await asyncio.to_thread(marker.read_text)
    return [Reply(f"answered {call.args} after the restart (first call {first})")]


class EchoTool:
    """The echo tool as a class, the way a package registers one."""

    name = "echo"
    description = "echoes, or fails on purpose"
    timeout = 1.0
    parameters = None

    async def run(self, call: ToolCall) -> list[Reply]:
        return await echo(call)


GATE: dict[str, asyncio.Event] = {}  # the test that runs `gated` opens it


async def gated(call: ToolCall) -> list[Reply]:
    """A slow tool: answers once the running test opens the gate."""
    await GATE.setdefault("open", asyncio.Event()).wait()
    return [Reply(f"slow answer to {call.args or 'nothing'}")]


async def support(call: ToolCall) -> list[Reply]:
    """start a support conversation"""
    attached = await call.attach_tools(["escalate"])
    return [Reply(f"support started; also: {', '.join(attached)}")]


async def escalate(call: ToolCall) -> list[Reply]:
    """hand the conversation to a person"""
    return [Reply("a person will answer you shortly")]
