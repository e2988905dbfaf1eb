"""The cron scheduler of the core role: it sleeps until the next firing of any scheduled
automation, then fires what is due. Every core process runs one; the claim in the database
decides which of them runs a firing.

Times come from each automation's cron expression in its time zone, with cron's own rules
across daylight-saving changes (cronsim): a fixed-time job in the repeated hour runs once, one
in the skipped hour runs when the hour is over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from cronsim import CronSim

from gateway.automations.runner import Fire, Firing
from gateway.config import AutomationConfig
from gateway.events import utcnow

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
MAX_SLEEP = 60.0  # wake at least this often, so that a wall clock that jumps is noticed
MISFIRE_GRACE = timedelta(minutes=1)  # a firing found later than this (a pause) is skipped
CLAIM_RETRIES = (1.0, 2.0, 4.0)  # pauses between attempts to claim while the database is down


def next_time(cron: str, timezone: str, after: datetime) -> datetime:
    """The first time strictly after `after` that the cron expression names in that time
    zone, in UTC."""
    local = after.astimezone(ZoneInfo(timezone))
    return next(CronSim(cron, local)).astimezone(UTC)


def next_firing(automation: AutomationConfig, after: datetime) -> datetime:
    assert automation.cron is not None
    return next_time(automation.cron, automation.timezone, after)


class Scheduler:
    def __init__(
        self,
        automations: Sequence[tuple[AutomationConfig, uuid.UUID]],
        fire: Fire,
        clock: Clock = utcnow,
        grace: float = 10.0,
    ) -> None:
        self.automations, self.fire, self.clock, self.grace = automations, fire, clock, grace
        self.due: dict[str, datetime] = {}
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._firing: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        if not self.automations:
            return
        now = self.clock()
        self.due = {a.name: next_firing(a, now) for a, _ in self.automations}
        self._task = asyncio.create_task(self._run(), name="automation-scheduler")

    async def stop(self) -> None:
        """Fire nothing more; let the firings under way finish within the grace."""
        self._stopping.set()
        if self._task is not None:
            await self._task
        if self._firing:
            _, late = await asyncio.wait(self._firing, timeout=self.grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    async def _run(self) -> None:
        while not self._stopping.is_set():
            await self._sleep_until(min(self.due.values()))
            if not self._stopping.is_set():
                self._fire_due(self.clock())

    async def _sleep_until(self, at: datetime) -> None:
        seconds = (at - self.clock()).total_seconds()
        if seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), min(seconds, MAX_SLEEP))

    def _fire_due(self, now: datetime) -> None:
        for automation, automation_id in self.automations:
            due = self.due[automation.name]
            if due > now:
                continue
            if now - due > MISFIRE_GRACE:
                log.warning(
                    "automation %s missed its firing at %s: no core process ran then",
                    automation.name,
                    due.isoformat(),
                )
                self.due[automation.name] = next_firing(automation, now - MISFIRE_GRACE)
                continue
            self._start(Firing.scheduled(automation, automation_id, due))
            self.due[automation.name] = next_firing(automation, due)

    def _start(self, firing: Firing) -> None:
        task = asyncio.create_task(self._claim_and_run(firing), name=f"automation-{firing.key}")
        self._firing.add(task)
        task.add_done_callback(self._firing.discard)

    async def _claim_and_run(self, firing: Firing) -> None:
        """Fire; while the database cannot take the claim, try again a few times (the other
        core processes try too)."""
        for pause in (*CLAIM_RETRIES, None):
            try:
                await self.fire(firing)
                return
            except Exception as exc:
                if pause is None:
                    log.error(
                        "automation %s: firing %s was not run: %s",
                        firing.automation.name,
                        firing.key,
                        exc,
                    )
                    return
                log.warning("automation %s: claiming failed (%s); retrying", firing.key, exc)
                await asyncio.sleep(pause)
