"""Pacing of streamed answers in the action runner: a stream's message is edited at most once
per `interval` (one second), the interval doubling each time the platform answers 429; a
snapshot is skipped when a newer one of its stream is already waiting, so a slow platform sees
fewer edits, never stale ones after fresh ones."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass

INTERVAL = 1.0
MAX_INTERVAL = 30.0
MAX_STREAMS = 10_000  # streams whose final never came are forgotten beyond this


@dataclass
class _Pace:
    arrivals: int = 0
    next_at: float = 0.0
    interval: float = INTERVAL


class StreamPacer:
    def __init__(self, interval: float = INTERVAL) -> None:
        self.interval = interval
        self._streams: dict[uuid.UUID, _Pace] = {}

    def arrived(self, stream: uuid.UUID) -> int:
        """Count a snapshot in (before it waits for its lane); its number."""
        pace = self._pace(stream)
        pace.arrivals += 1
        return pace.arrivals

    def superseded(self, stream: uuid.UUID, number: int) -> bool:
        pace = self._streams.get(stream)
        return pace is None or pace.arrivals > number

    async def wait(self, stream: uuid.UUID) -> None:
        delay = self._pace(stream).next_at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

    def sent(self, stream: uuid.UUID) -> None:
        pace = self._pace(stream)
        pace.next_at = time.monotonic() + pace.interval

    def slowed(self, stream: uuid.UUID, retry_after: float | None) -> None:
        """The platform said 429: edit this stream half as often from now on."""
        pace = self._pace(stream)
        pace.interval = min(pace.interval * 2, MAX_INTERVAL)
        pace.next_at = time.monotonic() + max(pace.interval, retry_after or 0)

    def finished(self, stream: uuid.UUID) -> None:
        self._streams.pop(stream, None)

    def _pace(self, stream: uuid.UUID) -> _Pace:
        pace = self._streams.get(stream)
        if pace is None:
            if len(self._streams) >= MAX_STREAMS:
                del self._streams[next(iter(self._streams))]
            pace = self._streams[stream] = _Pace(interval=self.interval)
        return pace
