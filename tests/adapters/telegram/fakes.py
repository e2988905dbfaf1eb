"""A fake AdapterContext: records published events and keeps adapter state in memory."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.config import Settings
from gateway.errors import BusUnavailable
from gateway.events import Event


@dataclass
class FakeContext:
    settings: Settings
    receives: bool = True
    events: list[Event] = field(default_factory=list)
    states: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    saves: list[dict[str, Any]] = field(default_factory=list)
    refuse_publishes: int = 0  # the next N publishes fail as if the bus could not confirm
    published: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def publish_event(self, event: Event) -> None:
        if self.refuse_publishes:
            self.refuse_publishes -= 1
            raise BusUnavailable("the fake bus refuses this publish")
        self.events.append(event)
        async with self.published:
            self.published.notify_all()

    async def load_state(self, platform: str, bot: str) -> dict[str, Any]:
        return dict(self.states.get((platform, bot), {}))

    async def save_state(self, platform: str, bot: str, state: Mapping[str, Any]) -> None:
        self.states[(platform, bot)] = dict(state)
        self.saves.append(dict(state))

    async def wait_for_events(self, count: int, seconds: float = 5.0) -> list[Event]:
        async with self.published:
            await asyncio.wait_for(
                self.published.wait_for(lambda: len(self.events) >= count), seconds
            )
        return self.events
