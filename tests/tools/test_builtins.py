"""The built-in tools through the whole pipeline, on SQLite + memory and PostgreSQL + RabbitMQ:
help, notes (remember / forget) with their limits, language, tools a session attaches, and
what unknown or oversized commands get."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.app import Runtime
from gateway.ids import new_id
from store import people
from store.models import Bot, PlatformUser
from tests.support.pipeline import GenericClient, generic_bot, make_settings, message, running

TOOLS = ["help", "remember", "lang", "support"]
FALLBACK = "Sorry, I don't know that yet. Type /help to see what I can do."


@pytest.fixture
async def bot(backend: tuple[str, str]) -> AsyncIterator[tuple[Runtime, GenericClient]]:
    tools = {
        "support": {"kind": "python", "entry": "tests.tools.support:support"},
        "escalate": {"kind": "python", "entry": "tests.tools.support:escalate"},
        "silent": {"kind": "bus", "timeout": "300ms", "description": "nobody listens"},
    }
    config = generic_bot("helpdesk") | {"tools": [*TOOLS, "silent"]}
    async with running(make_settings(*backend, bots=[config], tools=tools)) as runtime:
        client = GenericClient(runtime.http.url)
        yield runtime, client
        await client.close()


async def say(client: GenericClient, text: str, user: str = "alice") -> str:
    said = message(text, user=user, channel=f"dm-{user}", event_id=str(new_id()))
    status, body = await client.post(said, wait=True)
    assert status == 200
    return "\n".join(reply["text"] for reply in body["replies"])


async def test_notes_are_kept_listed_and_forgotten(bot: tuple[Runtime, GenericClient]) -> None:
    _, client = bot
    assert await say(client, "/remember") == (
        "I keep no notes about you yet. Tell me one with /remember TEXT."
    )
    assert "1 note" in await say(client, "/remember likes *green* tea")
    assert "2 note" in await say(client, "/remember lives in Lyon")
    assert await say(client, "/remember") == (
        "What I remember about you:\n1. likes *green* tea\n2. lives in Lyon"
    )
    assert await say(client, "/remember", user="bob") == (
        "I keep no notes about you yet. Tell me one with /remember TEXT."
    )  # notes are the person's
    assert await say(client, "/forget 1") == "Forgotten: likes *green* tea"
    assert "Which one?" in await say(client, "/forget 7")
    assert await say(client, "/forget all") == "I forgot all 1 note(s) about you."
    assert "no notes" in await say(client, "/remember")


async def test_note_limits_are_answered_clearly(bot: tuple[Runtime, GenericClient]) -> None:
    runtime, client = bot
    assert "at most 1000 characters" in await say(client, "/remember " + "x" * 1001)
    await say(client, "/remember the first")
    async with runtime.db.transaction() as session:  # fill up to the limit
        [(bot_id, user_id)] = await _person_of(session, "alice")
        for n in range(99):
            await people.add_note(session, bot_id, user_id, None, f"fill-{n}", f"note {n}")
    assert await say(client, "/remember one too many") == (
        "I keep at most 100 notes about you; /forget one first."
    )


async def test_a_note_is_kept_once_when_its_call_is_answered_again(
    bot: tuple[Runtime, GenericClient],
) -> None:
    runtime, client = bot
    await say(client, "/help")
    async with runtime.db.transaction() as session:
        [(bot_id, user_id)] = await _person_of(session, "alice")
        call = str(new_id())
        assert await people.add_note(session, bot_id, user_id, None, call, "once")
        assert not await people.add_note(session, bot_id, user_id, None, call, "once")
        assert [n.text for n in await people.notes(session, bot_id, user_id)] == ["once"]


async def test_the_language_chosen_is_used_by_replies_with_translations(
    bot: tuple[Runtime, GenericClient],
) -> None:
    _, client = bot
    assert await say(client, "/lang de") == "Ab jetzt antworte ich dir auf Deutsch."
    assert (await say(client, "/help")).startswith("Das kann ich für dich tun:\n/help — zeigt")
    assert "Ich antworte dir auf Deutsch" in await say(client, "/lang")
    assert await say(client, "/lang tlh") == "tlh spreche ich noch nicht. Ich kann: en, de, es, fr."
    assert (await say(client, "/help", user="bob")).startswith("Here is what I can do:")


async def test_help_lists_the_tools_a_session_attached_in_that_session_only(
    bot: tuple[Runtime, GenericClient],
) -> None:
    _, client = bot
    assert "/escalate" not in await say(client, "/help")
    assert await say(client, "/escalate") == FALLBACK  # not this bot's tool, yet
    assert await say(client, "/support") == "support started; also: escalate"
    help_text = await say(client, "/help")
    assert help_text.endswith(
        "In this conversation also:\n/escalate — hand the conversation to a person"
    )
    assert await say(client, "/escalate") == "a person will answer you shortly"
    assert "/escalate" not in await say(client, "/help", user="bob")  # another session


async def test_unknown_oversized_and_unanswered_commands_get_clear_answers(
    bot: tuple[Runtime, GenericClient],
) -> None:
    _, client = bot
    assert await say(client, "/nope") == FALLBACK
    assert await say(client, "/remember " + "x" * 4001) == (
        "That is too long for /remember: at most 4,000 characters, please."
    )
    assert await say(client, "/silent hello?") == (  # a bus tool nobody serves: its timeout
        "Sorry, /silent is not working right now. Please try again in a moment."
    )
    assert "/help" in await say(client, "/help")  # and the conversation goes on


async def _person_of(session: AsyncSession, external: str) -> list[tuple[Any, Any]]:
    """(the bot's id, the person's id) of the user `external` talking to the one bot."""
    query = (
        select(Bot.id, PlatformUser.user_id)
        .join(Bot, Bot.name == "helpdesk")
        .where(PlatformUser.external_id == external)
    )
    return [tuple(row) for row in (await session.execute(query)).all()]
