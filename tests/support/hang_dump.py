"""With pytest-timeout: just before a test is failed for hanging, what every asyncio task
waits on and every thread's stack, on the process's standard error.

pytest-timeout prints the threads' stacks, but a hung event loop's thread only shows
`select()`; the await chain of each pending task shows who waits for what. And in an xdist
worker its report goes to the worker's standard output, which is /dev/null: this one is
written to the standard error, which the workers share with the run."""

from __future__ import annotations

import asyncio
import faulthandler
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

AHEAD = 2.0  # seconds before pytest-timeout's own report (which ends the process)
_TIMER = pytest.StashKey[threading.Timer]()


@pytest.hookimpl(optionalhook=True)
def pytest_timeout_set_timer(item: pytest.Item, settings: Any) -> None:
    timeout = float(settings.timeout or 0)
    if timeout <= AHEAD or settings.method != "thread":
        return
    timer = threading.Timer(timeout - AHEAD, report_hang, args=(item,))
    timer.daemon = True
    timer.start()
    item.stash[_TIMER] = timer


@pytest.hookimpl(optionalhook=True)
def pytest_timeout_cancel_timer(item: pytest.Item) -> None:
    timer = item.stash.get(_TIMER, None)
    if timer is not None:
        timer.cancel()


def report_hang(item: pytest.Item) -> None:
    capture = item.config.pluginmanager.getplugin("capturemanager")
    if capture is not None:
        capture.suspend_global_capture(in_=True)  # as pytest-timeout does: the real stderr
    out = sys.__stderr__
    if out is None:
        return
    lines = [f"\n+++ {item.nodeid} is about to time out; asyncio tasks still pending:"]
    # Read from this thread: the hung loop is idle. A private set, so all it gives is a bonus.
    for task in list(getattr(asyncio.tasks, "_all_tasks", ())):
        if not task.done():
            lines.append(f"  task {task.get_name()!r} (cancel requests: {task.cancelling()})")
            lines.extend(f"    {step}" for step in _awaiting(task.get_coro()))
    lines.append("+++ threads:")
    out.write("\n".join(lines) + "\n")
    out.flush()
    faulthandler.dump_traceback(out, all_threads=True)
    out.flush()


def _awaiting(coro: Any) -> Iterator[str]:
    """The coroutine's await chain, outermost first: file:line function, then the future."""
    for _ in range(100):
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is None:
            yield repr(coro)[:200]
            return
        yield f"{frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_name}"
        awaited = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
        if awaited is None:
            return
        if not (hasattr(awaited, "cr_frame") or hasattr(awaited, "gi_frame")):
            yield f"-> {awaited!r}"[:200]
            return
        coro = awaited
