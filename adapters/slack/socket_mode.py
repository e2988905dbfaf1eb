"""Socket Mode: Slack pushes envelopes over a websocket opened with `apps.connections.open`.

slack_sdk's aiohttp `SocketModeClient` holds the connection and reconnects when Slack sends a
`disconnect` message or the socket goes quiet. An envelope is acknowledged on the socket only
after its events were published with a broker confirm: an unacknowledged envelope is delivered
again by Slack, which is what we want while the bus is down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.send import slack_errors

log = logging.getLogger(__name__)
Handler = Callable[[SocketModeRequest], Awaitable[None]]


class SocketModeReceiver:
    """One Socket Mode connection whose envelopes go to `handle`, acked once it returns."""

    def __init__(
        self, app_token: str, web_client: AsyncWebClient, handle: Handler,
        ping_interval: float = 10.0, connect_timeout: float = 30.0,
    ) -> None:
        self.app_token = app_token
        self.web_client = web_client
        self.handle = handle
        self.ping_interval = ping_interval
        self.connect_timeout = connect_timeout
        self.client: SocketModeClient | None = None

    async def start(self) -> None:
        """Connect once, failing fast on a refused app token or an unreachable socket."""
        async with slack_errors("apps.connections.open"):
            opened = await self.web_client.apps_connections_open(app_token=self.app_token)
        self.client = SocketModeClient(
            app_token=self.app_token, web_client=self.web_client,
            ping_interval=self.ping_interval, logger=log,
        )
        self.client.socket_mode_request_listeners.append(self._on_request)
        self.client.wss_uri = str(opened["url"])
        try:
            connecting = self.client.connect()  # type: ignore[no-untyped-call]  # untyped in the SDK
            await asyncio.wait_for(connecting, self.connect_timeout)
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        if self.client is not None:
            client, self.client = self.client, None
            await client.close()  # type: ignore[no-untyped-call]

    async def _on_request(
        self, client: AsyncBaseSocketModeClient, request: SocketModeRequest
    ) -> None:
        try:
            await self.handle(request)
        except Exception as exc:
            # No ack: Slack delivers the envelope again.
            log.warning("slack socket envelope %s not acknowledged: %s", request.type, exc)
            return
        await client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))
