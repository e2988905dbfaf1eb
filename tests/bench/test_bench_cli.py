"""`botgate bench` end to end on the embedded backends: short runs, the JSON's shape and
plausibility only (throughput targets live in the benchmark, not in tests)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

RUN_FIELDS = {
    "target", "mode", "concurrency", "rate", "duration_s", "warmup_s", "conversations",
    "preload", "database", "bus", "events_sent", "events_accepted", "events_processed",
    "errors", "accepted_per_s", "processed_per_s", "backlog_at_end", "unanswered_after_drain",
    "latency_ms", "processes", "service_cpu_ms_per_event",
}  # fmt: skip


def bench(*args: str) -> dict[str, Any]:
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "gateway", "bench", "--warmup", "0.5", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "sent" in done.stderr  # the progress line
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, "exactly one JSON object on stdout"
    result: dict[str, Any] = json.loads(lines[0])
    return result


def assert_plausible(run: dict[str, Any], target: str) -> None:
    assert run.keys() >= RUN_FIELDS
    assert run["target"] == target
    assert run["events_processed"] > 0
    assert run["events_accepted"] > 0
    assert run["processed_per_s"] > 0
    assert run["errors"] == 0
    assert run["backlog_at_end"] >= 0
    latency = run["latency_ms"]
    assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"] <= latency["max"]
    for process in ("service", "load_generator"):
        assert run["processes"][process]["peak_rss_mb"] > 0
        assert run["processes"][process]["cpu_s"] > 0
    # the window's CPU is a part of the whole run's
    per_event = run["service_cpu_ms_per_event"]
    assert 0 < per_event * run["events_processed"] / 1000 < run["processes"]["service"]["cpu_s"]
    assert run["database"].startswith("sqlite")
    assert run["bus"] == "memory://"


def test_closed_loop_on_the_embedded_backends(tmp_path: Path) -> None:
    output = tmp_path / "bench.json"
    run = bench("--duration", "2", "--concurrency", "8", "--output", str(output))
    assert_plausible(run, "botgate")
    assert run["mode"] == "closed"
    assert run["concurrency"] == 8
    assert run["backlog_at_end"] <= 8  # a closed loop has at most N in flight
    assert json.loads(output.read_text()) == run


def test_open_loop_with_a_preloaded_history() -> None:
    run = bench("--mode", "open", "--rate", "50", "--duration", "2", "--preload", "500")
    assert_plausible(run, "botgate")
    assert run["rate"] == 50
    assert run["preload"] == 500
    assert 60 <= run["events_sent"] + run["errors"] <= 140  # about 50/s for 2 s


def test_compare_raw_prints_both_runs_and_their_ratio() -> None:
    result = bench("--compare-raw", "--rounds", "2", "--duration", "2", "--concurrency", "8")
    assert set(result) == {"botgate", "raw", "ratio", "ratios"}
    assert len(result["ratios"]) == 2
    assert result["ratio"] in result["ratios"]
    assert_plausible(result["botgate"], "botgate")
    assert_plausible(result["raw"], "raw")
    expected = result["botgate"]["processed_per_s"] / result["raw"]["processed_per_s"]
    assert abs(result["ratio"] - expected) < 0.01
