"""Live web chat replies with the roles split into real `botgate serve` processes on
PostgreSQL + RabbitMQ: one `core`, one `adapters` (which consumes the bot's actions) and two
`gateway`s holding visitors' sockets. Each visitor gets the bot's answer on the socket it
sent from, whichever gateway holds it, and a visitor who comes back through the other gateway
finds the answer in the history."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import pytest

from tests.support.pipeline import eventually
from tests.support.webchat import Visitor
from tests.test_restart import query, start_service
from tests.test_restart import write_config as service_config

pytestmark = [pytest.mark.postgres, pytest.mark.rabbitmq]


def write_config(path: Path, database: str, bus: str) -> Path:
    return service_config(
        path, database, bus, bot='tools = ["help"]', platform="[bots.webchat]"
    )


def from_bot(frame: dict[str, Any]) -> bool:
    return frame["type"] == "message" and frame["from"] == "bot"


async def asks_help_and_is_answered_live(visitor: Visitor) -> dict[str, Any]:
    assert (await visitor.connect())["type"] == "welcome"
    assert (await visitor.say("/help"))["type"] == "accepted"
    answer = await visitor.next(from_bot)  # on the same open socket: no reconnect
    assert "/help" in answer["html"]
    return answer


async def _replies_recorded(database: str, count: int) -> bool:
    [(recorded,)] = await query(database, "SELECT count(*) FROM messages WHERE direction = 'out'")
    return int(recorded) >= count


async def test_replies_reach_visitors_live_on_either_gateway_with_split_roles(
    postgres_url: str, amqp_url: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "botgate.toml", postgres_url, amqp_url)
    core = await start_service(config, "core")  # first: it migrates the database
    started = await asyncio.gather(
        start_service(config, "adapters"),
        start_service(config, "gateway"),
        start_service(config, "gateway"),
    )
    processes = [core[0], *(process for process, _ in started)]
    gateway_a, gateway_b = started[1][1], started[2][1]
    try:
        async with (
            Visitor(gateway_a, "helpdesk") as alice,
            Visitor(gateway_b, "helpdesk") as bob,
        ):
            first = await asks_help_and_is_answered_live(alice)
            second = await asks_help_and_is_answered_live(bob)
            assert [frame for frame in bob.frames if from_bot(frame)] == [second]  # not alice's

            await eventually(lambda: _replies_recorded(postgres_url, 2), 20)
            async with Visitor(gateway_b, "helpdesk") as alice_again:
                welcome = await alice_again.connect(alice.token)
                assert welcome["type"] == "welcome"
                history = [m["id"] for m in welcome["history"] if m["from"] == "bot"]
                assert history == [first["id"]]
                # gateway B kept alice's frame too (she was not on it): handed over after
                kept = await alice_again.next(from_bot)
                assert kept["id"] == first["id"]
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            await asyncio.wait_for(process.wait(), 30)
