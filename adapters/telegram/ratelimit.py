"""Telegram's send limits: about one message a second in a chat, 20 a minute in a group, 30 a
second over the whole bot. Sliding windows; a sender waits until every window has room."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

from gateway.config import TelegramConfig

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class Window:
    """At most `calls` in any `period` seconds."""

    def __init__(self, calls: int, period: float) -> None:
        self.calls = calls
        self.period = period
        self._times: deque[float] = deque()

    def wait_time(self, now: float) -> float:
        while self._times and self._times[0] <= now - self.period:
            self._times.popleft()
        if len(self._times) < self.calls:
            return 0.0
        return self._times[0] + self.period - now

    def record(self, now: float) -> None:
        self._times.append(now)

    def idle(self, now: float) -> bool:
        return not self._times or self._times[-1] <= now - self.period


def _window(per_unit: float, unit: float) -> Window:
    """A rate such as 1/s or 20/min as a window; fractional rates widen the period instead."""
    if per_unit >= 1:
        return Window(int(per_unit), unit)
    return Window(1, unit / per_unit)


class RateLimiter:
    """Per chat, per group and per bot windows for one Telegram bot."""

    max_tracked = 10_000  # chats with a window; idle ones are forgotten beyond this

    def __init__(
        self, config: TelegramConfig, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep
    ) -> None:
        self.config = config
        self.clock = clock
        self.sleep = sleep
        self.bot = _window(config.rate_per_bot, 1.0)
        self._chats: dict[str, Window] = {}
        self._groups: dict[str, Window] = {}

    async def acquire(self, chat_id: str) -> None:
        """Wait until a message to `chat_id` keeps within every limit, and count it."""
        self._forget_idle(self.clock())
        windows = self._windows(chat_id)
        while True:
            now = self.clock()
            wait = max(window.wait_time(now) for window in windows)
            if wait <= 0:
                for window in windows:
                    window.record(now)
                return
            await self.sleep(wait)

    def _forget_idle(self, now: float) -> None:
        if len(self._chats) + len(self._groups) < self.max_tracked:
            return
        for table in (self._chats, self._groups):
            for chat_id in [c for c, window in table.items() if window.idle(now)]:
                del table[chat_id]

    def _windows(self, chat_id: str) -> list[Window]:
        windows = [self.bot, self._chat(chat_id)]
        if chat_id.startswith("-"):  # groups, supergroups and channels have negative ids
            windows.append(self._group(chat_id))
        return windows

    def _chat(self, chat_id: str) -> Window:
        if chat_id not in self._chats:
            self._chats[chat_id] = _window(self.config.rate_per_chat, 1.0)
        return self._chats[chat_id]

    def _group(self, chat_id: str) -> Window:
        if chat_id not in self._groups:
            self._groups[chat_id] = _window(self.config.rate_per_group, 60.0)
        return self._groups[chat_id]
