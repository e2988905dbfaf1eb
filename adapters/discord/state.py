"""This bot's durable Discord state (`platform_bots.state`), changed under one lock per process."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from adapters.base import AdapterContext

PLATFORM = "discord"


class AdapterState:
    def __init__(self, context: AdapterContext, bot: str) -> None:
        self._context = context
        self._bot = bot
        self._lock = asyncio.Lock()

    async def read(self) -> dict[str, Any]:
        return dict(await self._context.load_state(PLATFORM, self._bot))

    async def update(self, change: Callable[[dict[str, Any]], None]) -> None:
        """Load, apply `change` in place, save. Another process writing at the same moment may
        lose its write (the context offers no compare-and-set)."""
        async with self._lock:
            state = await self.read()
            change(state)
            await self._context.save_state(PLATFORM, self._bot, state)
