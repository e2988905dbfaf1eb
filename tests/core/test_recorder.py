"""The set-based batch recorder means the same as recording events one by one, in order.
Runs on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select

from gateway.core.recorder import Arrival, Recorder
from gateway.events import Event, encode
from store.database import Database
from store.models import (
    Message,
    OwedAnswer,
    PlatformChannel,
    PlatformUser,
    ProcessedEvent,
    UserSession,
)
from tests.support.events import T0, count, inbound, sent


def arrivals(*events: Event) -> list[Arrival]:
    return [Arrival(event, encode(event)) for event in events]


async def owed_rows(db: Database) -> list[OwedAnswer]:
    async with db.transaction() as session:
        query = select(OwedAnswer).order_by(OwedAnswer.created_at, OwedAnswer.id)
        return list((await session.execute(query)).scalars())


async def test_a_batch_of_one_conversation_shares_one_session_and_answers_each(
    recorder: tuple[Recorder, Database],
) -> None:
    rec, db = recorder
    events = [inbound(n, at=T0 + timedelta(minutes=n)) for n in range(5)]
    async with db.begin() as connection:
        outcomes = await rec.record(connection, arrivals(*events))
    assert [o.owed for o in outcomes] == [True] * 5
    owed = await owed_rows(db)
    assert [row.event_id for row in owed] == [e.id for e in events]  # in recorded order
    assert [row.id for row in owed] == [o.ledger_id for o in outcomes]
    assert await count(db, UserSession) == 1
    assert await count(db, PlatformUser) == 1
    assert await count(db, Message) == 5
    async with db.transaction() as session:
        last = (await session.execute(select(UserSession.last_activity_at))).scalar_one()
    assert last == T0 + timedelta(minutes=4)


async def test_idle_gaps_inside_a_batch_open_new_sessions(
    recorder: tuple[Recorder, Database],
) -> None:
    rec, db = recorder
    times = [
        T0,
        T0 + timedelta(minutes=10),
        T0 + timedelta(hours=2),
        T0 + timedelta(hours=2, minutes=1),
    ]
    async with db.begin() as connection:
        await rec.record(connection, arrivals(*(inbound(n, at=t) for n, t in enumerate(times))))
    async with db.transaction() as session:
        rows = (
            (await session.execute(select(UserSession).order_by(UserSession.started_at)))
            .scalars()
            .all()
        )
        by_message = dict(
            (await session.execute(select(Message.external_id, Message.session_id))).all()
        )
    assert len(rows) == 2
    assert rows[0].ended_at == T0 + timedelta(minutes=40)  # last activity + idle timeout
    assert rows[1].ended_at is None
    assert [by_message[str(n)] for n in range(4)] == [
        rows[0].id,
        rows[0].id,
        rows[1].id,
        rows[1].id,
    ]


async def test_idle_timeout_across_batches_closes_the_stored_session(
    recorder: tuple[Recorder, Database],
) -> None:
    rec, db = recorder
    async with db.begin() as connection:
        await rec.record(connection, arrivals(inbound(1)))
    async with db.begin() as connection:
        await rec.record(connection, arrivals(inbound(2, at=T0 + timedelta(hours=1))))
    async with db.transaction() as session:
        ended = (
            (await session.execute(select(UserSession.ended_at).order_by(UserSession.started_at)))
            .scalars()
            .all()
        )
    assert ended == [T0 + timedelta(minutes=30), None]


async def test_duplicates_in_and_across_batches(recorder: tuple[Recorder, Database]) -> None:
    rec, db = recorder
    first = inbound(1, key="k-1")
    again_in_batch = inbound(1, key="k-1")
    async with db.begin() as connection:
        outcomes = await rec.record(connection, arrivals(first, again_in_batch))
    assert [o.duplicate for o in outcomes] == [False, True]
    assert [o.owed for o in outcomes] == [True, False]  # answered once
    assert outcomes[1].replies is None  # not answered yet: nothing stored to replay

    platform_retry = inbound(1, key="k-1")
    async with db.begin() as connection:
        later = await rec.record(connection, arrivals(platform_retry))
    assert later[0].duplicate
    assert not later[0].owed  # the platform's re-delivery: nothing owed again
    assert await count(db, ProcessedEvent) == 1
    assert await count(db, Message) == 1
    assert len(await owed_rows(db)) == 1


async def test_the_reply_is_filed_in_the_session_of_what_it_answers(
    recorder: tuple[Recorder, Database],
) -> None:
    rec, db = recorder
    question = inbound(1)
    async with db.begin() as connection:
        await rec.record(connection, arrivals(question, sent(question, "out-1")))  # same batch
    later_question = inbound(2, channel="other")
    async with db.begin() as connection:
        await rec.record(connection, arrivals(later_question))
    async with db.begin() as connection:
        await rec.record(connection, arrivals(sent(later_question, "out-2")))  # a later batch
    async with db.transaction() as session:
        rows = dict((await session.execute(select(Message.external_id, Message.session_id))).all())
        directions = dict(
            (await session.execute(select(Message.external_id, Message.direction))).all()
        )
    assert rows["out-1"] == rows["1"]
    assert rows["out-2"] == rows["2"]
    assert rows["1"] != rows["2"]
    assert directions == {"1": "in", "out-1": "out", "2": "in", "out-2": "out"}


async def test_a_send_does_not_overwrite_what_inbound_events_said_of_the_channel(
    recorder: tuple[Recorder, Database],
) -> None:
    rec, db = recorder
    question = inbound(1, kind="group", channel="team", text="/help")
    async with db.begin() as connection:
        await rec.record(connection, arrivals(question, sent(question, "out-1")))
    async with db.transaction() as session:
        channel = (await session.execute(select(PlatformChannel))).scalar_one()
    assert channel.type == "group"


async def test_many_conversations_in_one_batch(recorder: tuple[Recorder, Database]) -> None:
    rec, db = recorder
    events = [inbound(n, user=f"u{n % 7}", channel=f"c{n % 5}") for n in range(60)]
    async with db.begin() as connection:
        outcomes = await rec.record(connection, arrivals(*events))
    assert all(o.owed for o in outcomes)
    assert await count(db, PlatformUser) == 7
    assert await count(db, PlatformChannel) == 5
    assert await count(db, UserSession) == len({(n % 7, n % 5) for n in range(60)})
    assert await count(db, Message) == 60
    assert uuid.UUID(str(outcomes[0].event.id))
