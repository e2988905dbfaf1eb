"""discord.py's HTTP client, rebased on one bot's endpoints.

discord.py builds every REST URL from the class attribute `Route.BASE` and connects a plain
`Client` to the class attribute `DiscordWebSocket.DEFAULT_GATEWAY`; both are process-wide. This
subclass rewrites those URLs per client at the two places every request passes through
(`request` and `ws_connect`), so that bots in one process may use different API servers (the
real Discord, a proxy, the emulator) and discord.py's rate-limit buckets still apply.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import HTTPClient, Route

from gateway.config import DiscordConfig

DISCORD_API = "https://discord.com/api/v10"
DEFAULT_GATEWAY = str(DiscordWebSocket.DEFAULT_GATEWAY)


class RoutedHTTPClient(HTTPClient):
    """An HTTPClient whose REST routes go to `api_base_url` and whose default gateway is
    `gateway_url` (discord.py still follows READY's `resume_gateway_url` as given)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        *,
        api_base_url: str,
        gateway_url: str | None = None,
        max_ratelimit_timeout: float | None = None,
    ) -> None:
        super().__init__(loop, max_ratelimit_timeout=max_ratelimit_timeout)
        self.api_base_url = api_base_url.rstrip("/")
        self.gateway_url = gateway_url

    @classmethod
    def for_bot(cls, loop: asyncio.AbstractEventLoop, config: DiscordConfig) -> RoutedHTTPClient:
        """A client on the bot's `api_base_url`, waiting out rate limits up to `max_retry_wait`."""
        return cls(
            loop,
            api_base_url=config.api_base_url,
            max_ratelimit_timeout=config.max_retry_wait.total_seconds(),
        )

    def rebase(self, url: str) -> str:
        if url.startswith(Route.BASE):
            return self.api_base_url + url[len(Route.BASE) :]
        return url

    def rebase_gateway(self, url: str) -> str:
        if self.gateway_url is None or not url.startswith(DEFAULT_GATEWAY):
            return url
        return str(yarl.URL(self.gateway_url).with_query(yarl.URL(url).query))

    async def request(self, route: Route, **kwargs: Any) -> Any:
        route.url = self.rebase(route.url)
        return await super().request(route, **kwargs)

    async def ws_connect(self, url: str, *, compress: int = 0) -> aiohttp.ClientWebSocketResponse:
        return await super().ws_connect(self.rebase_gateway(url), compress=compress)

    async def gateway_for_bot(self, configured: str) -> str:
        """The gateway URL: `configured` unless it is Discord's default, else `GET /gateway/bot`."""
        if configured.rstrip("/") != DEFAULT_GATEWAY.rstrip("/"):
            return configured
        _shards, url, _limits = await self.get_bot_gateway()
        return url
