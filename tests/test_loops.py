"""Background loops stop between passes: a pass under way finishes (a transaction is never cut
in the middle), a pausing loop stops at once, and a pass over the grace is cancelled."""

from __future__ import annotations

import asyncio
import time

from gateway.loops import StopSignal, stop_between_passes


async def test_a_pass_under_way_finishes_before_the_loop_stops() -> None:
    signal, started, passes = StopSignal(), asyncio.Event(), []

    async def loop() -> None:
        while not signal.is_set:
            started.set()
            await asyncio.sleep(0.2)  # a pass (a transaction, say) under way when stop comes
            passes.append("done")
            await signal.pause(60)

    task = asyncio.create_task(loop())
    await started.wait()
    await stop_between_passes(signal, [task])
    assert passes == ["done"]
    assert not task.cancelled()


async def test_a_pausing_loop_stops_at_once_and_a_wake_event_is_woken_too() -> None:
    signal = StopSignal()
    wake = signal.wakes(asyncio.Event())
    paused = asyncio.Event()

    async def loop() -> None:
        while not signal.is_set:
            paused.set()
            await signal.pause(60, wake)

    task = asyncio.create_task(loop())
    await paused.wait()
    began = time.monotonic()
    await stop_between_passes(signal, [task])
    assert time.monotonic() - began < 5
    assert wake.is_set()


async def test_a_pass_over_the_grace_is_cancelled() -> None:
    signal = StopSignal()

    async def stuck() -> None:
        await asyncio.sleep(60)

    task = asyncio.create_task(stuck())
    await asyncio.sleep(0)
    await stop_between_passes(signal, [task], grace=0.1)
    assert task.cancelled()


async def test_a_wake_ends_a_pause_early_without_stopping() -> None:
    signal = StopSignal()
    wake = signal.wakes(asyncio.Event())
    asyncio.get_running_loop().call_later(0.05, wake.set)
    began = time.monotonic()
    stopped = await signal.pause(60, wake)
    assert not stopped
    assert time.monotonic() - began < 5
