"""Faults on demand: the knobs an emulator turns to make a platform misbehave.

A fault applies to the calls its `name` pattern matches ("*": every call) and lasts for the
next call, the next `times` calls, `seconds` of the emulator's clock, or until cleared. The
clock is any `() -> float` (default `time.monotonic`); `ManualClock` is one a test moves
itself, to run a ten-minute outage in no time::

    clock = ManualClock()
    telegram.clock = clock
    outage = telegram.outage(seconds=600)   # every call answers 502 ...
    clock.advance(601)                      # ... until the clock passes ten minutes
    outage.clear()                          # or until cleared
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

Clock = Callable[[], float]
FaultKind = Literal["rate_limit", "server_error", "error", "latency", "drop"]


class ManualClock:
    """A clock that stands still until `advance` moves it."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass(eq=False)
class Fault:
    """One fault: its kind, the call names it applies to and what it answers with.
    `body`/`headers` hold a platform's ready-made error (kind "error")."""

    kind: FaultKind
    name: str
    retry_after: float = 1.0
    status: int = 500
    delay: float = 0.0
    body: Any = None
    headers: dict[str, str] | None = None
    chat: str | None = None  # only calls to this chat (Telegram's chat_id)
    remaining: int | None = None  # calls left; None: no count
    until: float | None = None  # clock time it ends; None: no end
    cleared: bool = False

    def clear(self) -> None:
        self.cleared = True

    def describe(self) -> str:
        detail = {
            "rate_limit": f"429 retry after {self.retry_after}",
            "server_error": str(self.status),
            "error": str(self.status),
            "latency": f"{self.delay}s late",
            "drop": "connection dropped",
        }[self.kind]
        return f"injected fault on {self.name}: {detail}"

    def active(self, now: float) -> bool:
        if self.cleared or self.remaining == 0:
            return False
        return self.until is None or now < self.until


class Faults:
    """The faults set on one emulator; `take` hands a call the ones that apply to it."""

    def __init__(self, clock: Clock, matches: Callable[[str, str], bool]) -> None:
        self.clock = clock
        self._matches = matches
        self._faults: list[Fault] = []

    def add(
        self,
        fault: Fault,
        *,
        times: int | None = None,
        seconds: float | None = None,
        until_cleared: bool = False,
    ) -> Fault:
        """Arm `fault` for the next call (by default), the next `times` calls, `seconds` of
        the clock (as many calls as come, unless `times` is given too), or until cleared."""
        if until_cleared and (times is not None or seconds is not None):
            raise ValueError("until_cleared=True takes neither times nor seconds")
        if times is not None and times < 1:
            raise ValueError(f"times must be at least 1, not {times}")
        if seconds is not None:
            fault.until = self.clock() + seconds
        fault.remaining = times if times is not None or seconds is not None else 1
        if until_cleared:
            fault.remaining = None
        self._faults.append(fault)
        return fault

    def take(self, name: str, *, chat: object = None) -> list[Fault]:
        """The faults for a call of `name`: every latency, then at most one that answers
        (the oldest armed); each counts the call."""
        now = self.clock()
        self._faults = [f for f in self._faults if f.active(now)]
        found: list[Fault] = []
        for fault in self._faults:
            if not self._applies(fault, name, chat):
                continue
            if fault.kind != "latency" and any(f.kind != "latency" for f in found):
                continue
            found.append(fault)
            if fault.remaining is not None:
                fault.remaining -= 1
        found.sort(key=lambda f: f.kind != "latency")
        return found

    def _applies(self, fault: Fault, name: str, chat: object) -> bool:
        if fault.chat is not None and fault.chat != str(chat):
            return False
        return self._matches(fault.name, name)

    def clear(self, name: str | None = None) -> None:
        for fault in self._faults:
            if name is None or fault.name == name:
                fault.clear()

    def armed(self) -> list[Fault]:
        """The faults still in force."""
        now = self.clock()
        return [f for f in self._faults if f.active(now)]
