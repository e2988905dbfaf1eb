"""A fake AdapterContext: records published events, keeps the adapter's state in memory."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
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
    refuse_publishes: int = 0  # the next N publishes fail as if the bus could not confirm

    async def publish_event(self, event: Event) -> None:
        if self.refuse_publishes:
            self.refuse_publishes -= 1
            raise BusUnavailable("the fake bus refuses this publish")
        self.events.append(event)

    async def load_state(self, platform: str, bot: str) -> dict[str, Any]:
        return dict(self.states.get((platform, bot), {}))

    async def save_state(self, platform: str, bot: str, state: Mapping[str, Any]) -> None:
        self.states[(platform, bot)] = dict(state)

    async def wait_for(
        self, check: Callable[[list[Event]], bool], seconds: float = 5.0
    ) -> list[Event]:
        async with asyncio.timeout(seconds):
            while True:
                if check(self.events):
                    break
                await asyncio.sleep(0.01)
        return self.events

    def of_type(self, kind: str) -> list[Event]:
        return [event for event in self.events if event.type == kind]
