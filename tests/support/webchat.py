"""Talk to a running gateway's web chat like the page does, and a small http tool service
whose answers carry buttons or echo what they were given (HTML included)."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import aiohttp
from aiohttp import web

TOOL_SECRET = "tool-secret-0123456789"


def webchat_bot(name: str, tools_url: str | None = None, **webchat: Any) -> dict[str, Any]:
    """A bot with a web chat; with `tools_url`, also the tools `echo` and `pick` below."""
    tools = ["help", "echo", "pick"] if tools_url else ["help"]
    return {"name": name, "tools": tools, "webchat": {"allowed_origins": [], **webchat}}


def tool_tables(tools_url: str) -> dict[str, Any]:
    return {
        name: {
            "kind": "http",
            "url": f"{tools_url}/{name}",
            "secret": TOOL_SECRET,
            "description": description,
        }
        for name, description in (
            ("echo", "says back what it is given"),
            ("pick", "offers a button"),
        )
    }


class ToolService:
    """`echo ARGS` answers ARGS as it is; `pick` answers with a button that runs `help`."""

    def __init__(self) -> None:
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def __aenter__(self) -> ToolService:
        app = web.Application()
        app.router.add_post("/echo", self._echo)
        app.router.add_post("/pick", self._pick)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    async def _echo(self, request: web.Request) -> web.Response:
        call = await request.json()
        return web.json_response({"replies": [{"text": call["args"] or "(nothing)"}]})

    async def _pick(self, request: web.Request) -> web.Response:
        button = {"id": "help", "label": "Show help"}
        return web.json_response({"replies": [{"text": "Pick one:", "buttons": [button]}]})


class Visitor:
    """One visitor's WebSocket: `hello` first, then messages and clicks."""

    def __init__(self, base_url: str, bot: str, origin: str | None = None) -> None:
        self.url = f"{base_url.replace('http', 'ws', 1)}/chat/{bot}/ws"
        self.origin = origin
        self.http = aiohttp.ClientSession()
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.token: str | None = None
        self.frames: list[dict[str, Any]] = []

    async def __aenter__(self) -> Visitor:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        await self.http.close()

    async def connect(self, token: str | None = None) -> dict[str, Any]:
        """The answer to hello (`welcome` or `refused`)."""
        headers = {"Origin": self.origin} if self.origin else {}
        self.ws = await self.http.ws_connect(self.url, headers=headers)
        await self.ws.send_json({"type": "hello", "token": token})
        answer = await self.next()
        if answer["type"] == "welcome":
            self.token = answer["token"]
        return answer

    async def say(self, text: str, message_id: str | None = None) -> dict[str, Any]:
        """Send a message; the gateway's answer to it (`accepted` or `error`)."""
        message_id = message_id or str(uuid.uuid4())
        await self._send({"type": "message", "id": message_id, "text": text})
        return await self.next(lambda f: f["type"] in ("accepted", "error"))

    async def click(self, button: str, message: str) -> dict[str, Any]:
        await self._send({"type": "click", "button": button, "message": message})
        return await self.next(lambda f: f["type"] in ("accepted", "error"))

    async def _send(self, frame: dict[str, Any]) -> None:
        assert self.ws is not None
        await self.ws.send_str(json.dumps(frame))

    async def next(self, wanted: Any = None, timeout: float = 20.0) -> dict[str, Any]:
        """The next frame `wanted` accepts (any frame by default); others are kept in frames."""
        assert self.ws is not None
        async with asyncio.timeout(timeout):
            while True:
                received = await self.ws.receive()
                if received.type != aiohttp.WSMsgType.TEXT:
                    return {"type": "closed", "code": self.ws.close_code}
                frame = json.loads(received.data)
                self.frames.append(frame)
                if wanted is None or wanted(frame):
                    return frame

    async def reply(self, timeout: float = 20.0) -> dict[str, Any]:
        return await self.next(lambda f: f["type"] == "message" and f["from"] == "bot", timeout)
