"""Background loops that stop between passes, not in the middle of one.

A loop cancelled inside a transaction has its rollback cut short too: SQLAlchemy's pool logs
that as an ERROR and leaves the connection to the garbage collector. So a component stopping
sets its `StopSignal`; its loops notice it where they pause, and a pass under way is let
finish (within a grace) before anything is cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

PASS_GRACE = 10.0  # seconds a pass under way may take to finish once a stop is asked for


class StopSignal:
    """Set once, when its component stops; the component's loops pause on it."""

    def __init__(self) -> None:
        self._stopped = asyncio.Event()
        self._wakes: list[asyncio.Event] = []

    def set(self) -> None:
        self._stopped.set()
        for wake in self._wakes:
            wake.set()

    @property
    def is_set(self) -> bool:
        return self._stopped.is_set()

    def wakes(self, event: asyncio.Event) -> asyncio.Event:
        """`event`, which a stop sets too: a loop pausing on it is woken by either."""
        self._wakes.append(event)
        return event

    async def pause(self, seconds: float, wake: asyncio.Event | None = None) -> bool:
        """Wait `seconds`, or less if stopped (or `wake`, from `wakes`, is set meanwhile);
        True once stopped."""
        if not self._stopped.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(seconds):
                    await (wake or self._stopped).wait()
        return self._stopped.is_set()


async def stop_between_passes(
    signal: StopSignal, tasks: Iterable[asyncio.Task[None] | None], grace: float = PASS_GRACE
) -> None:
    """Stop the loops at their next pause: a pass under way finishes (up to `grace`), then
    whatever still runs is cancelled."""
    signal.set()
    live = [task for task in tasks if task is not None]
    if not live:
        return
    _, late = await asyncio.wait(live, timeout=grace)
    for task in late:
        task.cancel()
    await asyncio.gather(*live, return_exceptions=True)
