"""Old rows go, recent ones stay, per rule: messages, clicks and the ledger, sessions, audit
rows, automation runs; "never" keeps a table whole. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from gateway.config import Settings, settings_from_dict
from gateway.core import retention as retention_module
from gateway.core.recorder import Recorder
from gateway.core.retention import Retention, rules
from gateway.events import utcnow
from store import automations as automation_records
from store.database import Database
from store.models import AuditLog, AutomationRun, Bot, Message, ProcessedEvent, UserSession
from tests.core.test_recorder import arrivals
from tests.support.events import T0, count, inbound


def _settings(audit_log: str) -> Settings:
    return settings_from_dict(
        {
            "sessions": {"message_retention": "45d", "session_retention": "45d"},
            "retention": {"audit_log": audit_log, "automation_runs": "45d", "dead_letters": "1d"},
        }
    )


async def _old_and_new_rows(rec: Recorder, db: Database) -> None:
    """Four people write on days 0, 30, 60 and 90; audit rows and automation runs of days 0
    and 90."""
    events = [inbound(n, user=f"u{n}", at=T0 + timedelta(days=n * 30)) for n in range(4)]
    async with db.begin() as connection:
        await rec.record(connection, arrivals(*events))
    async with db.transaction() as session:
        bot_id = (await session.execute(select(Bot.id))).scalar_one()
        row = automation_records.AutomationRow(
            "digest", bot_id, "schedule", "0 9 * * *", "UTC", None, {}, True
        )
        automation_id = (await automation_records.mirror(session, [row])).ids["digest"]
        for day in (0, 90):
            at = T0 + timedelta(days=day)
            session.add(AuditLog(actor="system", action="test", details={}, created_at=at))
            session.add(
                AutomationRun(
                    automation_id=automation_id,
                    firing=f"schedule:{at.isoformat()}",
                    scheduled_at=at,
                    status="succeeded",
                    started_at=at,
                    runner="test",
                )
            )


async def test_each_rule_removes_only_what_is_older_than_it_allows(
    recorder: tuple[Recorder, Database], monkeypatch: pytest.MonkeyPatch
) -> None:
    rec, db = recorder
    await _old_and_new_rows(rec, db)
    monkeypatch.setattr(retention_module, "CHUNK", 2)  # several chunks, to exercise the loop
    settings = _settings(audit_log="45d")

    removed = await Retention(db, rules(settings), timedelta(hours=1)).prune(
        now=T0 + timedelta(days=91)
    )

    async with db.transaction() as session:
        kept = sorted((await session.execute(select(Message.external_id))).scalars())
    assert kept == ["2", "3"]  # sent on days 60 and 90: within 45 days of day 91
    assert removed["messages"] == 2
    # sessions go by when botgate last wrote them (today, before T0 + 46 days): all four
    assert removed["user_sessions"] == 4
    assert await count(db, UserSession) == 0
    assert removed["audit_log"] == 1
    assert removed["automation_runs"] == 1
    # the ledger is stamped when processed (today, before T0 + 46 days): all four go too
    assert removed["processed_events"] == 4
    assert await count(db, ProcessedEvent) == 0
    again = await Retention(db, rules(settings), timedelta(hours=1)).prune(now=utcnow())
    assert sum(again.values()) == 0  # nothing else is old


async def test_never_keeps_a_table_whole(recorder: tuple[Recorder, Database]) -> None:
    rec, db = recorder
    await _old_and_new_rows(rec, db)

    removed = await Retention(db, rules(_settings(audit_log="never")), timedelta(hours=1)).prune(
        now=T0 + timedelta(days=91)
    )

    assert "audit_log" not in removed
    assert await count(db, AuditLog) == 2
    assert removed["automation_runs"] == 1
