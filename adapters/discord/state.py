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
        """Apply `change` to the stored state as one step, across processes too."""
        async with self._lock:
            await self._context.update_state(PLATFORM, self._bot, change)
