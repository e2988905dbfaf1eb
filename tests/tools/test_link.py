"""Joining one person's identities on two platforms with a one-time code: notes follow the
person; a wrong, used, expired or foreign code changes nothing; five wrong codes in an hour
lock an identity out; `unlink` parts them again. Telegram (through its emulator, polling) and
the generic webhook, on SQLite + memory and PostgreSQL + RabbitMQ."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from botgate.testing.telegram import TelegramEmulator
from gateway.app import Runtime
from gateway.events import utcnow
from gateway.ids import new_id
from store.models import PlatformUser, UserLoginToken
from tests.support.pipeline import GenericClient, generic_bot, make_settings, message, running

ALICE = 5193846025
CODE = re.compile(r"[A-Z2-9]{4}-[A-Z2-9]{4}")
TOOLS = ["help", "remember", "link"]


@pytest.fixture
async def two_platforms(
    backend: tuple[str, str], telegram_emulator: TelegramEmulator
) -> AsyncIterator[tuple[Runtime, GenericClient]]:
    telegram = {
        "token": telegram_emulator.token,
        "mode": "polling",
        "api_base_url": telegram_emulator.api_base_url,
        "poll_timeout": "1s",
        "rate_per_chat": 1000,
    }
    bots = [  # one bot on two platforms: its notes about a person are the same on both
        generic_bot("helpdesk") | {"organization": "acme", "tools": TOOLS, "telegram": telegram},
        generic_bot("elsewhere") | {"organization": "globex", "tools": TOOLS},
    ]
    async with running(make_settings(*backend, bots=bots)) as runtime:
        client = GenericClient(runtime.http.url, bot="helpdesk")
        yield runtime, client
        await client.close()


async def on_telegram(telegram: TelegramEmulator, command: str, args: str, answer: str) -> str:
    before = len(telegram.sent(ALICE))
    await telegram.inject_command(ALICE, command, args)
    sent = await telegram.wait_for(
        ALICE, answer, count=1 + sum(answer in s.text for s in telegram.sent(ALICE)[:before])
    )
    return sent.text


async def on_web(
    client: GenericClient, text: str, user: str = "alice-web", bot: str = "helpdesk"
) -> str:
    said = message(text, user=user, channel=f"dm-{user}", event_id=str(new_id()))
    status, body = await client.post(said, bot=bot, wait=True)
    assert status == 200
    return str(body["replies"][0]["text"])


async def new_code(telegram: TelegramEmulator) -> str:
    text = await on_telegram(telegram, "link", "", "Your code is")
    found = CODE.findall(text)
    return found[-1]


async def test_notes_follow_a_person_across_platforms_once_linked(
    two_platforms: tuple[Runtime, GenericClient], telegram_emulator: TelegramEmulator
) -> None:
    runtime, web = two_platforms
    await on_telegram(telegram_emulator, "remember", "likes green tea", "Noted")
    code = await new_code(telegram_emulator)

    assert await on_web(web, "/remember") == (
        "I keep no notes about you yet. Tell me one with /remember TEXT."
    )
    assert await on_web(web, f"/link {code.lower()}") == (
        "Done: this account is now linked to your other one."
    )
    assert await on_web(web, "/remember") == "What I remember about you:\n1. likes green tea"
    assert await on_web(web, f"/link {code}") == (  # single use
        "That code is wrong, used or expired; nothing was changed."
    )
    persons = await _persons(runtime)
    assert persons["alice-web"] == persons[str(ALICE)]

    assert await on_web(web, "/unlink") == "This account is unlinked; it starts afresh with me."
    assert "no notes" in await on_web(web, "/remember")
    assert "likes green tea" in await on_telegram(
        telegram_emulator, "remember", "", "What I remember"
    )
    assert await on_web(web, "/unlink") == "This account is not linked to another one."


async def test_wrong_expired_and_foreign_codes_change_nothing_and_guessing_is_locked_out(
    two_platforms: tuple[Runtime, GenericClient], telegram_emulator: TelegramEmulator
) -> None:
    runtime, web = two_platforms
    code = await new_code(telegram_emulator)
    refused = "That code is wrong, used or expired; nothing was changed."
    assert await on_web(web, f"/link {code}", bot="elsewhere") == refused  # another organization

    async with runtime.db.transaction() as session:  # let the code expire
        await session.execute(
            update(UserLoginToken).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert await on_web(web, f"/link {code}", user="carol") == refused

    fresh = await new_code(telegram_emulator)
    for _ in range(5):
        assert await on_web(web, "/link AAAA-BBBB", user="mallory") == refused
    assert await on_web(web, f"/link {fresh}", user="mallory") == (
        "Too many wrong codes: please try again in an hour."
    )
    persons = await _persons(runtime)
    assert len({persons[str(ALICE)], persons["carol"], persons["mallory"]}) == 3
    assert await on_web(web, f"/link {fresh}", user="carol") == (  # still good for others
        "Done: this account is now linked to your other one."
    )


async def _persons(runtime: Runtime) -> dict[str, Any]:
    async with runtime.db.transaction() as session:
        rows = await session.execute(select(PlatformUser.external_id, PlatformUser.user_id))
        return dict(rows.all())
