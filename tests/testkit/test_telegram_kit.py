"""The Telegram emulator as a test kit: what python-telegram-bot's Bot gets for media,
commands, edits, methods not emulated, bad tokens and malformed requests, and the faults."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllGroupChats,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
)
from telegram.error import BadRequest, InvalidToken, NetworkError, RetryAfter, TimedOut

from botgate.testing import ManualClock, TelegramEmulator

CHAT = 42


@pytest.fixture
async def bot(telegram_emulator: TelegramEmulator) -> AsyncIterator[Bot]:
    async with Bot(
        telegram_emulator.token,
        base_url=telegram_emulator.api_base_url,
        base_file_url=telegram_emulator.file_base_url,
    ) as started:
        yield started


async def test_photos_and_documents_are_uploaded_as_multipart_and_served_back(
    telegram_emulator: TelegramEmulator, bot: Bot
) -> None:
    photo = await bot.send_photo(CHAT, b"\x89PNG image", caption="*Chart*",
                                 parse_mode="MarkdownV2", filename="chart.png")
    document = await bot.send_document(CHAT, b"a,b\n1,2\n", filename="report.csv")
    assert photo.caption == "Chart"
    assert photo.caption_entities[0].type == "bold"
    assert document.document.file_name == "report.csv"
    (call,) = telegram_emulator.calls("sendPhoto")
    assert call.headers["Content-Type"].startswith("multipart/form-data")
    downloaded = await (await bot.get_file(document.document.file_id)).download_as_bytearray()
    assert bytes(downloaded) == b"a,b\n1,2\n"
    assert [(s.text, s.files) for s in telegram_emulator.sent(CHAT)] == [
        ("Chart", ("chart.png",)), ("", ("report.csv",)),
    ]


async def test_a_media_group_is_one_message_per_item_sharing_a_group_id(
    telegram_emulator: TelegramEmulator, bot: Bot
) -> None:
    album = [InputMediaPhoto(b"one", caption="first"), InputMediaPhoto(b"two")]
    messages = await bot.send_media_group(CHAT, album)
    assert len(messages) == 2
    assert messages[0].media_group_id == messages[1].media_group_id is not None
    assert [s.text for s in telegram_emulator.sent(CHAT)] == ["first", ""]
    with pytest.raises(BadRequest, match="2-10"):
        await bot.send_media_group(CHAT, album[:1])


async def test_commands_are_kept_per_scope_and_language(bot: Bot) -> None:
    await bot.set_my_commands([BotCommand("help", "What I can do")])
    groups = BotCommandScopeAllGroupChats()
    await bot.set_my_commands([BotCommand("stats", "Chat statistics")], scope=groups)
    assert [c.command for c in await bot.get_my_commands()] == ["help"]
    assert [c.command for c in await bot.get_my_commands(scope=groups)] == ["stats"]
    await bot.delete_my_commands(scope=groups)
    assert await bot.get_my_commands(scope=groups) == ()
    with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Not Valid", "x")])


async def test_reply_markup_edits_deletions_and_chat_actions(
    telegram_emulator: TelegramEmulator, bot: Bot
) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="yes")]])
    message = await bot.send_message(CHAT, "Ready?", reply_markup=keyboard)
    assert telegram_emulator.sent(CHAT)[0].buttons == ("Yes",)
    await bot.edit_message_reply_markup(CHAT, message.message_id, reply_markup=None)
    (edited,) = telegram_emulator.sent(CHAT)
    assert (edited.buttons, edited.edited) == ((), True)
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_reply_markup(CHAT, message.message_id, reply_markup=None)
    assert await bot.send_chat_action(CHAT, "upload_photo")
    assert await bot.delete_message(CHAT, message.message_id)
    assert telegram_emulator.sent(CHAT) == []


async def test_a_method_not_emulated_is_a_bad_request_never_a_bad_token(
    telegram_emulator: TelegramEmulator, bot: Bot
) -> None:
    with pytest.raises(BadRequest, match=r"(?i)not emulated: sendpoll"):
        await bot.send_poll(CHAT, "Lunch?", ["Pizza", "Soup"])
    assert [c.name for c in telegram_emulator.not_emulated()] == ["sendPoll"]
    assert telegram_emulator.calls("sendPoll")[0].status == 400


async def test_a_wrong_token_is_telegrams_401(telegram_emulator: TelegramEmulator) -> None:
    wrong = "123456789:AAWrongTokenWrongTokenWrongToken_00"
    with pytest.raises(InvalidToken):
        async with Bot(wrong, base_url=telegram_emulator.api_base_url):
            pass
    assert telegram_emulator.calls("getMe")[0].status == 401


async def test_malformed_requests_get_telegrams_400(telegram_emulator: TelegramEmulator) -> None:
    url = f"{telegram_emulator.api_base_url}{telegram_emulator.token}"
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}/sendMessage", data=b"{not json",
                             headers={"Content-Type": "application/json"}) as response:
            assert response.status == 400
            body = await response.json()
        async with http.post(f"{url}/sendMessage", data={"chat_id": "1", "text": "x",
                                                         "reply_markup": "{oops"}) as second:
            assert second.status == 400
            refused = await second.json()
    assert body["ok"] is False
    assert body["error_code"] == 400
    assert body["description"].startswith("Bad Request: can't parse JSON")
    assert "reply_markup" in refused["description"]
    assert [c.status for c in telegram_emulator.calls("sendMessage")] == [400, 400]


async def test_an_emulator_failure_is_telegrams_500_and_is_recorded(
    telegram_emulator: TelegramEmulator, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(params: object) -> None:
        raise RuntimeError("emulator bug")

    monkeypatch.setattr(telegram_emulator, "_send_chat_action", broken)
    with pytest.raises(NetworkError, match=r"Internal Server Error|emulator error"):
        await bot.send_chat_action(CHAT, "typing")
    assert "RuntimeError('emulator bug')" in telegram_emulator.errors[0]
    assert telegram_emulator.calls("sendChatAction")[0].status == 500


async def test_rate_limits_answer_retry_after_for_the_next_n_calls(
    telegram_emulator: TelegramEmulator, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # PTB 22: retry_after as a timedelta
    telegram_emulator.rate_limit("sendMessage", retry_after=7, times=2)
    for _ in range(2):
        with pytest.raises(RetryAfter) as limited:
            await bot.send_message(CHAT, "hi")
        assert limited.value.retry_after.total_seconds() == 7
    await bot.send_message(CHAT, "hi")
    assert [c.status for c in telegram_emulator.calls("sendMessage")] == [429, 429, 200]


async def test_an_outage_lasts_for_its_duration_on_the_emulators_clock(
    telegram_emulator: TelegramEmulator, bot: Bot
) -> None:
    clock = ManualClock()
    telegram_emulator.clock = clock
    telegram_emulator.outage(seconds=600)
    for _ in range(3):
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await bot.send_message(CHAT, "anyone?")
    clock.advance(599)
    with pytest.raises(NetworkError):
        await bot.send_message(CHAT, "anyone?")
    clock.advance(1)
    await bot.send_message(CHAT, "back")
    assert [s.text for s in telegram_emulator.sent(CHAT)] == ["back"]


async def test_a_fault_until_cleared_ends_when_cleared(
    telegram_emulator: TelegramEmulator, bot: Bot
) -> None:
    fault = telegram_emulator.server_error("*", status=503, until_cleared=True)
    with pytest.raises(NetworkError):
        await bot.send_message(CHAT, "x")
    with pytest.raises(NetworkError):
        await bot.get_me()
    fault.clear()
    await bot.send_message(CHAT, "y")
    assert [c.fault for c in telegram_emulator.calls()][-3:] == ["server_error", "server_error",
                                                                  None]


async def test_latency_and_dropped_connections(
    telegram_emulator: TelegramEmulator, bot: Bot
) -> None:
    telegram_emulator.latency("sendMessage", 0.3)
    started = time.monotonic()
    await bot.send_message(CHAT, "slow")
    assert time.monotonic() - started >= 0.3
    telegram_emulator.drop("sendMessage")
    with pytest.raises((NetworkError, TimedOut)):
        await bot.send_message(CHAT, "lost")
    await bot.send_message(CHAT, "fine")
    assert [s.text for s in telegram_emulator.sent(CHAT)] == ["slow", "fine"]


async def test_wait_for_fails_with_what_was_sent_instead(
    telegram_emulator: TelegramEmulator, bot: Bot
) -> None:
    await bot.send_message(CHAT, "Hello, Alice")
    await bot.send_message(7, "elsewhere")
    with pytest.raises(BadRequest):
        await bot.send_message(CHAT, "*unclosed", parse_mode="MarkdownV2")
    with pytest.raises(AssertionError) as failed:
        await telegram_emulator.wait_for(CHAT, "Welcome", timeout=0.2)
    message = str(failed.value)
    assert "no message containing 'Welcome' to chat 42" in message
    assert "'Hello, Alice'" in message
    assert "7: 'elsewhere'" in message
    assert "sendMessage -> 400 Bad Request: can't parse entities" in message


async def test_wait_for_counts_and_sees_edits(
    telegram_emulator: TelegramEmulator, bot: Bot
) -> None:
    first = await bot.send_message(CHAT, "working")
    await bot.send_message(CHAT, "ok 1")
    await bot.send_message(CHAT, "ok 2")
    assert (await telegram_emulator.wait_for(CHAT, "ok", count=2)).text == "ok 2"
    await bot.edit_message_text("done", CHAT, first.message_id)
    assert (await telegram_emulator.wait_for(CHAT, "done")).id == str(first.message_id)


async def test_injected_updates_reach_get_updates_as_telegram_sends_them(
    telegram_emulator: TelegramEmulator, bot: Bot
) -> None:
    written = await telegram_emulator.inject_message(CHAT, "hi @botgate_test_bot")
    await telegram_emulator.inject_edit(written, "hello /start")
    message, edit = await bot.get_updates(timeout=0)
    assert message.message.text == "hi @botgate_test_bot"
    assert message.message.entities[0].type == "mention"
    assert edit.edited_message.text == "hello /start"
    assert edit.edited_message.message_id == message.message.message_id
    assert edit.edited_message.entities[0].type == "bot_command"
    assert [d.via for d in telegram_emulator.deliveries] == ["getUpdates", "getUpdates"]


async def test_a_button_that_is_not_there_names_the_ones_that_are(
    telegram_emulator: TelegramEmulator, bot: Bot
) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="y")]])
    await bot.send_message(CHAT, "Ready?", reply_markup=keyboard)
    (ready,) = telegram_emulator.sent(CHAT)
    with pytest.raises(AssertionError, match=r"no button 'Maybe'.*'Yes'"):
        await telegram_emulator.inject_button(ready, "Maybe")
