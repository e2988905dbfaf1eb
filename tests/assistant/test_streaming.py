"""Answers shown while they are written, through the whole pipeline to the Telegram emulator:
drafts in a private chat, a message edited in a group, the final text exactly the model's, and
only the final text recorded (once, with its citations)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import select

from botgate.testing.openai import OpenAIEmulator
from botgate.testing.sent import Sent
from botgate.testing.telegram import TelegramEmulator
from gateway.app import Runtime
from store.models import Message
from tests.assistant.support import assistant_table
from tests.support.pipeline import eventually, make_settings, running

SECRET = "telegram-webhook-secret"
ALICE, GROUP = 5193846025, -1001234567890
ANSWER = (
    "Refunds are issued **within 14 days**. Here is how it works, step by step, so that "
    "nothing is left out: first we check the order, then the payment, and then the refund "
    "goes back the way it came."
)


@asynccontextmanager
async def telegram_gateway(
    backend: tuple[str, str], telegram: TelegramEmulator, model: OpenAIEmulator, **table: Any
) -> AsyncIterator[Runtime]:
    bot = {
        "name": "helpdesk",
        "tools": ["help"],
        "assistant": assistant_table(model),
        "telegram": {
            "token": telegram.token,
            "webhook_secret": SECRET,
            "api_base_url": telegram.api_base_url,
            "rate_per_chat": 1000,
            "rate_per_group": 100000,
            **table,
        },
    }
    async with running(make_settings(*backend, bots=[bot])) as runtime:
        yield runtime


async def say(runtime: Runtime, telegram: TelegramEmulator, chat: int, text: str) -> None:
    url = f"{runtime.http.url}/webhooks/telegram/helpdesk"
    if chat < 0:
        telegram.chats[chat] = telegram.group(chat, "Support")
        text = f"@{telegram.bot_user['username']} {text}"
    update = telegram.message_update(
        telegram.chats.get(chat) or telegram.private_chat(telegram.user(ALICE, "Alice")),
        telegram.user(ALICE, "Alice"),
        text,
    )
    result = await telegram.post_webhook(update, url=url, secret=SECRET)
    assert result.status == 200


async def streamed(
    backend: tuple[str, str], telegram: TelegramEmulator, model: OpenAIEmulator, chat: int,
    **table: Any,
) -> tuple[Sent, list[Message]]:
    """Ask in `chat` and wait for ANSWER: the final message, and the bot's messages stored."""
    model.reply(ANSWER, per_token=0.08)
    async with telegram_gateway(backend, telegram, model, **table) as runtime:
        await say(runtime, telegram, chat, "how do refunds work?")
        final = await telegram.wait_for(chat, "goes back the way it came", timeout=20)
        await eventually(lambda: _recorded(runtime, 1))
        return final, await outbound(runtime)


async def outbound(runtime: Runtime) -> list[Message]:
    async with runtime.db.transaction() as db:
        query = select(Message).where(Message.direction == "out")
        return list((await db.execute(query)).scalars().all())


async def test_a_private_chat_sees_drafts_then_the_final_message(
    backend: tuple[str, str], telegram_emulator: TelegramEmulator,
    openai_emulator: OpenAIEmulator,
) -> None:
    telegram, model = telegram_emulator, openai_emulator
    final, stored = await streamed(backend, telegram, model, ALICE)
    drafts = telegram.drafts[ALICE]
    assert len(drafts) >= 2  # shown while written, at most about once a second
    assert len({d["draft_id"] for d in drafts}) == 1
    assert all(ANSWER.replace("**", "").startswith(d["text"]) for d in drafts)
    assert len(drafts[-1]["text"]) > len(drafts[0]["text"])
    assert final.text == ANSWER.replace("**", "")  # exactly the model's answer, rendered
    assert [e["type"] for e in final.raw["entities"]] == ["bold"]
    assert len(telegram.sent(ALICE)) == 1
    assert telegram.calls("editMessageText") == []
    assert [(m.text, m.external_id) for m in stored] == [(ANSWER, final.id)]
    request = model.calls("chat.completions")[0]
    assert request.stream is True


