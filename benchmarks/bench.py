"""`botgate bench`: one measured run of botgate (or of the raw pipeline) end to end.

A run: fresh backends → the receiver (emulated platform) → config and database prepared
(migrations, bot, optional stored history) → the pipeline started as a subprocess → warm-up
and measured load → drain → SIGTERM → report. With `compare_raw`, the raw pipeline runs first
on its own fresh backends of the same kind, then botgate, and the report holds both and the
ratio of their processed events/s, the figure to track on a noisy shared machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.load import Budget, LoadGenerator
from benchmarks.preload import prepare_database
from benchmarks.receiver import CALLBACK_PATH, TOOL_PATH, Receiver
from benchmarks.report import (
    Progress,
    RunSetup,
    Sample,
    Usage,
    UsageSampler,
    Window,
    build_report,
    compare,
    cpu_per_event,
    median_pair,
)
from benchmarks.service import (
    BOT,
    SECRET,
    SLOW_TOOL,
    ProcessGroup,
    ServiceProcess,
    fresh_backends,
    write_config,
)
from gateway.config import Settings, load_settings


@dataclass
class BenchOptions:
    database_url: str
    bus_url: str
    mode: str = "closed"
    concurrency: int = 64
    rate: float | None = None
    duration: float | None = 10.0
    events: int | None = None
    conversations: int = 100
    preload: int = 0
    warmup: float = 1.0
    drain: float = 5.0
    config: str | None = None
    tool_latency: float | None = None  # seconds: every event calls an http tool this slow
    processes: dict[str, int] | None = None  # roles as separate processes: role -> count
    shards: int | None = None  # [bus] shards for the run (default: the config's, or 16)


@dataclass
class Measured:
    samples: list[Sample]
    window: Window
    errors: int
    load_usage: Usage
    service_cpu_in_window: float  # CPU seconds the pipeline spent inside the measured window


async def run_bench(
    options: BenchOptions, compare_raw: bool = False, rounds: int = 1
) -> dict[str, Any]:
    """One botgate run; with `compare_raw`, `rounds` pairs of raw then botgate runs. On a
    shared machine the load of other tenants drifts within minutes, so a pair of runs close
    in time gives a fairer ratio than either run alone, and the median pair the figure."""
    if not compare_raw:
        return await run_target("botgate", options)
    pairs = []
    for _ in range(rounds):
        raw = await run_target("raw", options)
        pairs.append(compare(await run_target("botgate", options), raw))
    return median_pair(pairs)


async def run_target(target: str, options: BenchOptions) -> dict[str, Any]:
    async with fresh_backends(options.database_url, options.bus_url) as (database, bus):
        receiver = Receiver(SECRET, options.tool_latency or 0.0)
        callback = await receiver.start()
        tool = callback.replace(CALLBACK_PATH, TOOL_PATH) if options.tool_latency else None
        try:
            with tempfile.TemporaryDirectory(prefix="botgate-bench-") as directory:
                config = write_config(
                    Path(directory) / "botgate.toml",
                    database,
                    bus,
                    callback,
                    _tuning(options),
                    tool,
                )
                prepared = time.perf_counter()
                await prepare_database(config, options.preload)
                prepared = time.perf_counter() - prepared
                settings = load_settings(config, environ={})
                process = _process(target, config, settings, callback, options.processes)
                measured, service = await _measure(process, receiver, options)
        finally:
            await receiver.stop()
    setup = RunSetup(
        target,
        options.mode,
        database,
        bus,
        _concurrency(options),
        options.rate,
        options.duration or 0.0,
        options.warmup,
        options.conversations,
        options.preload,
        {
            "rejected_callbacks": receiver.rejected,
            "prepare_s": round(prepared, 2),
            **({"processes": options.processes} if options.processes else {}),
            **({"shards": options.shards} if options.shards else {}),
            **({"tool_latency_ms": options.tool_latency * 1000} if options.tool_latency else {}),
        },
    )
    usage = {"service": service, "load_generator": measured.load_usage}
    report = build_report(setup, measured.samples, measured.window, measured.errors, usage)
    report["service_cpu_ms_per_event"] = cpu_per_event(
        measured.service_cpu_in_window, report["events_processed"]
    )
    return report


def _tuning(options: BenchOptions) -> dict[str, Any]:
    tuning: dict[str, Any] = {}
    if options.config is not None:
        with open(options.config, "rb") as file:
            tuning = tomllib.load(file)
    if options.shards is not None:
        tuning["bus"] = {**tuning.get("bus", {}), "shards": options.shards}
    return tuning


def _concurrency(options: BenchOptions) -> int | None:
    return options.concurrency if options.mode == "closed" else None


def _process(
    target: str,
    config: Path,
    settings: Settings,
    callback: str,
    processes: dict[str, int] | None = None,
) -> ServiceProcess | ProcessGroup:
    if target == "botgate":
        return ProcessGroup(config, processes) if processes else ServiceProcess.botgate(config)
    argv = [
        "--database-url", settings.database.url,
        "--bus-url", settings.bus.url,
        "--callback-url", callback,
        "--secret", SECRET,
        "--bot", BOT,
        "--batch-size", str(settings.core.batch_size),
        "--batch-wait", str(settings.core.batch_wait.total_seconds()),
        "--prefetch", str(settings.bus.prefetch),
    ]  # fmt: skip
    return ServiceProcess("raw", [sys.executable, "-m", "benchmarks.raw", *argv])


async def _measure(
    process: ServiceProcess | ProcessGroup, receiver: Receiver, options: BenchOptions
) -> tuple[Measured, Usage]:
    base_url = await process.start()
    try:
        measured = await _drive(process, f"{base_url}/webhooks/generic/{BOT}", receiver, options)
    finally:
        code = await process.stop()
    if code not in (0, None):
        raise RuntimeError(f"{process.label} exited with {code}:\n" + "\n".join(process.log_tail))
    return measured, process.usage()


async def _drive(
    process: ServiceProcess | ProcessGroup,
    webhook_url: str,
    receiver: Receiver,
    options: BenchOptions,
) -> Measured:
    me = UsageSampler(os.getpid())
    me.sample()
    cpu_before = me.cpu
    command = SLOW_TOOL if options.tool_latency else "help"
    generator = LoadGenerator(webhook_url, SECRET, receiver, options.conversations, command)
    async with generator as load:
        duration = None if options.duration is None else options.warmup + options.duration
        budget = Budget(duration, options.events)
        work = asyncio.create_task(_load(load, options, budget))
        await asyncio.sleep(options.warmup)
        service_cpu = process.usage().cpu_seconds
        end = await _until_spent(process.label, load, budget, receiver, me)
        service_cpu = process.usage().cpu_seconds - service_cpu
        with contextlib.suppress(TimeoutError):  # cancels workers still waiting for replies
            await asyncio.wait_for(work, options.drain)
        await load.drain(max(0.0, end + options.drain - time.perf_counter()))
        samples = load.finish()
    me.sample()
    usage = Usage(me.usage().peak_rss_mb, me.cpu - cpu_before)
    window = Window(budget.started + options.warmup, end)
    return Measured(samples, window, load.errors, usage, service_cpu)


async def _load(load: LoadGenerator, options: BenchOptions, budget: Budget) -> None:
    if options.mode == "open":
        assert options.rate is not None, "open loop needs a rate"
        await load.open_loop(options.rate, budget)
    else:
        await load.closed_loop(options.concurrency, budget)


async def _until_spent(
    label: str, load: LoadGenerator, budget: Budget, receiver: Receiver, me: UsageSampler
) -> float:
    """Tick the progress line until the budget is spent; the end of the measured window."""
    progress = Progress(label, lambda: (load.sent, receiver.answered))
    next_tick = time.perf_counter() + 1
    while not budget.spent(load.sent, now := time.perf_counter()):
        if now >= next_tick:
            progress.tick()
            me.sample()
            next_tick += 1
        await asyncio.sleep(0.02)
    if budget.duration is not None and now - budget.started >= budget.duration:
        return budget.started + budget.duration
    return now
