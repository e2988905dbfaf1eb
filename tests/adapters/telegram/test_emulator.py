"""The emulator speaks the Bot API as python-telegram-bot expects it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from telegram import Bot
from telegram.error import BadRequest, Conflict, InvalidToken

from botgate.testing.telegram import SECRET_HEADER, TelegramEmulator


@pytest.fixture
async def bot(telegram: TelegramEmulator) -> AsyncIterator[Bot]:
    async with Bot(
        telegram.token, base_url=telegram.api_base_url, base_file_url=telegram.file_base_url
    ) as client:
        yield client


async def test_get_me_and_a_wrong_token(telegram: TelegramEmulator, bot: Bot) -> None:
    assert (bot.id, bot.username) == (123456789, "botgate_test_bot")
    with pytest.raises(InvalidToken):
        async with Bot("1:wrong", base_url=telegram.api_base_url):
            pass


async def test_markdown_v2_is_checked_like_telegram_checks_it(bot: Bot) -> None:
    with pytest.raises(BadRequest, match="reserved and must be escaped"):
        await bot.send_message(42, "1.5", parse_mode="MarkdownV2")
    with pytest.raises(BadRequest, match=r"(?i)can.t find end of bold entity"):
        await bot.send_message(42, "*open", parse_mode="MarkdownV2")
    with pytest.raises(BadRequest, match="too long"):
        await bot.send_message(42, "x" * 4097)


async def test_get_updates_conflicts_with_a_webhook_and_confirms_by_offset(
    telegram: TelegramEmulator, bot: Bot
) -> None:
    await bot.set_webhook("https://bots.example.com/hook", secret_token="abc")
    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates()
    assert (await bot.get_webhook_info()).url == "https://bots.example.com/hook"
    await bot.delete_webhook()
    alice = telegram.user(7, "Alice")
    for text in ("one", "two"):
        await telegram.deliver(telegram.message_update(telegram.private_chat(alice), alice, text))
    first = await bot.get_updates(timeout=0)
    assert [u.message.text for u in first if u.message] == ["one", "two"]
    assert await bot.get_updates(offset=first[-1].update_id + 1, timeout=0) == ()
    assert telegram.pending_updates == []


async def test_webhook_delivery_carries_the_secret_and_runs_the_answer_method(
    telegram: TelegramEmulator, bot: Bot
) -> None:
    seen: list[str | None] = []

    async def hook(request: web.Request) -> web.Response:
        seen.append(request.headers.get(SECRET_HEADER))
        update = await request.json()
        query = update["callback_query"]["id"]
        return web.json_response({"method": "answerCallbackQuery", "callback_query_id": query})

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
        await bot.set_webhook(url, secret_token="s3cret")
        sent = await bot.send_message(7, "Pick one")
        alice = telegram.user(7, "Alice")
        update = telegram.callback_update(sent.to_dict(), alice, "more")
        result = await telegram.deliver(update)
    finally:
        await runner.cleanup()
    assert result is not None
    assert result.status == 200
    assert seen == ["s3cret"]
    assert telegram.calls("answerCallbackQuery")[0].via == "webhook"
    assert update["callback_query"]["id"] in telegram.answered


async def test_files_are_served(telegram: TelegramEmulator, bot: Bot) -> None:
    telegram.add_file("doc-1", b"%PDF-1.7 hello", "documents/file_1.pdf")
    file = await bot.get_file("doc-1")
    assert file.file_size == 14
    assert bytes(await file.download_as_bytearray()) == b"%PDF-1.7 hello"
    with pytest.raises(BadRequest, match=r"(?i)invalid file_id"):
        await bot.get_file("nope")


async def test_edits_of_unknown_or_unchanged_messages_are_refused(bot: Bot) -> None:
    sent = await bot.send_message(42, "same")
    with pytest.raises(BadRequest, match="not modified"):
        await bot.edit_message_text("same", chat_id=42, message_id=sent.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", chat_id=42, message_id=99999)
