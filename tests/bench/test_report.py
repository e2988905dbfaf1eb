"""The report's arithmetic and the open-loop scheduler, without a service."""

from __future__ import annotations

import pytest

from benchmarks.load import Budget, paced
from benchmarks.report import (
    Sample,
    Window,
    compare,
    counts,
    cpu_per_event,
    latency_ms,
    median_pair,
    percentile,
)


def test_percentile_interpolates_between_ranks() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile(values, 100) == 100
    assert percentile([7.0], 95) == 7
    assert percentile([], 50) == 0


def test_percentile_does_not_care_about_order() -> None:
    assert percentile([3.0, 1.0, 2.0], 50) == 2


def test_counts_and_latency_use_only_the_window() -> None:
    window = Window(10.0, 20.0)
    samples = [
        Sample(9.0, 9.1, 9.5),  # warm-up: not counted anywhere
        Sample(11.0, 11.1, 11.2),  # 200 ms
        Sample(12.0, 12.1, 12.5),  # 500 ms
        Sample(19.0, 19.1, 20.5),  # answered after the end: backlog, latency 1500 ms
        Sample(19.5, 19.6, None),  # never answered
        Sample(19.8, None, None),  # refused
    ]
    result = counts(samples, window, errors=1)
    assert result["events_sent"] == 5
    assert result["events_accepted"] == 4
    assert result["events_processed"] == 2
    assert result["accepted_per_s"] == 0.4
    assert result["processed_per_s"] == 0.2
    assert result["backlog_at_end"] == 2
    assert result["unanswered_after_drain"] == 1
    latency = latency_ms(samples, window)
    assert latency["p50"] == pytest.approx(500)
    assert latency["max"] == pytest.approx(1500)
    assert latency["p50"] <= latency["p95"] <= latency["p99"] <= latency["max"]


def test_cpu_per_event_is_in_milliseconds_and_absent_without_events() -> None:
    assert cpu_per_event(1.5, 600) == 2.5
    assert cpu_per_event(1.5, 0) is None


def test_the_median_pair_is_reported_with_every_ratio() -> None:
    pairs = [
        compare({"processed_per_s": botgate}, {"processed_per_s": 100.0})
        for botgate in (90.0, 70.0, 80.0)
    ]
    result = median_pair(pairs)
    assert result["ratio"] == 0.8
    assert result["botgate"] == {"processed_per_s": 80.0}
    assert result["ratios"] == [0.9, 0.7, 0.8]
    assert median_pair(pairs[:1]) == pairs[0]  # one pair: the plain comparison


def test_compare_gives_the_ratio_of_processed_rates() -> None:
    result = compare({"processed_per_s": 300.0}, {"processed_per_s": 400.0})
    assert result["ratio"] == 0.75
    assert compare({"processed_per_s": 1.0}, {"processed_per_s": 0.0})["ratio"] is None


class FakeClock:
    """A clock that only moves when the scheduler sleeps or the test says so."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


async def test_paced_plans_send_times_on_a_fixed_grid() -> None:
    clock = FakeClock()
    budget = Budget(duration=1.0, started=clock.now)
    planned = [t async for t in paced(10, budget, clock, clock.sleep)]
    assert planned == pytest.approx([100 + i / 10 for i in range(10)])
    assert all(s == pytest.approx(0.1) for s in clock.sleeps)  # waited for each slot


async def test_a_late_sender_catches_up_without_shifting_the_plan() -> None:
    clock = FakeClock()
    budget = Budget(events=6, started=clock.now)
    planned: list[float] = []
    async for t in paced(100, budget, clock, clock.sleep):
        assert clock.now >= t  # never before its planned time
        planned.append(t)
        if len(planned) == 2:
            clock.now += 0.035  # the sender stalls for 3.5 slots
    assert planned == pytest.approx([100 + i / 100 for i in range(6)])
    # the slots that fell due during the stall go out at once, with no sleep
    assert len(clock.sleeps) == 6 - 1 - 3
