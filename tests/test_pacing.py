"""The action runner's pacing of streamed answers: at most one edit a second per stream, the
interval doubling on each 429, snapshots superseded by newer ones skipped."""

from __future__ import annotations

import time
import uuid

from gateway.pacing import INTERVAL, StreamPacer


async def test_a_stream_is_shown_at_most_once_per_interval() -> None:
    pacer, stream = StreamPacer(interval=0.2), uuid.uuid4()
    await pacer.wait(stream)  # the first snapshot goes at once
    pacer.sent(stream)
    started = time.monotonic()
    await pacer.wait(stream)
    assert time.monotonic() - started >= 0.18


async def test_each_429_doubles_the_interval() -> None:
    pacer, stream = StreamPacer(), uuid.uuid4()
    pacer.slowed(stream, retry_after=None)
    pacer.slowed(stream, retry_after=None)
    assert pacer._streams[stream].interval == 4 * INTERVAL
    pacer.slowed(stream, retry_after=90)
    assert pacer._streams[stream].next_at - time.monotonic() > 60  # the platform's word counts


def test_a_snapshot_with_a_newer_one_waiting_is_superseded() -> None:
    pacer, stream = StreamPacer(), uuid.uuid4()
    first, second = pacer.arrived(stream), pacer.arrived(stream)
    assert pacer.superseded(stream, first)
    assert not pacer.superseded(stream, second)
    pacer.finished(stream)
    assert pacer.superseded(stream, second)  # the final text went out: late snapshots drop
