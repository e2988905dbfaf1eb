"""The answerer's lanes, in process: one conversation's answers one at a time and in order,
conversations side by side (at most `core.max_in_flight` answers at once), a lane's failure
keeps to its lane, and a stop leaves what was not answered owed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from typing import cast

import pytest

from gateway import codec
from gateway.bus.base import Bus, Message
from gateway.config import Settings
from gateway.core.answers import Answerer, Owed
from gateway.events import Event, utcnow
from gateway.metrics import Metrics
from gateway.outage import Outage, is_bus_outage
from gateway.tools.base import Refs, Reply, Services, Turn
from gateway.tools.chain import Chain
from gateway.tools.profiles import Profiles
from gateway.tools.registry import ToolRegistry
from store.database import Database
from tests.support.pipeline import eventually, make_settings

BOT = "helpdesk"


class RecordingBus:
    """Publishes into a list; a message whose text is `fail-publish` fails to publish."""

    def __init__(self) -> None:
        self.outage = Outage("test bus", is_outage=is_bus_outage)
        self.texts: list[str] = []

    async def publish(self, message: Message) -> None:
        text = codec.loads(message.body)["text"]
        if text == "answer to fail-publish":
            raise RuntimeError("the bus broke")
        self.texts.append(text)


class Gated:
    """Answers `answer to TEXT`; a text in `gates` waits for its gate first."""

    def __init__(self) -> None:
        self.gates: dict[str, asyncio.Event] = {}
        self.running = 0
        self.most_running = 0

    async def respond(self, turn: Turn) -> list[Reply] | None:
        assert turn.event.message is not None
        text = turn.event.message.text
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        try:
            if (gate := self.gates.get(text)) is not None:
                await gate.wait()
        finally:
            self.running -= 1
        return [Reply(f"answer to {text}")]


@pytest.fixture
async def answering(sqlite_url: str) -> AsyncIterator[tuple[Answerer, Gated, RecordingBus]]:
    settings = make_settings(sqlite_url, "memory://", core={"max_in_flight": 3})
    db = Database(settings.database)
    await db.migrate()
    bus = RecordingBus()
    gated = Gated()
    answerer = _answerer(settings, db, bus, gated)
    yield answerer, gated, bus
    await answerer.stop()
    await db.close()


def _answerer(settings: Settings, db: Database, bus: RecordingBus, gated: Gated) -> Answerer:
    as_bus = cast(Bus, bus)
    services = Services(settings, db, as_bus, ToolRegistry(settings, as_bus), Profiles(db))
    return Answerer(as_bus, db, settings, services, {BOT: Chain([gated])}, Metrics())


def owed(text: str, conversation: str) -> Owed:
    now = utcnow()
    event = Event.model_validate(
        {
            "type": "message.created",
            "platform": "generic",
            "bot": BOT,
            "dedupe_key": f"test:{uuid.uuid4()}",
            "occurred_at": now,
            "conversation_key": f"generic:{BOT}:{conversation}",
            "channel": {"id": conversation},
            "message": {"id": str(uuid.uuid4()), "text": text},
        }
    )
    return Owed(uuid.uuid4(), event, Refs(uuid.uuid4()))


async def until(check: Callable[[], bool]) -> None:
    async def checked() -> bool:
        return check()

    await eventually(checked, timeout=10)


async def test_answers_keep_their_order_in_a_conversation_and_others_go_by(
    answering: tuple[Answerer, Gated, RecordingBus],
) -> None:
    answerer, gated, bus = answering
    gated.gates["a1"] = asyncio.Event()
    answerer.owe([owed("a1", "a"), owed("a2", "a"), owed("b1", "b"), owed("c1", "c")])
    await until(lambda: len(bus.texts) == 2)
    await asyncio.sleep(0.05)
    assert bus.texts == ["answer to b1", "answer to c1"]  # a1 waits, and a2 after it

    gated.gates["a1"].set()
    await until(lambda: len(bus.texts) == 4)
    assert bus.texts[2:] == ["answer to a1", "answer to a2"]
    assert len(answerer.settled.ids) == 4


async def test_answers_that_wait_run_side_by_side_up_to_max_in_flight(
    answering: tuple[Answerer, Gated, RecordingBus],
) -> None:
    answerer, gated, bus = answering
    texts = [f"t{n}" for n in range(8)]
    for text in texts:
        gated.gates[text] = asyncio.Event()
    answerer.owe([owed(text, f"conversation-{text}") for text in texts])
    await until(lambda: gated.running == 3)  # max_in_flight: the rest wait their turn
    await asyncio.sleep(0.05)
    assert gated.running == 3
    assert not bus.texts

    for text in texts:
        gated.gates[text].set()
    await until(lambda: len(bus.texts) == 8)
    assert gated.most_running == 3
    assert sorted(bus.texts) == sorted(f"answer to {text}" for text in texts)


async def test_answers_that_do_not_wait_take_no_task_per_conversation(
    answering: tuple[Answerer, Gated, RecordingBus],
) -> None:
    answerer, _, bus = answering
    batch = [owed(f"m{n}", f"conversation-{n}") for n in range(60)]
    answerer.owe(batch)  # the first answer of each conversation checks for a take-over
    await until(lambda: len(bus.texts) == 60)
    answerer.owe([owed(f"again-{n}", f"conversation-{n}") for n in range(60)])
    assert len(answerer._working) == 1
    await until(lambda: len(bus.texts) == 120)
    assert bus.texts[60:] == [f"answer to again-{n}" for n in range(60)]


async def test_a_lane_that_fails_holds_up_no_other(
    answering: tuple[Answerer, Gated, RecordingBus],
) -> None:
    answerer, _, bus = answering
    answerer.owe([owed("warm", "a"), owed("warm", "b"), owed("warm", "c")])
    await until(lambda: len(bus.texts) == 3)
    answerer.owe([owed("fail-publish", "a"), owed("b1", "b"), owed("c1", "c")])
    await until(lambda: len(bus.texts) == 5)
    assert bus.texts[3:] == ["answer to b1", "answer to c1"]
    await until(lambda: not answerer._working)
    answerer.owe([owed("a2", "a")])  # the failed lane is gone: its conversation goes on
    await until(lambda: len(bus.texts) == 6)


async def test_a_stop_leaves_what_was_not_answered_owed(sqlite_url: str) -> None:
    settings = make_settings(
        sqlite_url, "memory://", core={"max_in_flight": 1}, server={"shutdown_grace": "0.2s"}
    )
    db = Database(settings.database)
    await db.migrate()
    bus, gated = RecordingBus(), Gated()
    answerer = _answerer(settings, db, bus, gated)
    gated.gates["slow"] = asyncio.Event()
    answerer.owe([owed("slow", "a"), owed("a2", "a"), owed("b1", "b"), owed("c1", "c")])
    await until(lambda: gated.running == 1)
    await answerer.stop()  # the slow answer outlives the grace: cancelled
    assert bus.texts == []
    assert answerer.metrics.registry.get_sample_value("botgate_answers_pending") == 0
    assert not answerer._lanes
    await db.close()
