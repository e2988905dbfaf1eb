"""The bench's process handle: a pipeline that ignores SIGTERM is killed after the timeout,
and its log tail says so and shows where it hung (its stacks, dumped on SIGUSR2)."""

from __future__ import annotations

import signal
import sys

from benchmarks.service import ServiceProcess

HUNG = """
import faulthandler, signal, sys, time
faulthandler.register(signal.SIGUSR2, all_threads=True)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("serving on http://127.0.0.1:9", file=sys.stderr, flush=True)
def stuck_in_shutdown():
    while True:
        time.sleep(0.05)
stuck_in_shutdown()
"""


async def test_a_process_deaf_to_sigterm_is_killed_with_its_stacks_in_the_log() -> None:
    process = ServiceProcess("hung", [sys.executable, "-c", HUNG])
    assert await process.start(timeout=30) == "http://127.0.0.1:9"
    code = await process.stop(timeout=0.5)
    assert code == -signal.SIGKILL
    tail = "\n".join(process.log_tail)
    assert "[hung still running 0.5s after SIGTERM: killed]" in tail
    assert "stuck_in_shutdown" in tail  # the stack dumped before the kill


async def test_a_process_that_stops_on_sigterm_is_not_killed() -> None:
    stops = HUNG.replace("signal.SIG_IGN", "lambda *_: sys.exit(0)")
    process = ServiceProcess("clean", [sys.executable, "-c", stops])
    await process.start(timeout=30)
    assert await process.stop(timeout=10) == 0
    assert not any("killed" in line for line in process.log_tail)
