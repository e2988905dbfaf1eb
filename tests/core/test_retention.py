"""Old messages, clicks and ledger rows go; recent ones stay. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from gateway.core import retention as retention_module
from gateway.core.recorder import Recorder
from gateway.core.retention import Retention
from gateway.events import utcnow
from store.database import Database
from store.models import Message, ProcessedEvent
from tests.core.test_recorder import arrivals
from tests.support.events import T0, count, inbound


async def test_prune_removes_only_what_is_older_than_the_retention(
    recorder: tuple[Recorder, Database], monkeypatch: pytest.MonkeyPatch
) -> None:
    rec, db = recorder
    events = [inbound(n, at=T0 + timedelta(days=n * 30)) for n in range(4)]  # 0, 30, 60, 90 days
    async with db.begin() as connection:
        await rec.record(connection, arrivals(*events))
    monkeypatch.setattr(retention_module, "CHUNK", 2)  # several chunks, to exercise the loop

    removed = await Retention(db, timedelta(days=45)).prune(now=T0 + timedelta(days=91))

    async with db.transaction() as session:
        kept = sorted(
            (
                await session.execute(select(Message.external_id).where(Message.direction == "in"))
            ).scalars()
        )
    assert kept == ["2", "3"]  # sent on days 60 and 90: within 45 days of day 91
    # the ledger is stamped when processed (today, before T0 + 46 days): all four go too
    assert removed == 2 + 4
    assert await count(db, ProcessedEvent) == 0
    assert await Retention(db, timedelta(days=45)).prune(now=utcnow()) == 0  # nothing else old
