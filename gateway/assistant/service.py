"""The bots' assistants as one part of the runtime: the HTTP client they share, a responder per
bot with `[bots.assistant]`, and what /readyz says about each model (a detail, not a reason to
be unready: a bot whose model is down still answers commands and apologises for the rest).

At start each `base_url` is asked for its models in the background: one that cannot be reached
is a warning in the log and a /readyz detail, never a failed start."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aiohttp

from gateway.assistant.client import ChatClient
from gateway.assistant.passages import NoPassages, PassageSource
from gateway.assistant.responder import AssistantResponder
from gateway.config import BotConfig, Settings
from gateway.metrics import Metrics
from gateway.tools.registry import ToolRegistry
from gateway.tools.runner import ToolRunner
from store.database import Database

log = logging.getLogger(__name__)


class Assistants:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        registry: ToolRegistry,
        runner: ToolRunner,
        metrics: Metrics,
        passages: PassageSource | None = None,
    ) -> None:
        self.settings, self.db, self.registry, self.runner = settings, db, registry, runner
        self.metrics, self.passages = metrics, passages or NoPassages()
        self.health: dict[str, str] = {}  # bot -> "ok" or what failed last
        self.clients: dict[str, ChatClient] = {}
        self._http: aiohttp.ClientSession | None = None
        self._check: asyncio.Task[None] | None = None

    async def start(self) -> None:
        bots = [bot for bot in self.settings.bots if bot.assistant is not None]
        if not bots:
            return
        # No overall timeout: an answer streams as long as the model writes; the client bounds
        # each wait itself (`timeout`).
        self._http = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None),
            connector=aiohttp.TCPConnector(limit=self.settings.core.max_in_flight),
        )
        for bot in bots:
            assert bot.assistant is not None
            self.clients[bot.name] = ChatClient(bot.assistant, self._http)
            self.health[bot.name] = "not checked yet"
        self._check = asyncio.create_task(self._check_all(), name="assistant-check")

    async def stop(self) -> None:
        if self._check is not None:
            self._check.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._check
        if self._http is not None:
            await self._http.close()

    def responder(self, bot: BotConfig) -> AssistantResponder | None:
        client = self.clients.get(bot.name)
        if client is None:
            return None
        return AssistantResponder(
            bot, client, self.registry, self.runner, self.passages, self.db, self.metrics,
            self.health,
        )

    async def _check_all(self) -> None:
        async def check(bot: str, client: ChatClient) -> None:
            status = await client.reachable()
            if self.health.get(bot) == "not checked yet":
                self.health[bot] = status
            if status != "ok":
                log.warning(
                    "bots.%s.assistant: the model at %s is %s; its answers will be apologies "
                    "until it is", bot, client.config.base_url, status,
                )

        await asyncio.gather(*(check(bot, client) for bot, client in self.clients.items()))
