"""Turns what a run recorded into the one JSON object `botgate bench` prints.

The report is computed only from timestamps (when each event was sent, accepted by the
webhook, answered at the emulated platform), so the arithmetic is testable without a run and
the same for botgate and the hand-written pipeline.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

import psutil

from gateway.urls import hide_password


@dataclass
class Sample:
    """One event: perf_counter seconds. `sent` is the planned send time in open loop."""

    sent: float
    accepted: float | None = None
    answered: float | None = None


@dataclass(frozen=True)
class Window:
    """The measured part of a run: after the warm-up, until the load stopped."""

    start: float
    end: float

    @property
    def seconds(self) -> float:
        return max(self.end - self.start, 1e-9)

    def holds(self, at: float | None) -> bool:
        return at is not None and self.start <= at <= self.end


@dataclass(frozen=True)
class Usage:
    peak_rss_mb: float
    cpu_seconds: float

    def as_dict(self) -> dict[str, float]:
        return {"peak_rss_mb": round(self.peak_rss_mb, 1), "cpu_s": round(self.cpu_seconds, 2)}


@dataclass
class RunSetup:
    """What was measured, for the report's header fields."""

    target: str
    mode: str
    database_url: str
    bus_url: str
    concurrency: int | None
    rate: float | None
    duration: float
    warmup: float
    conversations: int
    preload: int
    extra: dict[str, Any] = field(default_factory=dict)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between ranks; 0.0 if empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_ms(samples: Sequence[Sample], window: Window) -> dict[str, float]:
    """Webhook → platform latency of the events sent inside the window and answered."""
    values = [
        (s.answered - s.sent) * 1000
        for s in samples
        if s.answered is not None and window.holds(s.sent)
    ]
    summary = {f"p{q}": percentile(values, q) for q in (50, 95, 99)}
    summary["max"] = max(values, default=0.0)
    summary["mean"] = sum(values) / len(values) if values else 0.0
    return {key: round(value, 2) for key, value in summary.items()}


def counts(samples: Sequence[Sample], window: Window, errors: int) -> dict[str, Any]:
    accepted = sum(1 for s in samples if window.holds(s.accepted))
    answered = sum(1 for s in samples if window.holds(s.answered))
    backlog = sum(
        1
        for s in samples
        if s.accepted is not None
        and s.accepted <= window.end
        and (s.answered is None or s.answered > window.end)
    )
    return {
        "events_sent": sum(1 for s in samples if window.holds(s.sent)),
        "events_accepted": accepted,
        "events_processed": answered,
        "errors": errors,
        "accepted_per_s": round(accepted / window.seconds, 1),
        "processed_per_s": round(answered / window.seconds, 1),
        "backlog_at_end": backlog,
        "unanswered_after_drain": sum(
            1 for s in samples if s.accepted is not None and s.answered is None
        ),
    }


def build_report(
    setup: RunSetup,
    samples: Sequence[Sample],
    window: Window,
    errors: int,
    processes: dict[str, Usage],
) -> dict[str, Any]:
    return {
        "target": setup.target,
        "mode": setup.mode,
        "concurrency": setup.concurrency,
        "rate": setup.rate,
        "duration_s": round(window.seconds, 2),
        "warmup_s": setup.warmup,
        "conversations": setup.conversations,
        "preload": setup.preload,
        "database": hide_password(setup.database_url),
        "bus": hide_password(setup.bus_url),
        **counts(samples, window, errors),
        "latency_ms": latency_ms(samples, window),
        "processes": {name: usage.as_dict() for name, usage in processes.items()},
        **setup.extra,
    }


def cpu_per_event(cpu_seconds: float, events: int) -> float | None:
    """The pipeline's CPU milliseconds per processed event: steadier than events/s on a
    shared machine, since it does not count the time other processes held the cores."""
    return round(1000 * cpu_seconds / events, 3) if events else None


def compare(botgate: dict[str, Any], raw: dict[str, Any]) -> dict[str, Any]:
    """Both reports and the figure we track: botgate's processed events/s over raw's."""
    base = raw["processed_per_s"]
    ratio = round(botgate["processed_per_s"] / base, 3) if base else None
    return {"botgate": botgate, "raw": raw, "ratio": ratio}


def median_pair(pairs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The pair with the median ratio, and every pair's ratio when there were several."""
    ranked = sorted(pairs, key=lambda pair: pair["ratio"] or 0.0)
    median = ranked[(len(ranked) - 1) // 2]
    if len(pairs) == 1:
        return median
    return {**median, "ratios": [pair["ratio"] for pair in pairs]}


class UsageSampler:
    """Peak RSS and CPU seconds of one process, sampled while it runs (it may exit)."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak_rss = 0
        self.cpu = 0.0

    def sample(self) -> None:
        try:
            with self.process.oneshot():
                self.peak_rss = max(self.peak_rss, self.process.memory_info().rss)
                times = self.process.cpu_times()
                self.cpu = times.user + times.system
        except psutil.Error:
            pass  # gone: keep the last sample

    def usage(self) -> Usage:
        return Usage(self.peak_rss / 2**20, self.cpu)


class Progress:
    """Once a second on stderr: sent, answered, in flight."""

    def __init__(
        self, label: str, read: Callable[[], tuple[int, int]], stream: TextIO | None = None
    ) -> None:
        self.label, self.read = label, read
        self.stream = stream or sys.stderr
        self.started = time.perf_counter()
        self.last = (self.started, 0)

    def tick(self) -> None:
        now = time.perf_counter()
        sent, answered = self.read()
        rate = (answered - self.last[1]) / max(now - self.last[0], 1e-9)
        self.last = (now, answered)
        print(
            f"bench {self.label}: {now - self.started:5.1f}s sent {sent} answered {answered}"
            f" in flight {sent - answered} ({rate:.0f}/s)",
            file=self.stream,
            flush=True,
        )
