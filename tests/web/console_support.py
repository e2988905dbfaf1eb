"""Helpers of the console tests: a running service, API tokens, a signed-in HTTP client, and a
dead letter made the way the action runner makes one."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from sqlalchemy import select

from gateway.app import Runtime
from gateway.bus.base import Failure, dead_copy
from gateway.bus.topology import actions_queue
from gateway.events import Action
from gateway.ops import tokens
from gateway.publisher import action_message
from store.models import DeadLetter
from tests.support.pipeline import eventually, make_settings, running

ADMIN_TOKEN = "admin-token-for-tests"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@asynccontextmanager
async def service(database_url: str, bus_url: str) -> AsyncIterator[Runtime]:
    """The whole service with one generic bot `helpdesk`, its redriver polling often."""
    settings = make_settings(database_url, bus_url, operations={"redrive_interval": "100ms"})
    async with running(settings) as runtime:
        yield runtime


async def token(runtime: Runtime, scope: str) -> str:
    made, _ = await tokens.create(runtime.db, f"console-{scope}", scope, None, "test")
    return made


async def kill_a_letter(runtime: Runtime, text: str = "your order shipped") -> str:
    """An action to the generic bot, dead-lettered as a refused delivery; its letter's id."""
    action = Action(
        type="message.send", platform="generic", bot="helpdesk", channel_id="room-1", text=text
    )
    failure = Failure("callback answered 500 eight times", "PermanentError")
    queue = actions_queue("generic", "helpdesk")
    await runtime.bus.publish(dead_copy(action_message(action), failure, queue, 8))

    async def kept() -> bool:
        return await letter_status(runtime) is not None

    await eventually(kept)
    async with runtime.db.transaction() as db:
        return str((await db.execute(select(DeadLetter.id))).scalar_one())


async def letter_status(runtime: Runtime) -> str | None:
    async with runtime.db.transaction() as db:
        status: str | None = (await db.execute(select(DeadLetter.status))).scalar_one_or_none()
        return status


class ConsoleClient:
    """An operator's browser without the rendering: cookies, forms and their CSRF tokens."""

    def __init__(self, runtime: Runtime) -> None:
        self.base = runtime.http.url
        # the service listens on 127.0.0.1: a jar that keeps cookies of IP hosts
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf = ""

    async def __aenter__(self) -> ConsoleClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.http.close()

    async def get(self, path: str) -> tuple[int, str]:
        async with self.http.get(self.base + path) as response:
            return response.status, self._read_csrf(await response.text())

    async def post(self, path: str, data: Any, **options: Any) -> tuple[int, str]:
        url = self.base + path
        async with self.http.post(url, data=data, allow_redirects=False, **options) as response:
            return response.status, self._read_csrf(await response.text())

    def _read_csrf(self, page: str) -> str:
        """Keeps the CSRF token of the page's forms, as a browser's next form would send."""
        if found := CSRF.search(page):
            self.csrf = found.group(1)
        return page

    async def sign_in(self, secret: str) -> int:
        await self.get("/console")
        status, _ = await self.post("/console/sign-in", {"csrf": self.csrf, "token": secret})
        await self.get("/console")  # the session's CSRF token, for the forms
        return status
