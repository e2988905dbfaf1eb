"""The action runner's pacing of streamed answers: the newest snapshot of a stream shown at
most once per interval, the interval doubling on each 429, stale snapshots never shown after
fresh ones, and a stream closed by its final text."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from gateway.errors import TransientError
from gateway.events import Action, StreamRef
from gateway.pacing import StreamPacer


def snapshot(stream: uuid.UUID, seq: int) -> Action:
    return Action(type="message.send", platform="telegram", bot="helpdesk", channel_id="1",
                  text=f"text {seq}", stream=StreamRef(id=stream, seq=seq))


class Platform:
    def __init__(self, refusals: int = 0) -> None:
        self.shown: list[tuple[float, str]] = []
        self.refusals = refusals

    async def show(self, adapter: Any, action: Action) -> None:
        if self.refusals:
            self.refusals -= 1
            raise TransientError("429", retry_after=None)
        self.shown.append((time.monotonic(), action.text or ""))


async def test_the_newest_snapshot_is_shown_at_most_once_per_interval() -> None:
    platform, stream = Platform(), uuid.uuid4()
    pacer = StreamPacer(platform.show, interval=0.3)
    for seq in range(5):  # arrive together: the first at once, then only the newest
        pacer.offer(None, snapshot(stream, seq))
        await asyncio.sleep(0)
    await asyncio.sleep(0.4)
    await pacer.close(stream)
    assert [text for _, text in platform.shown] == ["text 0", "text 4"]
    assert platform.shown[1][0] - platform.shown[0][0] >= 0.29


async def test_a_429_doubles_the_interval() -> None:
    platform, stream = Platform(refusals=1), uuid.uuid4()
    pacer = StreamPacer(platform.show, interval=0.2)
    pacer.offer(None, snapshot(stream, 0))  # refused: the next turn is 0.4 s away
    await asyncio.sleep(0.01)
    refused_at = time.monotonic()
    pacer.offer(None, snapshot(stream, 1))
    await asyncio.sleep(0.5)
    await pacer.close(stream)
    [(shown_at, text)] = platform.shown
    assert text == "text 1"
    assert shown_at - refused_at >= 0.38


async def test_the_final_text_supersedes_snapshots_not_yet_shown() -> None:
    platform, stream = Platform(), uuid.uuid4()
    pacer = StreamPacer(platform.show, interval=5)
    pacer.offer(None, snapshot(stream, 0))
    await asyncio.sleep(0.05)
    pacer.offer(None, snapshot(stream, 1))  # its turn is 5 s away; the final comes first
    closing = asyncio.create_task(pacer.close(stream))
    await asyncio.sleep(0.1)
    assert not closing.done()  # the final waits for the stream's turn ...
    closing.cancel()
    assert [text for _, text in platform.shown] == ["text 0"]  # ... and text 1 is never shown


async def test_a_closed_stream_takes_no_more_snapshots() -> None:
    platform, stream = Platform(), uuid.uuid4()
    pacer = StreamPacer(platform.show, interval=0.2)
    assert pacer.offer(None, snapshot(stream, 0))
    await asyncio.sleep(0.05)
    await pacer.close(stream)
    assert not pacer.offer(None, snapshot(stream, 1))  # the final text went out already
    await pacer.stop()
    assert [text for _, text in platform.shown] == ["text 0"]