async def test_a_group_sees_one_message_edited_until_the_answer_is_complete(
    backend: tuple[str, str], telegram_emulator: TelegramEmulator,
    openai_emulator: OpenAIEmulator,
) -> None:
    telegram, model = telegram_emulator, openai_emulator
    final, stored = await streamed(backend, telegram, model, GROUP)
    assert telegram.drafts == {}
    [first] = telegram.calls("sendMessage")
    edits = telegram.calls("editMessageText")
    assert len(edits) >= 1
    assert len(first.params["text"]) < len(ANSWER)  # the first words, shown at once
    assert final.edited
    assert final.text == ANSWER.replace("**", "")
    assert [m.text for m in telegram.sent(GROUP)] == [final.text]
    assert [(m.text, m.external_id) for m in stored] == [(ANSWER, final.id)]


async def test_a_bot_refused_drafts_falls_back_to_edits(
    backend: tuple[str, str], telegram_emulator: TelegramEmulator,
    openai_emulator: OpenAIEmulator,
) -> None:
    telegram, model = telegram_emulator, openai_emulator
    telegram.fail("sendMessageDraft", 400, "Bad Request: method is not available",
                  until_cleared=True)
    model.reply(ANSWER, per_token=0.08)
    async with telegram_gateway(backend, telegram, model) as runtime:
        await say(runtime, telegram, ALICE, "how do refunds work?")
        final = await telegram.wait_for(ALICE, "goes back the way it came", timeout=15)
    assert len(telegram.calls("sendMessageDraft")) == 1  # tried once, then edits
    assert telegram.calls("editMessageText")
    assert final.text == ANSWER.replace("**", "")
    assert len(telegram.sent(ALICE)) == 1


async def test_a_long_streamed_answer_is_split_at_paragraphs(
    backend: tuple[str, str], telegram_emulator: TelegramEmulator,
    openai_emulator: OpenAIEmulator,
) -> None:
    telegram, model = telegram_emulator, openai_emulator
    paragraphs = [f"Paragraph {i}: " + "All good here. " * 90 for i in range(6)]
    answer = "\n\n".join(paragraphs)
    model.reply(answer, first_token=0.0, per_token=0.0005)
    async with telegram_gateway(backend, telegram, model, stream_drafts=False) as runtime:
        await say(runtime, telegram, GROUP, "tell me everything")
        await telegram.wait_for(GROUP, "Paragraph 5", timeout=15)
        await eventually(lambda: _recorded(runtime, 1))
        stored = await outbound(runtime)
    sent = telegram.sent(GROUP)
    assert len(sent) >= 2
    assert all(len(m.text) <= 4096 for m in sent)
    assert " ".join(m.text for m in sent).split() == answer.split()
    assert all(m.text.startswith("Paragraph") for m in sent)  # cut at paragraph ends
    assert [m.text for m in stored] == [answer]


async def _recorded(runtime: Runtime, count: int) -> bool:
    return len(await outbound(runtime)) >= count


async def test_a_429_on_an_edit_slows_the_stream_and_the_answer_still_completes(
    backend: tuple[str, str], telegram_emulator: TelegramEmulator,
    openai_emulator: OpenAIEmulator,
) -> None:
    telegram, model = telegram_emulator, openai_emulator
    telegram.rate_limit("editMessageText", retry_after=2, times=1)
    model.reply(ANSWER, per_token=0.1)
    async with telegram_gateway(backend, telegram, model) as runtime:
        await say(runtime, telegram, GROUP, "how do refunds work?")
        final = await telegram.wait_for(GROUP, "goes back the way it came", timeout=20)
        metrics = runtime.metrics.render().decode()
    assert final.text == ANSWER.replace("**", "")
    edits = telegram.calls("editMessageText")
    assert edits[0].status == 429
    assert 'botgate_actions_total{outcome="slowed",platform="telegram"} 1.0' in metrics
    assert len(edits) <= 5  # ~3 s of writing: a second apart at first, then two
