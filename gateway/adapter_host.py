"""`AdapterHost`: the AdapterContext the gateway gives its adapters."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry.trace import SpanKind

from gateway import tracing
from gateway.bus.base import Bus
from gateway.config import Settings
from gateway.events import Event
from gateway.lease import Lease, process_name
from gateway.publisher import publish_event
from gateway.tools.base import CommandSpec
from gateway.tools.registry import ToolRegistry
from store import bots as bot_records
from store.database import Database


class AdapterHost:
    def __init__(
        self, settings: Settings, bus: Bus, db: Database, tools: ToolRegistry, *, receives: bool
    ) -> None:
        self.settings = settings
        self.receives = receives
        self._bus = bus
        self._db = db
        self._tools = tools
        self.holder = process_name()
        self.leases: dict[str, Lease] = {}  # the leases this process runs a job under

    async def publish_event(self, event: Event) -> None:
        """An event an adapter received by itself (polling, a socket): a trace starts here."""
        if not tracing.enabled():
            await publish_event(self._bus, event, shards=self.settings.bus.shards)
            return
        attributes = {"botgate.platform": event.platform, "botgate.bot": event.bot}
        name = f"receive {event.platform}"
        with tracing.span(name, kind=SpanKind.CONSUMER, attributes=attributes) as span:
            traceparent = tracing.traceparent_of(span)
            await publish_event(self._bus, event, traceparent, shards=self.settings.bus.shards)

    def commands(self, bot: str) -> list[CommandSpec]:
        config = self.settings.bot(bot)
        return self._tools.commands_for(config) if config else []

    async def load_state(self, platform: str, bot: str) -> dict[str, Any]:
        async with self._db.transaction() as db:
            return await bot_records.load_state(db, platform, bot)

    async def save_state(self, platform: str, bot: str, state: Mapping[str, Any]) -> None:
        async with self._db.transaction() as db:
            await bot_records.save_state(db, platform, bot, state)

    async def update_state(
        self, platform: str, bot: str, change: Callable[[dict[str, Any]], None]
    ) -> None:
        async with self._db.transaction() as db:
            state = await bot_records.load_state(db, platform, bot, for_update=True)
            change(state)
            await bot_records.save_state(db, platform, bot, state)

    def lease(self, name: str) -> Lease:
        config = self.settings.adapters
        lease = self.leases[name] = Lease(
            self._db,
            name,
            self.holder,
            config.lease_ttl.total_seconds(),
            config.lease_retry_interval.total_seconds(),
        )
        return lease

    def held(self) -> dict[str, bool]:
        """Each lease this process wants: whether it holds it now."""
        return {name: lease.held for name, lease in self.leases.items()}
