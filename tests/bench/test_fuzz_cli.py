"""`botgate fuzz` with a small count, as CI runs it: a real `botgate serve` on each backend
answers no hostile request with a 5xx, logs no traceback, records every event it accepted,
and says so in its report."""

from __future__ import annotations

import os

import pytest

from benchmarks.fuzz import FuzzOptions, run_fuzz
from benchmarks.hostile import ROUTES
from tests.support import services


@pytest.mark.parametrize(
    "backend",
    ["embedded", pytest.param("production", marks=[pytest.mark.postgres, pytest.mark.rabbitmq])],
)
async def test_the_fuzz_script_reports_no_server_errors(backend: str) -> None:
    urls = ("sqlite+aiosqlite://", "memory://")
    if backend == "production":
        postgres, amqp = (os.environ.get(services.POSTGRES_ENV), os.environ.get(services.AMQP_ENV))
        if not postgres or not amqp:
            services.unavailable("the production fuzz run needs PostgreSQL and RabbitMQ URLs")
        assert postgres is not None
        assert amqp is not None
        urls = (postgres.replace("postgresql://", "postgresql+asyncpg://", 1), amqp)
    report = await run_fuzz(FuzzOptions(60, 8, *urls, seed=7))
    assert report["server_errors"] == 0, report
    assert report["causes"] == {}
    assert report["tracebacks"] == 0  # a refused request is a WARNING line, never a traceback
    assert report["accepted_events"] > 0
    assert report["accepted_unrecorded"] == 0, report  # what a webhook accepted was recorded
    assert not any(reason.startswith("botgate.events") for reason in report["dead_letters"])
    for route in ROUTES:
        statuses = report["status"][route]
        assert sum(statuses.values()) == 60
        assert any(200 <= int(status) < 300 for status in statuses)  # some were accepted
        assert any(400 <= int(status) < 500 for status in statuses)  # some were refused
    assert report["rss_mb"]["start"] > 0
