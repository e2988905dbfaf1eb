"""The emulated platform API: where the bench bot's replies land.

It runs in the load generator's process so that send and arrival times share one clock
(`time.perf_counter`). It verifies each callback's signature (a bad one is a 401 and is not
counted: a pipeline that signs wrong must not score), records when the reply to each event
arrived, keyed by the action's `in_reply_to`, and wakes whoever waits for that event.
"""

from __future__ import annotations

import asyncio
import hmac
import time

import orjson
from aiohttp import web

from adapters.generic import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

CALLBACK_PATH = "/callback"
TOOL_PATH = "/tool"


class Receiver:
    def __init__(self, secret: str, tool_latency: float = 0.0) -> None:
        self.secret = secret
        self.tool_latency = tool_latency  # seconds the bench's http tool takes to answer
        self.arrivals: dict[str, float] = {}
        self.rejected = 0
        self._waiters: dict[str, asyncio.Future[float]] = {}
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post(CALLBACK_PATH, self._callback)
        app.router.add_post(TOOL_PATH, self._tool)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}{CALLBACK_PATH}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def answered(self) -> int:
        return len(self.arrivals)

    async def wait_for(self, event_id: str, timeout: float) -> float | None:
        """When the reply to `event_id` arrived; None if it did not within `timeout`."""
        if event_id in self.arrivals:
            return self.arrivals[event_id]
        future = self._waiters.setdefault(event_id, asyncio.get_running_loop().create_future())
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            return None
        finally:
            self._waiters.pop(event_id, None)

    async def _callback(self, request: web.Request) -> web.Response:
        body = await request.read()
        if not self._signed(request, body):
            self.rejected += 1
            return web.json_response({"error": "bad signature"}, status=401)
        event_id = str(orjson.loads(body).get("in_reply_to"))
        self.record(event_id, time.perf_counter())
        return web.Response(status=204)

    async def _tool(self, request: web.Request) -> web.Response:
        """The bench's `http` tool: a service that takes `tool_latency` to answer."""
        body = await request.read()
        if not self._signed(request, body):
            return web.json_response({"error": "bad signature"}, status=401)
        await asyncio.sleep(self.tool_latency)
        args = orjson.loads(body).get("args", "")
        return web.json_response({"replies": [{"text": f"the slow tool answered {args}"}]})

    def _signed(self, request: web.Request, body: bytes) -> bool:
        timestamp = request.headers.get(TIMESTAMP_HEADER, "")
        signature = request.headers.get(SIGNATURE_HEADER, "")
        return bool(timestamp) and hmac.compare_digest(
            sign(self.secret, timestamp, body), signature
        )

    def record(self, event_id: str, at: float) -> None:
        """The first arrival counts; a retried delivery of the same reply does not."""
        if event_id in self.arrivals:
            return
        self.arrivals[event_id] = at
        waiter = self._waiters.get(event_id)
        if waiter is not None and not waiter.done():
            waiter.set_result(at)
