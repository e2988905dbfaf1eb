"""The composition root: `Runtime` starts the parts a role needs and stops them in reverse.

Roles: `gateway` (webhooks, admin API), `core` (records and answers events), `adapters`
(sends actions, runs receiving loops); `all` is every role in one process. Every role serves
`/healthz`, `/readyz` and `/metrics`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from functools import partial
from types import TracebackType
from typing import Literal

from adapters.base import Adapter
from adapters.registry import build_adapters
from adapters.webchat import WebchatAdapter
from adapters.webchat.relay import WebchatRelay
from gateway.adapter_host import AdapterHost
from gateway.assistant.passages import PassageSource
from gateway.assistant.service import Assistants
from gateway.automations.runner import ToolRunner as AutomationToolRunner
from gateway.automations.schedule import Clock
from gateway.automations.service import Automations
from gateway.bus.base import Bus
from gateway.bus.factory import create_bus
from gateway.bus.topology import (
    AUTOMATIONS_QUEUE,
    DEAD_QUEUE,
    UNROUTED_QUEUE,
    actions_queue,
    shard_queue_name,
)
from gateway.config import Settings
from gateway.console import ConsoleDeps
from gateway.core.answers import Answerer
from gateway.core.consumer import CoreConsumer
from gateway.core.retention import Retention, rules
from gateway.crypto import vault_for
from gateway.errors import ConfigError
from gateway.events import utcnow
from gateway.http import admin, health
from gateway.http.listen import Listener
from gateway.http.replies import ReplyWaiter
from gateway.http.server import HttpServer, build_app
from gateway.http.webhooks import WebhookDeps
from gateway.kb.for_assistant import KbPassages
from gateway.kb.http import KbDeps
from gateway.kb.replies import KbResponder
from gateway.kb.search import KnowledgeBase
from gateway.metrics import Metrics, QueueSampler
from gateway.ops.dead import DeadLetterKeeper, Redriver
from gateway.outbound import ActionRunner
from gateway.tools.automated import AutomationTools
from gateway.tools.base import Responder, Services
from gateway.tools.chain import Chain, Fallback, ToolResponder
from gateway.tools.profiles import Profiles
from gateway.tools.registry import ToolRegistry
from gateway.tools.runner import ToolRunner
from store import bots as bot_records
from store.database import Database

log = logging.getLogger(__name__)
Role = Literal["all", "gateway", "core", "adapters"]
ROLES: tuple[Role, ...] = ("all", "gateway", "core", "adapters")


class Runtime:
    """`async with Runtime(settings, "all") as runtime:` serves until the block ends."""

    def __init__(
        self,
        settings: Settings,
        role: Role = "all",
        *,
        migrate: bool = True,
        adapters: dict[tuple[str, str], Adapter] | None = None,
        serve_http: bool = True,
        automation_tools: AutomationToolRunner | None = None,
        clock: Clock = utcnow,
        passages: PassageSource | None = None,
    ) -> None:
        """`automation_tools` runs the tools of `[[automations]]` (by default the tool
        registry); `clock` is the automations' clock (tests set it)."""
        self.settings, self.role, self.migrate = settings, role, migrate
        self.serve_http = serve_http
        self._automation_tools, self._clock = automation_tools, clock
        self._adapters_override = adapters
        self._passages = passages  # knowledge-base passages for the assistants' questions
        self.metrics = Metrics()
        self._stack = AsyncExitStack()
        self.db: Database
        self.bus: Bus
        self.http: HttpServer
        self.adapters: dict[tuple[str, str], Adapter] = {}
        self.core: CoreConsumer | None = None
        self.answers: Answerer | None = None
        self.tools: ToolRegistry
        self.kb = KnowledgeBase(settings.kb)  # the embedding model loads on first use
        self.runner: ActionRunner | None = None
        self.automations: Automations | None = None
        self.redriver: Redriver | None = None
        self.adapter_host: AdapterHost | None = None
        self.assistants: Assistants | None = None

    def runs(self, role: Role) -> bool:
        return self.role in ("all", role)

    async def __aenter__(self) -> Runtime:
        try:
            await self._start()
        except BaseException:
            await self._stack.aclose()  # undo a partial start
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.aclose()

    async def _start(self) -> None:
        # What the outside world may refuse comes first (the port, the broker, the database),
        # so that a refusal ends the start before a database file or a key file is created.
        listener = Listener(self.settings.server.host, self.settings.server.port)
        if self.serve_http:
            await self._open(listener.open, listener.close)
        self.bus = create_bus(self.settings.bus.url, **bus_options(self.settings))
        await self._open(self.bus.connect, self.bus.close)
        self.db = Database(self.settings.database)
        await self._open(None, self.db.close)
        await self._prepare_database()
        self.tools = ToolRegistry(self.settings, self.bus)
        await self._open(self.tools.start, self.tools.stop)
        await self._open(self.kb.start, self.kb.stop)
        bot_ids = await self._sync_bots()
        self.adapters = self._adapters_override or build_adapters(self.settings)
        replies = ReplyWaiter(self.bus)
        if self.runs("gateway"):
            await self._open(replies.start, replies.stop)
        await self._start_adapters()
        await self._start_webchat_relay()
        if self.runs("core"):
            used = [(bot.organization, bot.kb) for bot in self.settings.bots if bot.kb]
            if used:
                await self.kb.warm(self.db, used)
            profiles = Profiles(self.db)
            services = Services(self.settings, self.db, self.bus, self.tools, profiles, self.kb)
            tool_runner = ToolRunner(self.metrics)
            passages = self._passages or KbPassages()
            self.assistants = Assistants(
                self.settings, self.db, self.tools, tool_runner, self.metrics, passages
            )
            await self._open(self.assistants.start, self.assistants.stop)
            self.answers = self._answerer(services, tool_runner, self.assistants)
            await self._open(self.answers.start, self.answers.stop)
            self.core = CoreConsumer(
                self.bus, self.db, self.settings, bot_ids, self.metrics, self.answers
            )
            await self._open(self.core.start, self.core.stop)
            self.automations = Automations(
                self.settings,
                self.db,
                self.bus,
                bot_ids,
                self.metrics,
                self._automation_tools
                or AutomationTools(self.settings, services, tool_runner, bot_ids),
                self._clock,
            )
            await self._open(self.automations.start, self.automations.stop)
            interval = self.settings.retention.interval
            retention = Retention(self.db, rules(self.settings), interval)
            await self._open(retention.start, retention.stop)
            keeper = DeadLetterKeeper(self.bus, self.db)
            await self._open(keeper.start, keeper.stop)
            self.redriver = Redriver(self.bus, self.db, self.settings.operations)
            await self._open(self.redriver.start, self.redriver.stop)
        if self.runs("adapters"):
            self.runner = ActionRunner(
                self.bus, self.db, self.settings, self.adapters, self.metrics
            )
            await self._open(self.runner.start, self.runner.stop)
        if self.serve_http:
            self.http = self._http_server(replies, listener)
            await self._open(self.http.start, self.http.stop)
            log.info(
                "botgate %s role serving on %s (database %s, bus %s)",
                self.role,
                self.http.url,
                self.db.url_for_display,
                self.bus.url_for_display,
            )

    async def _open(
        self, start: Callable[[], Awaitable[None]] | None, stop: Callable[[], Awaitable[None]]
    ) -> None:
        """Start a part and make sure it is stopped, even if a later part fails to start."""
        if start is not None:
            await start()
        self._stack.push_async_callback(stop)

    async def _prepare_database(self) -> None:
        await self.db.ping()
        if self.migrate:
            await self.db.migrate()
            return
        status = await self.db.migration_status()
        if not status.up_to_date:
            raise ConfigError(
                f"database migrations are pending ({', '.join(status.pending)}): "
                "run `botgate migrate up`"
            )

    def _answerer(self, services: Services, runner: ToolRunner, assistants: Assistants) -> Answerer:
        """The core's after-commit half: each bot's responder chain, built from its config:
        its tools, then its assistant (which answers from the knowledge base too) or else the
        knowledge base, then the fallback reply."""
        fallback = Fallback(self.settings.core.fallback_reply)
        chains = {}
        for bot in self.settings.bots:
            links: list[Responder] = [ToolResponder(self.tools, runner)]
            if (assistant := assistants.responder(bot)) is not None:
                links.append(assistant)
            elif bot.kb:
                links.append(KbResponder())
            chains[bot.name] = Chain([*links, fallback])
        return Answerer(self.bus, self.db, self.settings, services, chains, self.metrics)

    async def _sync_bots(self) -> dict[str, uuid.UUID]:
        vault = vault_for(self.settings)
        async with self.db.transaction() as db:
            bot_ids = await bot_records.sync_bots(db, self.settings, vault)
            await bot_records.sync_tools(db, bot_ids, self.settings.bots, self.tools)
            return bot_ids

    async def _start_adapters(self) -> None:
        host = self.adapter_host = AdapterHost(
            self.settings, self.bus, self.db, self.tools, receives=self.runs("adapters")
        )
        for adapter in self.adapters.values():
            await self._open(partial(adapter.start, host), adapter.stop)

    async def _start_webchat_relay(self) -> None:
        """Web chat frames go from the process sending the bot's actions to the processes
        serving visitors' sockets (the gateway role's HTTP server), through the broker."""
        webchats = {
            bot: adapter
            for (_, bot), adapter in self.adapters.items()
            if isinstance(adapter, WebchatAdapter)
        }
        if webchats:
            serves = self.serve_http and self.runs("gateway")
            relay = WebchatRelay(self.bus, webchats, serves)
            await self._open(relay.start, relay.stop)

    def _redrive_now(self) -> None:
        if self.redriver is not None:
            self.redriver.wake()

    def _http_server(self, replies: ReplyWaiter, listener: Listener) -> HttpServer:
        health_deps = health.HealthDeps(
            self.db,
            self.bus,
            self.metrics,
            self._queue_sampler(),
            self.assistants.health if self.assistants else {},
            self._leases,
        )
        app = build_app(
            WebhookDeps(self.settings, self.bus, self.adapters, replies, self.metrics),
            health_deps,
            admin.AdminDeps(self.settings, self.db, self.bus, self._redrive_now),
            webhooks_enabled=self.runs("gateway"),
            kb_deps=KbDeps(self.settings, self.db, self.kb),
            console_deps=ConsoleDeps(
                self.settings,
                self.db,
                self.bus,
                self.kb,
                health_deps,
                self.adapters,
                vault_for(self.settings).derive("botgate console"),
                self._redrive_now,
            ),
        )
        return HttpServer(app, listener)

    def _leases(self) -> dict[str, object]:
        """Which pollers this process holds (healthz): one process per bot holds each."""
        host = self.adapter_host
        if host is None or not host.leases:
            return {}
        return {"holder": host.holder, "held": host.held()}

    def _queue_sampler(self) -> QueueSampler:
        """Every queue of the gateway's topology that this configuration has."""
        shards = [shard_queue_name(index) for index in range(self.settings.bus.shards)]
        queues = [*shards, UNROUTED_QUEUE, DEAD_QUEUE, AUTOMATIONS_QUEUE]
        queues += [actions_queue(platform, bot) for platform, bot in sorted(self.adapters)]
        return QueueSampler(self.bus, self.metrics, queues)


def bus_options(settings: Settings) -> dict[str, float | str]:
    return {
        "publish_timeout": settings.bus.publish_timeout.total_seconds(),
        "reconnect_interval": settings.bus.reconnect_interval.total_seconds(),
        "queue_type": settings.bus.queue_type,
    }
