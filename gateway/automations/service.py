"""`Automations`: the part of the core role that mirrors `[[automations]]` into
`system_automations` on start, then runs the scheduler and the event consumer."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from gateway.automations.runner import AutomationRunner, ToolRunner
from gateway.automations.schedule import Clock, Scheduler
from gateway.automations.triggers import EventTriggers
from gateway.bus.base import Bus
from gateway.config import AutomationConfig, Settings
from gateway.events import utcnow
from gateway.metrics import Metrics
from store import automations as records
from store.database import Database


class Automations:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        bus: Bus,
        bot_ids: Mapping[str, uuid.UUID],
        metrics: Metrics,
        tools: ToolRunner | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self.settings, self.db, self.bus, self.bot_ids = settings, db, bus, bot_ids
        self.metrics, self.clock = metrics, clock
        self.runner = AutomationRunner(db, bus, metrics, tools)
        self.scheduler: Scheduler | None = None
        self.triggers: EventTriggers | None = None

    async def start(self) -> None:
        configured = self.settings.automations
        rows = [_row(automation, self.bot_ids[automation.bot]) for automation in configured]
        async with self.db.transaction() as session:
            mirrored = await records.mirror(session, rows)
        active = [(a, mirrored.ids[a.name]) for a in configured if a.enabled]
        fire, attempts = self.runner.fire, self.settings.bus.max_attempts
        by_event = [(a, i) for a, i in active if a.event is not None]
        self.triggers = EventTriggers(self.bus, by_event, fire, self.metrics, attempts)
        await self.triggers.start(mirrored.dropped_triggers)
        grace = self.settings.server.shutdown_grace.total_seconds()
        scheduled = [(a, i) for a, i in active if a.cron is not None]
        self.scheduler = Scheduler(scheduled, fire, self.clock, grace)
        await self.scheduler.start()

    async def stop(self) -> None:
        if self.scheduler is not None:
            await self.scheduler.stop()
        if self.triggers is not None:
            await self.triggers.stop()


def _row(automation: AutomationConfig, bot_id: uuid.UUID) -> records.AutomationRow:
    deed = automation.model_dump(
        mode="json", include={"send", "tool", "args", "to"}, exclude_none=True
    )
    if automation.tool is None:
        deed.pop("args", None)
    return records.AutomationRow(
        name=automation.name,
        bot_id=bot_id,
        kind="schedule" if automation.cron is not None else "event",
        schedule=automation.cron,
        timezone=automation.timezone if automation.cron is not None else None,
        trigger=automation.event,
        params=deed,
        is_active=automation.enabled,
    )
