"""Sends through a platform outage: held in the broker with growing delays, delivered once it
ends, in each chat's order, none twice; a permanent refusal dead-lettered at once with the
platform's words. Telegram emulator; SQLite + memory and PostgreSQL + RabbitMQ.

The outage is shortened in proportion: the default schedule (1 s ... 1 h) against a
ten-minute outage makes about six attempts; here 0.2 s ... 1 s against about five seconds
(502s, then 429s with retry_after) makes as many.
"""

from __future__ import annotations

import asyncio
from typing import Any

from botgate.testing.telegram import TelegramEmulator
from gateway.bus.factory import create_bus
from gateway.events import Action
from gateway.ids import new_id
from gateway.publisher import action_message
from tests.support.pipeline import eventually, make_settings, running

CHATS = (101, 102, 103)
PER_CHAT = 6
SENDS = {"retry_delays": ["200ms", "500ms", "1s"], "retry_for": "1h"}


def telegram_bot(telegram: TelegramEmulator) -> dict[str, Any]:
    table = {
        "token": telegram.token,
        "webhook_secret": "s3cret-token",
        "api_base_url": telegram.api_base_url,
        "max_retry_wait": "0s",  # every 429 goes back to the runner, to be held
        "rate_per_chat": 1000,
        "rate_per_bot": 1000,
    }
    return {"name": "helpdesk", "telegram": table}


def reply(chat: int, n: int) -> Action:
    return Action(
        id=new_id(),
        type="message.send",
        platform="telegram",
        bot="helpdesk",
        channel_id=str(chat),
        text=f"reply {n} to {chat}",
    )


async def test_replies_outlast_an_outage_in_order_and_once(
    backend: tuple[str, str], telegram_emulator: TelegramEmulator
) -> None:
    telegram = telegram_emulator
    settings = make_settings(*backend, bots=[telegram_bot(telegram)], sends=SENDS)
    async with running(settings) as runtime:
        bus = create_bus(backend[1])
        await bus.connect()
        try:
            telegram.outage(seconds=3.0)  # every call answers 502 ...
            telegram.rate_limit("sendMessage", retry_after=1, seconds=5.0)  # ... then 429s
            for n in range(PER_CHAT):  # replies keep coming during the outage
                for chat in CHATS:
                    await bus.publish(action_message(reply(chat, n)))
                await asyncio.sleep(0.25)
            expected = {chat: [f"reply {n} to {chat}" for n in range(PER_CHAT)] for chat in CHATS}

            async def all_sent() -> bool:
                return all(len(telegram.sent(chat)) >= PER_CHAT for chat in CHATS)

            await eventually(all_sent, 40)
            await asyncio.sleep(1.2)  # room for a late duplicate, were one (wrongly) coming
        finally:
            await bus.close()
        held = runtime.metrics.actions.labels("telegram", "held")._value.get()
    assert {chat: [s.text for s in telegram.sent(chat)] for chat in CHATS} == expected
    failures = [c for c in telegram.calls("sendMessage") if c.error]
    assert len(failures) >= len(CHATS) * 3  # retried several times through the outage
    assert held >= len(CHATS) * PER_CHAT  # every reply of the outage waited in a lane


async def test_a_permanent_refusal_is_dead_lettered_at_once_with_the_platforms_words(
    backend: tuple[str, str], telegram_emulator: TelegramEmulator
) -> None:
    telegram = telegram_emulator
    telegram.remove_chat(104)
    settings = make_settings(*backend, bots=[telegram_bot(telegram)], sends=SENDS)
    async with running(settings) as runtime:
        bus = create_bus(backend[1])
        await bus.connect()
        try:
            await bus.publish(action_message(reply(104, 1)))
            await bus.publish(action_message(reply(101, 1)))  # another chat is not held up
            await eventually(lambda: _dead_letters(runtime, 1), 20)
            await eventually(_sent_to(telegram, 101, 1), 20)
        finally:
            await bus.close()
        [(reason, attempts)] = await _reasons(runtime)
    calls = [c for c in telegram.calls("sendMessage") if str(c.params.get("chat_id")) == "104"]
    assert len(calls) == 1  # never retried
    assert "chat not found" in reason.lower()
    assert attempts == 1


async def _reasons(runtime: Any) -> list[tuple[str, int]]:
    from sqlalchemy import text

    async with runtime.db.transaction() as db:
        rows = await db.execute(text("SELECT reason, attempts FROM dead_letters"))
        return [(str(reason), int(attempts)) for reason, attempts in rows.all()]


async def _dead_letters(runtime: Any, count: int) -> bool:
    return len(await _reasons(runtime)) >= count


def _sent_to(telegram: TelegramEmulator, chat: int, count: int) -> Any:
    async def check() -> bool:
        return len(telegram.sent(chat)) >= count

    return check


async def test_a_held_chat_stays_in_order_when_another_process_takes_over(
    backend: tuple[str, str], telegram_emulator: TelegramEmulator
) -> None:
    """The process holding a chat stops; the platform is back. The next consumer of the
    bot's queue holds a new reply of that chat behind the held ones (it reads the held
    chats first) instead of sending it ahead of them, while another chat goes at once."""
    telegram = telegram_emulator
    sends = {"retry_delays": ["3s"], "retry_for": "1h"}
    settings = make_settings(*backend, bots=[telegram_bot(telegram)], sends=sends)
    outage = telegram.outage(until_cleared=True)
    bus = create_bus(backend[1])
    await bus.connect()
    try:
        async with running(settings) as first:
            for n in range(2):
                await bus.publish(action_message(reply(101, n)))
            await eventually(lambda: _held(first, 2), 20)
        outage.clear()
        async with running(settings):  # the next process
            await bus.publish(action_message(reply(101, 2)))  # must wait behind the two
            await bus.publish(action_message(reply(102, 0)))  # another chat: not held
            await eventually(_sent_to(telegram, 102, 1), 20)
            assert telegram.sent(101) == []  # the held ones wait for their retry
            await eventually(_sent_to(telegram, 101, 3), 20)
            await asyncio.sleep(1.0)  # room for a late duplicate
    finally:
        await bus.close()
    assert [s.text for s in telegram.sent(101)] == [f"reply {n} to 101" for n in range(3)]
    assert [s.text for s in telegram.sent(102)] == ["reply 0 to 102"]


async def _held(runtime: Any, count: int) -> bool:
    from sqlalchemy import text

    async with runtime.db.transaction() as db:
        rows = await db.execute(text("SELECT count(*) FROM held_sends"))
        return int(rows.scalar_one()) >= count
