"""The console's health page: what /readyz checks (database, migrations, bus), the assistants'
state, and each adapter's link to the bus.

An adapter sends what it consumes from its actions queue, so a queue without a consumer means
no process sends for that bot (the `adapters` role is down); the queue's depth is what waits.
An adapter that knows more about its own connection (a gateway socket, a poller) may say so
with a `connection_status() -> str` method: "ok" or what is wrong; one whose messages arrive
another way than its configuration says may describe it with `receiving() -> str` (the web
chat: its visitors' sockets).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from adapters.base import Adapter
from gateway.bus.base import QueueStats
from gateway.bus.topology import actions_queue
from gateway.config import BotConfig
from gateway.console.state import ConsoleDeps
from gateway.errors import BusUnavailable
from gateway.http.health import readiness

QUEUE_TIMEOUT = 3.0  # seconds the page waits for the broker's queue counts


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # "ok", or what is wrong
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


async def checks(deps: ConsoleDeps) -> list[Check]:
    found = [Check(name, status) for name, status in (await readiness(deps.health)).items()]
    found += [
        Check(f"assistant of {bot}", status) for bot, status in deps.health.assistants.items()
    ]
    adapters = sorted(deps.adapters.items())
    stats = await asyncio.gather(*(_queue(deps, platform, bot) for (platform, bot), _ in adapters))
    for ((platform, bot), adapter), counts in zip(adapters, stats, strict=True):
        found.append(_adapter_check(deps, platform, bot, adapter, counts))
    return found


NO_ANSWER = "no answer"


async def _queue(deps: ConsoleDeps, platform: str, bot: str) -> QueueStats | str | None:
    """The queue's counts; None when it does not exist; NO_ANSWER when the bus is silent."""
    try:
        async with asyncio.timeout(QUEUE_TIMEOUT):
            return await deps.bus.queue_stats(actions_queue(platform, bot))
    except (BusUnavailable, TimeoutError):
        return NO_ANSWER


def _adapter_check(
    deps: ConsoleDeps, platform: str, bot: str, adapter: Adapter, counts: QueueStats | str | None
) -> Check:
    name, queue = f"{platform} adapter of {bot}", actions_queue(platform, bot)
    receives = _receives(deps, platform, bot, adapter)
    if counts == NO_ANSWER:
        return Check(name, "unknown: the bus did not answer", f"receives by {receives}")
    if not isinstance(counts, QueueStats):
        status = f"not sending: {queue} does not exist (no adapters process has started)"
        return Check(name, status, f"receives by {receives}")
    detail = f"receives by {receives}; {counts.ready} action(s) waiting to be sent"
    reported = getattr(adapter, "connection_status", None)
    if callable(reported) and (said := str(reported())) != "ok":
        return Check(name, said, detail)
    if counts.consumers == 0:
        return Check(name, f"not sending: no process consumes {queue}", detail)
    return Check(name, "ok", detail)


def _receives(deps: ConsoleDeps, platform: str, bot: str, adapter: Adapter) -> str:
    described = getattr(adapter, "receiving", None)
    if callable(described):
        return str(described())
    config = deps.settings.bot(bot)
    return receiving(config, platform) if config else "unknown"


def receiving(bot: BotConfig, platform: str) -> str:
    """How a platform's messages reach this bot, from its configuration."""
    if platform == "webchat":
        return "visitors' WebSockets"
    table = bot.platforms().get(platform)
    if getattr(table, "mode", None) == "polling":
        return "polling"
    if getattr(table, "gateway", False):
        return "webhook and gateway connection"
    if getattr(table, "app_token", None):
        return "Socket Mode"
    return "webhook"
