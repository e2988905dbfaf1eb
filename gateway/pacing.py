"""Pacing of streamed answers in the action runner.

A snapshot (`Action.stream`, not final) is acknowledged as soon as it arrives and handed to its
stream's shower, which keeps only the newest one: a stream's message is shown at most once per
`interval` (one second), the interval doubling each time the platform answers 429, and a slow
platform sees fewer edits, never stale ones after fresh ones. No delivery waits out a pause, so
a hundred answers streaming at once do not hold the consumer's prefetch. The final action
closes its stream first: it waits for a show under way, then for its own turn."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from gateway.errors import PermanentError, TransientError
from gateway.events import Action

log = logging.getLogger(__name__)
INTERVAL = 1.0
MAX_INTERVAL = 30.0
MAX_STREAMS = 10_000  # streams whose final never came are forgotten beyond this
Show = Callable[[Any, Action], Awaitable[None]]


@dataclass
class _Stream:
    interval: float
    next_at: float = 0.0
    latest: tuple[Any, Action] | None = None  # (adapter, snapshot) not shown yet
    task: asyncio.Task[None] | None = None
    closed: bool = False


class StreamPacer:
    def __init__(self, show: Show, interval: float = INTERVAL) -> None:
        self.show, self.interval = show, interval
        self._streams: dict[uuid.UUID, _Stream] = {}

    def offer(self, adapter: Any, action: Action) -> bool:
        """Take a snapshot to show; False when its stream is closed (its final went out)."""
        assert action.stream is not None
        stream = self._stream(action.stream.id)
        if stream.closed:
            return False
        stream.latest = (adapter, action)
        if stream.task is None:
            stream.task = asyncio.create_task(self._shower(action.stream.id, stream))
        return True

    async def close(self, stream_id: uuid.UUID) -> None:
        """The final text is next: no more snapshots; wait for a show under way, then for
        the stream's turn."""
        stream = self._stream(stream_id)
        stream.closed, stream.latest = True, None
        if stream.task is not None:
            await asyncio.shield(stream.task)
        await _until(stream.next_at)

    def finished(self, stream_id: uuid.UUID) -> None:
        self._streams.pop(stream_id, None)

    async def stop(self) -> None:
        tasks = [s.task for s in self._streams.values() if s.task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _shower(self, stream_id: uuid.UUID, stream: _Stream) -> None:
        try:
            while stream.latest is not None:
                await _until(stream.next_at)
                if stream.latest is None:  # closed while waiting
                    break
                (adapter, action), stream.latest = stream.latest, None
                await self._show(stream, adapter, action)
        finally:
            stream.task = None

    async def _show(self, stream: _Stream, adapter: Any, action: Action) -> None:
        try:
            await self.show(adapter, action)
        except TransientError as exc:
            stream.interval = min(stream.interval * 2, MAX_INTERVAL)
            stream.next_at = time.monotonic() + max(stream.interval, exc.retry_after or 0)
            log.info("slowing down stream %s: %s", action.stream and action.stream.id, exc)
            return
        except PermanentError as exc:
            log.warning("a snapshot of %s was refused: %s", action.stream and action.stream.id, exc)
        stream.next_at = time.monotonic() + stream.interval

    def _stream(self, stream_id: uuid.UUID) -> _Stream:
        stream = self._streams.get(stream_id)
        if stream is None:
            if len(self._streams) >= MAX_STREAMS:
                oldest = next(iter(self._streams))
                if (task := self._streams.pop(oldest).task) is not None:
                    task.cancel()
            stream = self._streams[stream_id] = _Stream(self.interval)
        return stream


async def _until(moment: float) -> None:
    delay = moment - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)
