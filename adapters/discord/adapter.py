"""`DiscordAdapter`: one bot on Discord.

Every process verifies and parses interactions and sends actions through a REST client. The
process that receives (`context.receives`) also registers the bot's application commands and,
with `gateway = true`, runs the gateway connection while it holds the bot's gateway lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import ClassVar

from adapters.base import AdapterContext, InboundRequest, Lease, Parsed, SendResult
from adapters.discord.commands import sync_commands
from adapters.discord.gateway_client import GatewayRunner
from adapters.discord.interactions import load_public_key, parse_interaction, verify_signature
from adapters.discord.rest import RoutedHTTPClient
from adapters.discord.send import Sender
from adapters.discord.state import AdapterState
from adapters.discord.tickets import TicketStore
from gateway.config import BotConfig, DiscordConfig, Settings
from gateway.errors import TransientError
from gateway.events import Action

log = logging.getLogger(__name__)


class DiscordAdapter:
    platform: ClassVar[str] = "discord"

    def __init__(self, bot: BotConfig, settings: Settings) -> None:
        assert bot.discord is not None
        self.bot = bot
        self.config: DiscordConfig = bot.discord
        self.settings = settings
        self.window = settings.security.signature_window.total_seconds()
        self.public_key = (
            load_public_key(self.config.public_key) if self.config.public_key else None
        )
        self.tickets = TicketStore()
        self.http: RoutedHTTPClient | None = None
        self.sender: Sender | None = None
        self.runner: GatewayRunner | None = None
        self._runner_task: asyncio.Task[None] | None = None

    def verify(self, request: InboundRequest) -> None:
        verify_signature(self.public_key, request, self.window)

    def parse(self, request: InboundRequest) -> Parsed:
        result = parse_interaction(request.body, self.bot.name)
        if result.ticket is not None:
            self.tickets.remember(str(result.parsed.events[0].id), result.ticket)
        return result.parsed

    async def start(self, context: AdapterContext) -> None:
        state = AdapterState(context, self.bot.name)
        self.tickets.attach(state)
        try:
            application_id = await self._open_rest()
            if context.receives and self.config.register_commands:
                await self._register_commands(state, application_id, context)
        except BaseException:
            await self.stop()
            raise
        if context.receives and self.config.gateway:
            self._start_gateway(context)

    async def _open_rest(self) -> str:
        self.http = RoutedHTTPClient.for_bot(asyncio.get_running_loop(), self.config)
        await self.http.static_login(self.config.token)
        application_id = self.config.application_id or str(
            (await self.http.application_info())["id"]
        )
        self.sender = Sender(self.http, self.tickets, application_id)
        return application_id

    async def _register_commands(
        self, state: AdapterState, application_id: str, context: AdapterContext
    ) -> None:
        assert self.http is not None
        commands = context.commands(self.bot.name)
        await sync_commands(self.http, state, commands, application_id, self.config.guild_id)

    def _start_gateway(self, context: AdapterContext) -> None:
        self.runner = GatewayRunner(
            self.bot.name, self.config, self._lock(context), context.publish_event
        )
        self._runner_task = asyncio.create_task(
            self.runner.run(), name=f"discord gateway {self.bot.name}"
        )

    def _lock(self, context: AdapterContext) -> Lease:
        """One process at a time holds a bot's gateway connection: a lease in the database."""
        return context.lease(f"discord.gateway.{self.bot.name}")

    async def stop(self) -> None:
        if self._runner_task is not None:
            self._runner_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner_task
            self._runner_task = None
        await self.tickets.flush()
        if self.http is not None:
            await self.http.close()
            self.http = None
        self.sender = None

    async def send(self, action: Action) -> SendResult:
        if self.sender is None:
            raise TransientError("the Discord adapter is not started")
        return await self.sender.send(action)
