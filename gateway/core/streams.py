"""An answer shown while it is written: snapshots of the text so far, published as
`message.send` actions that name their stream (`Action.stream`), at most one per `interval`
seconds; the final reply then goes out as the stream's last action, and only it is kept.

Snapshot ids derive from the turn like every answer's actions, so an answer given again after
a crash edits the same platform message. A snapshot the bus cannot take now is dropped (the
next one, or the final text, shows more); the adapters pace and coalesce what they receive."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable

from gateway.errors import BusUnavailable
from gateway.events import Action, Event, StreamRef
from gateway.ids import derived_id

log = logging.getLogger(__name__)
# Platforms that show an answer while it is written (the others get the whole answer once).
STREAMING_PLATFORMS = frozenset({"telegram", "slack", "discord", "webchat"})
INTERVAL = 1.0  # seconds between two snapshots of one answer


def stream_id(turn: uuid.UUID, index: int = 0) -> uuid.UUID:
    return derived_id(turn, f"stream:{index}")


def message_action(
    event: Event, action_id: uuid.UUID, text: str, **fields: object
) -> Action:
    """A `message.send` answering `event` where it was said: in place in groups, plainly in
    direct channels."""
    reply_to = event.message.id if event.message and event.channel.type != "direct" else None
    return Action(
        id=action_id,
        type="message.send",
        platform=event.platform,
        bot=event.bot,
        channel_id=event.channel.id,
        thread_id=event.thread_id,
        reply_to_id=reply_to,
        in_reply_to=event.id,
        text=text,
        **fields,
    )


class ActionStream:
    """The `StreamSink` of one turn: shows its first reply while it is written."""

    def __init__(
        self,
        event: Event,
        turn: uuid.UUID,
        publish: Callable[[Action], Awaitable[None]],
        interval: float = INTERVAL,
    ) -> None:
        self.event, self.turn, self.publish, self.interval = event, turn, publish, interval
        self.id = stream_id(turn)
        self.seq = 0  # snapshots published
        self._latest = self._shown = ""
        self._next_at = 0.0
        self._timer: asyncio.Task[None] | None = None
        self._closed = False

    async def show(self, text: str) -> None:
        self._latest = text
        if self._closed or self._timer is not None:
            return
        delay = self._next_at - time.monotonic()
        if delay <= 0:
            await self._publish()
        else:
            self._timer = asyncio.create_task(self._later(delay), name=f"stream {self.id}")

    async def close(self) -> StreamRef | None:
        """No more snapshots: the stream reference of the final reply (None: nothing shown)."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
        return StreamRef(id=self.id, seq=self.seq, final=True) if self.seq else None

    async def _later(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self._timer = None
        await self._publish()

    async def _publish(self) -> None:
        text = self._latest
        if text == self._shown or not text.strip():
            return
        self._shown, self._next_at = text, time.monotonic() + self.interval
        seq, self.seq = self.seq, self.seq + 1
        action = message_action(
            self.event,
            derived_id(self.turn, f"stream:0:{seq}"),
            text,
            stream=StreamRef(id=self.id, seq=seq),
        )
        try:
            await self.publish(action)
        except BusUnavailable as exc:
            log.info("a snapshot of answer %s was not published (%s)", self.id, exc)
