"""What the platform emulators share: an aiohttp server on an ephemeral 127.0.0.1 port, run as
an async context manager, the requests it recorded, and deliveries to a gateway.

A platform emulator subclasses `EmulatorServer`, adds its routes in `_routes`, and keeps only
its platform's protocol::

    class PagerEmulator(EmulatorServer[RecordedPage]):
        def _routes(self, router: web.UrlDispatcher) -> None:
            router.add_post("/api/page", self._page)

        async def deliver(self, url: str, body: bytes) -> DeliveryResult:
            return await post(self._session(), url, body, {"Content-Type": "application/json"})
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Self, TypeVar

import aiohttp
from aiohttp import web

RecordT = TypeVar("RecordT")


@dataclass(frozen=True)
class DeliveryResult:
    """The gateway's answer to one delivery the emulator made."""

    status: int
    body: str
    headers: Mapping[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body)


async def post(
    http: aiohttp.ClientSession, url: str, body: bytes, headers: Mapping[str, str]
) -> DeliveryResult:
    """POST `body` to `url`; the answer as a DeliveryResult."""
    async with http.post(url, data=body, headers=headers) as resp:
        return DeliveryResult(resp.status, await resp.text(), dict(resp.headers))


class EmulatorServer(Generic[RecordT]):
    """Base of the emulators: serves `_routes` on an ephemeral 127.0.0.1 port while entered,
    with a ClientSession for deliveries; `requests` holds what the emulator received, oldest
    first. Subclasses close their own connections (websockets, long polls) in `_stopping`."""

    # aiohttp's shutdown wait for handlers still running, and its access logger (None: none).
    shutdown_timeout: ClassVar[float] = 60.0
    access_log: ClassVar[logging.Logger | None] = None

    def __init__(self) -> None:
        self.requests: list[RecordT] = []
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None

    def _routes(self, router: web.UrlDispatcher) -> None:
        raise NotImplementedError

    async def _stopping(self) -> None:
        """Called first on exit, while the server still runs."""

    async def __aenter__(self) -> Self:
        app = web.Application()
        self._routes(app.router)
        self._runner = web.AppRunner(
            app, access_log=self.access_log, shutdown_timeout=self.shutdown_timeout
        )
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        except BaseException:
            await self._runner.cleanup()
            raise
        self.port = self._runner.addresses[0][1]
        self._http = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stopping()
        if self._http is not None:
            await self._http.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_base_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def _session(self) -> aiohttp.ClientSession:
        """The ClientSession deliveries go through; open while the emulator is entered."""
        assert self._http is not None, "use the emulator as an async context manager"
        return self._http
