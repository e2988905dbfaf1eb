"""Run the whole pipeline in-process for a test, and talk to it like a platform would."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import func, select

from adapters.generic import signed_headers
from gateway import codec
from gateway.app import Role, Runtime
from gateway.config import Settings, settings_from_dict
from gateway.crypto import generate_key
from store.base import Base

GENERIC_SECRET = "test-secret-0123456789"


def make_settings(
    database_url: str, bus_url: str, *, bots: list[dict[str, Any]] | None = None, **sections: Any
) -> Settings:
    """Settings for a test: port 0, a fresh secret key, one generic bot `helpdesk` by default."""
    raw: dict[str, Any] = {
        "server": {"host": "127.0.0.1", "port": 0},
        "database": {"url": database_url},
        "bus": {"url": bus_url},
        "security": {"secret_key": generate_key(), "admin_token": "admin-token-for-tests"},
        "bots": bots if bots is not None else [generic_bot("helpdesk")],
    }
    for name, values in sections.items():  # tables are merged, lists (automations) replace
        raw[name] = {**raw.get(name, {}), **values} if isinstance(values, dict) else values
    return settings_from_dict(raw)


def generic_bot(name: str, **generic: Any) -> dict[str, Any]:
    return {"name": name, "tools": ["help"], "generic": {"secret": GENERIC_SECRET, **generic}}


@asynccontextmanager
async def running(settings: Settings, role: Role = "all", **options: Any) -> AsyncIterator[Runtime]:
    async with Runtime(settings, role, **options) as runtime:
        yield runtime


class GenericClient:
    """Posts signed generic messages to a running gateway."""

    def __init__(self, base_url: str, bot: str = "helpdesk", secret: str = GENERIC_SECRET) -> None:
        self.base_url, self.bot, self.secret = base_url, bot, secret
        self.http = aiohttp.ClientSession()

    async def close(self) -> None:
        await self.http.close()

    async def post(
        self,
        payload: dict[str, Any] | bytes,
        *,
        wait: bool | str = False,
        bot: str | None = None,
        headers: dict[str, str] | None = None,
        signed_at: float | None = None,
    ) -> tuple[int, Any]:
        body = payload if isinstance(payload, bytes) else codec.dumps(payload)
        sent = {**signed_headers(self.secret, body, signed_at), **(headers or {})}
        query = f"?wait={'1' if wait is True else wait}" if wait else ""
        url = f"{self.base_url}/webhooks/generic/{bot or self.bot}{query}"
        async with self.http.post(url, data=io.BytesIO(body), headers=sent) as response:
            return response.status, await response.json(content_type=None)


def message(
    text: str, *, user: str = "u-17", channel: str = "room-1", **extra: Any
) -> dict[str, Any]:
    return {"user": {"id": user, "name": user}, "channel": {"id": channel}, "text": text, **extra}


async def count_rows(runtime: Runtime, table: str) -> int:
    model = Base.metadata.tables[table]
    async with runtime.db.transaction() as db:
        return int((await db.execute(select(func.count()).select_from(model))).scalar_one())


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 30.0) -> None:
    """Wait until `check()` is true; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.05)


class CallbackReceiver:
    """A local HTTP service standing in for the generic bot's `callback_url`."""

    def __init__(self, failures: int = 0, delay: float = 0.0) -> None:
        self.failures, self.delay = failures, delay
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.arrived = asyncio.Event()  # a request came in (its answer may still be pending)
        self.delivered = asyncio.Event()  # a request was answered with success
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def __aenter__(self) -> CallbackReceiver:
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/hook"
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    async def _hook(self, request: web.Request) -> web.Response:
        self.requests.append((dict(request.headers), await request.read()))
        self.arrived.set()
        await asyncio.sleep(self.delay)
        if len(self.requests) <= self.failures:
            return web.Response(status=500)
        self.delivered.set()
        return web.Response(status=204)
