"""A fake AdapterContext for the adapter tests: collects published events, keeps adapter state
in memory, and can refuse publishes as a bus outage would."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, cast

from gateway.bus.base import Bus
from gateway.config import Settings
from gateway.errors import BusUnavailable
from gateway.events import Event
from gateway.tools.base import CommandSpec
from gateway.tools.registry import ToolRegistry


@dataclass
class FakeContext:
    settings: Settings
    receives: bool = True
    events: list[Event] = field(default_factory=list)
    states: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    saves: list[dict[str, Any]] = field(default_factory=list)  # every saved state, in order
    refuse_publishes: int = 0  # the next N publishes fail as if the bus could not confirm
    bus_down: bool = False  # every publish fails until this is False again

    def commands(self, bot: str) -> list[CommandSpec]:
        """What the real registry lists for the bot (its built-in tools need no start)."""
        config = self.settings.bot(bot)
        registry = ToolRegistry(self.settings, cast(Bus, None))
        return registry.commands_for(config) if config else []

    async def publish_event(self, event: Event) -> None:
        if self.bus_down:
            raise BusUnavailable("the fake bus is down")
        if self.refuse_publishes:
            self.refuse_publishes -= 1
            raise BusUnavailable("the fake bus refuses this publish")
        self.events.append(event)

    def lease(self, name: str) -> LocalLease:
        """Adapters in one test process share these leases, as processes share the database's."""
        return LocalLease(name)

    async def load_state(self, platform: str, bot: str) -> dict[str, Any]:
        return dict(self.states.get((platform, bot), {}))

    async def save_state(self, platform: str, bot: str, state: Mapping[str, Any]) -> None:
        self.states[(platform, bot)] = dict(state)
        self.saves.append(dict(state))

    async def update_state(
        self, platform: str, bot: str, change: Callable[[dict[str, Any]], None]
    ) -> None:
        state = await self.load_state(platform, bot)
        change(state)
        await self.save_state(platform, bot, state)

    async def wait_for(
        self, check: Callable[[list[Event]], bool], seconds: float = 5.0
    ) -> list[Event]:
        """The events once `check(events)` holds; TimeoutError after `seconds`."""
        # Polled, not woken by the publish: waking at once ends some Discord tests before
        # discord.py's keep-alive thread has stopped, and it then fires on a closed loop.
        async with asyncio.timeout(seconds):
            while True:
                if check(self.events):
                    break
                await asyncio.sleep(0.01)
        return self.events

    async def wait_for_events(self, count: int, seconds: float = 5.0) -> list[Event]:
        return await self.wait_for(lambda events: len(events) >= count, seconds)


class LocalLease:
    """One holder per name in this process; never lost, taken over once released."""

    _held: ClassVar[set[str]] = set()

    def __init__(self, name: str, retry_interval: float = 0.05) -> None:
        self.name, self.retry_interval = name, retry_interval
        self._owned = False

    async def acquire(self) -> None:
        while True:
            if self.name not in self._held:
                self._held.add(self.name)
                self._owned = True
                return
            await asyncio.sleep(self.retry_interval)

    async def lost(self) -> None:
        await asyncio.Event().wait()

    async def release(self) -> None:
        if self._owned:
            self._owned = False
            self._held.discard(self.name)
