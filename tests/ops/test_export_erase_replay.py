"""Export, erase and replay on both backends."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.app import Runtime
from gateway.bus.topology import REPLAY_EXCHANGE, Binding, QueueSpec
from gateway.events import decode_event, utcnow
from gateway.ops.export import export
from gateway.ops.replay import ReplayRefused, replay, target_of
from store.history import Filters
from store.models import BotMemory, HeldSend, Message, PlatformUser, User, UserPreference
from tests.contracts.inbox import Inbox
from tests.ops.support import botgate, call, config_file, link, person_of
from tests.support.pipeline import (
    GenericClient,
    count_rows,
    eventually,
    make_settings,
    message,
    running,
)


async def _conversation(runtime: Runtime) -> None:
    """Alice and Bob in one group room; Alice also in a direct chat, under two identities."""
    client = GenericClient(runtime.http.url)
    group = {"channel": {"id": "room-1", "type": "group"}}
    await client.post({**message("@helpdesk /help", user="alice"), **group}, wait=True)
    await client.post({**message("bob was here", user="bob"), **group}, wait=True)
    await client.post(message("hello", user="alice", channel="dm-alice"), wait=True)
    await client.post(message("second identity", user="alice-2", channel="dm-a2"), wait=True)
    await client.close()

    async def answers_recorded() -> bool:  # 4 in, 3 answers once the platform has them
        return await count_rows(runtime, "messages") == 7

    await eventually(answers_recorded)


async def _held_reply_to(db: AsyncSession, text: str) -> HeldSend:
    """A reply to the message `text`, waiting in its lane as it would during an outage."""
    event_id = (await db.execute(select(Message.event_id).where(Message.text == text))).scalar()
    body = {"type": "message.send", "in_reply_to": str(event_id), "text": f"reply to {text}"}
    return HeldSend(
        action_id=uuid.uuid4(),
        platform="generic",
        bot="helpdesk",
        lane=f"generic:helpdesk:{text}",
        position=1,
        body=json.dumps(body),
        headers={},
        created_at=utcnow(),
    )


async def _export(runtime: Runtime, filters: Filters) -> list[dict[str, object]]:
    out = io.BytesIO()
    counts = await export(runtime.db, filters, out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert sum(counts.values()) == len(lines)
    return lines


async def test_export_filters_and_the_command(backend: tuple[str, str], tmp_path: Path) -> None:
    async with running(make_settings(*backend)) as runtime:
        await _conversation(runtime)
        alice = await person_of(runtime, "generic", "alice")
        await link(runtime, alice, "generic", "alice-2")
        everything = await _export(runtime, Filters())
        kinds = [line["kind"] for line in everything]
        assert kinds[:11] == ["session"] * 4 + ["message"] * 7  # 4 in, 3 answers (not to Bob)
        assert set(kinds[11:]) == {"tool_call"}  # what the answers called
        times = [line["occurred_at"] for line in everything if line["kind"] == "message"]
        assert times == sorted(times)

        theirs = await _export(runtime, Filters(person=alice))
        texts = [line["text"] for line in theirs if line["kind"] == "message"]
        assert "bob was here" not in texts
        assert {"@helpdesk /help", "hello", "second identity"} <= set(texts)
        assert len(texts) == 6  # three of hers, three answers to her
        assert {line["user"] for line in theirs if line["kind"] == "session"} == {
            "alice",
            "alice-2",
        }

        room = await _export(runtime, Filters(conversation="generic:helpdesk:room-1"))
        assert {line["channel"] for line in room} == {"room-1"}
        assert len([line for line in room if line["kind"] == "message"]) == 3
        assert await _export(runtime, Filters(since=utcnow())) == []
        assert await _export(runtime, Filters(bot="nobody")) == []

        config = config_file(tmp_path, backend[0])
        target = tmp_path / "out.jsonl"
        ran = await botgate(
            "export",
            "--person",
            str(alice),
            "--since",
            "1h",
            "--output",
            str(target),
            config=config,
        )
        assert ran.code == 0, ran.err
        assert ran.err.strip() == f"exported 3 session(s), 6 message(s), 1 tool_call(s) to {target}"
        _, trail = await call(runtime, "GET", "/audit?action=history.export")
        (entry,) = trail["entries"]
        expected = {"person": str(alice), "since": "1h", "session": 3, "message": 6, "tool_call": 1}
        assert entry["details"] == expected
        assert [json.loads(line)["kind"] for line in target.read_text().splitlines()].count(
            "message"
        ) == 6
        bad = await botgate(
            "export", "--since", "2026-02-01", "--until", "2026-01-01", config=config
        )
        assert bad.code == 1
        assert "--since (2026-02-01T00:00:00+00:00) must be before" in bad.err
        bad = await botgate("export", "--person", "alice", config=config)
        assert bad.code == 2
        assert "'alice' is not a person id" in bad.err


async def test_erase_removes_a_person_everywhere_and_keeps_the_others(
    backend: tuple[str, str], tmp_path: Path
) -> None:
    async with running(make_settings(*backend)) as runtime:
        await _conversation(runtime)
        alice = await person_of(runtime, "generic", "alice")
        await link(runtime, alice, "generic", "alice-2")
        bob = await person_of(runtime, "generic", "bob")
        async with runtime.db.transaction() as db:
            identity = (
                await db.execute(select(PlatformUser.id).where(PlatformUser.external_id == "alice"))
            ).scalar_one()
            bot_id = (await db.execute(select(Message.bot_id).limit(1))).scalar_one()
            assert bot_id is not None
            db.add(BotMemory(bot_id=bot_id, platform_user_id=identity, key="1", value="tea"))
            db.add(UserPreference(user_id=alice, key="lang", value="en"))
            for text in ("hello", "bob was here"):  # a reply to each, held through an outage
                db.add(await _held_reply_to(db, text))
        before = await count_rows(runtime, "messages")

        config = config_file(tmp_path, backend[0])
        ran = await botgate("erase", "--person", str(alice), config=config)
        assert ran.code == 0, ran.err
        assert ran.out.startswith(f"erased person {alice}: ")
        assert "6 messages" in ran.out
        assert "2 identities" in ran.out
        assert "1 notes" in ran.out

        async with runtime.db.transaction() as db:
            left = (await db.execute(select(Message.text).order_by(Message.occurred_at))).scalars()
            remaining = list(left)
            people = set((await db.execute(select(User.id))).scalars())
        assert remaining == ["bob was here"]  # the bot did not answer him in the group
        assert before - 6 == 1
        assert bob in people
        assert alice not in people
        for table in ("bot_memories", "user_preferences", "user_sessions"):
            assert await count_rows(runtime, table) == (1 if table == "user_sessions" else 0)
        async with runtime.db.transaction() as db:  # only the reply to Bob is still to send
            (held,) = (await db.execute(select(HeldSend.body))).scalars()
        assert json.loads(held)["text"] == "reply to bob was here"
        _, trail = await call(runtime, "GET", "/audit?action=person.erase")
        (entry,) = trail["entries"]
        assert (entry["target_id"], entry["outcome"], entry["details"]["messages"]) == (
            str(alice),
            "ok",
            6,
        )

        again = await botgate("erase", "--person", str(alice), config=config)
        assert again.code == 1
        assert f"no person with id {alice}; nothing erased" in again.err
        bad = await botgate("erase", "--person", "0000", config=config)
        assert bad.code == 2
        assert "'0000' is not a person id" in bad.err
        status, body = await call(runtime, "DELETE", f"/people/{bob}")
        assert (status, body["counts"]["messages"]) == (200, 1)
        assert await count_rows(runtime, "messages") == 0
        assert await count_rows(runtime, "audit_log") == 2


async def test_replay_publishes_in_order_and_keeps_off_the_core_queue(
    backend: tuple[str, str], tmp_path: Path
) -> None:
    async with running(make_settings(*backend)) as runtime:
        await _conversation(runtime)
        bus = runtime.bus
        await bus.declare_queue(QueueSpec("analytics", quorum=False))
        await bus.declare_queue(
            QueueSpec("by-key", (Binding(REPLAY_EXCHANGE, "analytics.#"),), quorum=False)
        )
        direct, keyed = Inbox(), Inbox()
        await bus.consume("analytics", direct, prefetch=100)
        await bus.consume("by-key", keyed, prefetch=100)

        assert await target_of(bus, "analytics", False) == ("", "analytics")
        published, skipped = await replay(runtime.db, bus, Filters(), "", "analytics")
        assert (published, skipped) == (7, 0)
        events = [decode_event(d.message.body) for d in await direct.take(7)]
        async with runtime.db.transaction() as db:
            stored = (
                (await db.execute(select(Message).order_by(Message.occurred_at, Message.id)))
                .scalars()
                .all()
            )
        assert [e.message.text for e in events if e.message] == [m.text for m in stored]
        assert [e.id for e in events if e.type != "message.sent"] == [
            m.event_id for m in stored if m.direction == "in"
        ]
        first = events[0]
        assert (first.type, first.user and first.user.id, first.channel.type) == (
            "message.created",
            "alice",
            "group",
        )
        sent = [e for e in events if e.type == "message.sent"]
        assert len(sent) == 3
        assert all(e.user is None for e in sent)

        exchange, key = await target_of(bus, "analytics.replayed", False)
        only_bob = Filters(bot="helpdesk", since=stored[2].occurred_at, until=stored[4].occurred_at)
        assert await replay(runtime.db, bus, only_bob, exchange, key) == (2, 0)
        deliveries = await keyed.take(2)
        replayed = [decode_event(d.message.body) for d in deliveries]
        assert [e.message.text for e in replayed if e.message] == [m.text for m in stored[2:4]]
        assert all(d.message.headers["x-botgate-replay"] == "1" for d in deliveries)

        for own in ("botgate.core", "botgate.actions.generic.helpdesk"):
            with pytest.raises(ReplayRefused, match="--allow-core"):
                await target_of(bus, own, False)
        assert await target_of(bus, "botgate.core.0", True) == ("", "botgate.core.0")
        processed = await count_rows(runtime, "processed_events")

        config = config_file(tmp_path, *backend)
        ran = await botgate("replay", "--since", "1h", "--to", "botgate.core", config=config)
        assert ran.code == 1
        wrong = await botgate(
            "replay", "--since", "2026-02-01", "--until", "2026-01-01", "--to", "x", config=config
        )
        assert wrong.code == 1
        assert "must be before --until" in wrong.err
        assert await count_rows(runtime, "processed_events") == processed  # nothing recorded
        if backend[1].startswith("amqp"):
            assert "--allow-core" in ran.err
            ok = await botgate("replay", "--since", "1h", "--to", "analytics", config=config)
            assert ok.code == 0, ok.err
            assert ok.out.strip() == "replayed 7 event(s) to queue 'analytics'"
            again = [decode_event(d.message.body).id for d in await direct.take(7)]
            assert again == [e.id for e in events]
        else:
            assert "in-process memory:// bus" in ran.err
