"""The cron scheduler: times in the automation's zone with cron's daylight-saving rules, a
firing at its time with the key every process computes alike, missed firings skipped."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from gateway.automations import schedule
from gateway.automations.runner import Firing
from gateway.automations.schedule import Scheduler, next_time
from gateway.config import AutomationConfig, settings_from_dict
from tests.automations.support import BERLIN_MONDAY_0900, TestClock, digest, helpdesk


def _automation(**overrides: object) -> AutomationConfig:
    settings = settings_from_dict(
        {"bots": [helpdesk("http://127.0.0.1:9/hook")], "automations": [digest(**overrides)]}
    )
    return settings.automations[0]


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        # autumn: 02:30 happens twice in Berlin; a fixed-time job runs once, in the first
        ("2026-10-24T12:00:00+02:00", ["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"]),
        # spring: 02:30 does not exist; the job runs when the skipped hour is over
        ("2026-03-28T12:00:00+01:00", ["2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"]),
    ],
)
def test_times_follow_cron_across_daylight_saving(after: str, expected: list[str]) -> None:
    first = next_time("30 2 * * *", "Europe/Berlin", _utc(after))
    second = next_time("30 2 * * *", "Europe/Berlin", first)
    assert [first, second] == [_utc(text) for text in expected]
    assert first.tzinfo is UTC


async def test_a_firing_comes_at_its_time_with_a_key_every_process_agrees_on() -> None:
    fired: list[Firing] = []
    arrived = asyncio.Event()

    async def fire(firing: Firing) -> bool:
        fired.append(firing)
        arrived.set()
        return True

    automation, automation_id = _automation(), uuid.uuid4()
    clock = TestClock(BERLIN_MONDAY_0900 - timedelta(seconds=0.3))
    scheduler = Scheduler([(automation, automation_id)], fire, clock)
    await scheduler.start()
    clock.run()
    try:
        await asyncio.wait_for(arrived.wait(), 10)
    finally:
        await scheduler.stop()

    [firing] = fired
    assert firing.key == "schedule:2026-11-23T08:00:00+00:00"
    assert (firing.scheduled_at, firing.automation_id) == (_utc("2026-11-23T08:00Z"), automation_id)
    assert scheduler.due[automation.name] == _utc("2026-11-30T08:00Z")  # a week later


async def test_a_firing_found_late_after_a_pause_is_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fired: list[Firing] = []

    async def fire(firing: Firing) -> bool:
        fired.append(firing)
        return True

    automation = _automation(cron="*/5 * * * *")
    due = _utc("2026-11-23T08:00Z")
    scheduler = Scheduler([(automation, uuid.uuid4())], fire, clock=lambda: due)
    scheduler.due = {automation.name: due}

    scheduler._fire_due(due + timedelta(minutes=12))  # the process slept through 08:00 to 08:10
    assert scheduler.due[automation.name] == _utc("2026-11-23T08:15Z")
    scheduler._fire_due(due + timedelta(minutes=15, seconds=30))  # 08:15, half a minute late
    await scheduler.stop()

    assert [firing.scheduled_at for firing in fired] == [_utc("2026-11-23T08:15Z")]
    assert "missed its firing at 2026-11-23T08:00:00+00:00" in caplog.text


async def test_a_claim_the_database_refuses_is_tried_again_then_given_up(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(schedule, "CLAIM_RETRIES", (0.0, 0.0))
    attempts: list[str] = []

    async def fire(firing: Firing) -> bool:
        attempts.append(firing.key)
        raise ConnectionRefusedError("database down")

    automation = _automation()
    scheduler = Scheduler([(automation, uuid.uuid4())], fire)
    firing = Firing.scheduled(automation, uuid.uuid4(), _utc("2026-11-23T08:00Z"))

    await scheduler._claim_and_run(firing)

    assert len(attempts) == 3
    assert "was not run: database down" in caplog.text
