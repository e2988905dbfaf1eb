"""Actions through the real python-telegram-bot client against the emulator."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from adapters.telegram import TelegramAdapter
from botgate.testing.telegram import TelegramEmulator
from gateway.errors import PermanentError, TransientError
from gateway.events import Action, Button
from tests.adapters.telegram.conftest import SettingsFactory
from tests.support.fake_context import FakeContext

CHAT = "5193846025"
GROUP = "-1001234567890"


def action(type: str = "message.send", channel_id: str = CHAT, **fields: Any) -> Action:
    return Action(type=type, platform="telegram", bot="helpdesk", channel_id=channel_id, **fields)


async def test_a_markdown_reply_in_a_topic_with_buttons(
    adapter: TelegramAdapter, telegram: TelegramEmulator
) -> None:
    telegram.chats[-1009876543210] = telegram.group(-1009876543210, "Forum", is_forum=True)
    asked = telegram.message(telegram.chats[-1009876543210], telegram.user(1, "A"), "/help")
    telegram.learn(telegram.update("message", asked))
    result = await adapter.send(
        action(
            channel_id="-1009876543210",
            thread_id="500",
            reply_to_id=str(asked["message_id"]),
            text="**Refunds** take 14 days (see the _policy_).",
            buttons=[
                Button(id="more", label="Tell me more"),
                Button(id="web", label="Web", url="https://x.example"),
            ],
        )
    )
    (call,) = telegram.calls("sendMessage")
    assert "parse_mode" not in call.params  # entities: nothing Telegram could fail to parse
    assert [e["type"] for e in call.params["entities"]] == ["bold", "italic"]
    assert call.params["message_thread_id"] == "500"
    assert call.params["reply_parameters"]["message_id"] == asked["message_id"]
    (sent,) = [m.raw for m in telegram.sent(-1009876543210)]
    assert result.message_id == str(sent["message_id"])
    assert sent["text"] == "Refunds take 14 days (see the policy)."
    assert [e["type"] for e in sent["entities"]] == ["bold", "italic"]
    assert sent["reply_to_message"]["message_id"] == asked["message_id"]
    assert sent["is_topic_message"] is True
    assert sent["reply_markup"]["inline_keyboard"] == [
        [{"text": "Tell me more", "callback_data": "more"}],
        [{"text": "Web", "url": "https://x.example"}],
    ]


async def test_plain_text_is_sent_without_entities(
    adapter: TelegramAdapter, telegram: TelegramEmulator
) -> None:
    await adapter.send(action(text="1 * 2 = [2]", format="plain"))
    (call,) = telegram.calls("sendMessage")
    assert "parse_mode" not in call.params
    assert "entities" not in call.params
    assert telegram.sent(CHAT)[0].text == "1 * 2 = [2]"


async def test_a_long_text_is_split_and_every_part_recorded(
    adapter: TelegramAdapter, telegram: TelegramEmulator
) -> None:
    paragraphs = [f"Part {i}: " + "All good. " * 150 for i in range(8)]
    result = await adapter.send(
        action(
            text="\n\n".join(paragraphs), reply_to_id="4211", buttons=[Button(id="ok", label="OK")]
        )
    )
    sent = [m.raw for m in telegram.sent(CHAT)]
    assert len(sent) == 4  # two paragraphs of ~1500 characters fit in each part
    assert all(message["text"].endswith("All good.") for message in sent)
    assert all(len(message["text"]) <= 4096 for message in sent)
    assert [result.message_id, *result.extra_message_ids] == [str(m["message_id"]) for m in sent]
    calls = telegram.calls("sendMessage")
    assert [("reply_parameters" in c.params, "reply_markup" in c.params) for c in calls] == [
        (True, False),
        (False, False),
        (False, False),
        (False, True),
    ]


async def test_edit_delete_react_and_typing(
    adapter: TelegramAdapter, telegram: TelegramEmulator
) -> None:
    sent = await adapter.send(action(text="first"))
    await adapter.send(action("message.edit", message_id=sent.message_id, text="second *try*"))
    assert telegram.sent(CHAT)[0].text == "second try"
    unchanged = await adapter.send(
        action("message.edit", message_id=sent.message_id, text="second *try*")
    )
    assert unchanged.message_id == sent.message_id  # "message is not modified" is no failure
    await adapter.send(action("reaction.add", message_id=sent.message_id, emoji="👍"))
    assert telegram.reactions[(int(CHAT), int(sent.message_id or 0))] == [
        {"type": "emoji", "emoji": "👍"}
    ]
    await adapter.send(action("typing", channel_id=GROUP, thread_id="7"))
    assert telegram.calls("sendChatAction")[0].params == {
        "chat_id": GROUP,
        "action": "typing",
        "message_thread_id": "7",
    }
    await adapter.send(action("message.delete", message_id=sent.message_id))
    await adapter.send(action("message.delete", message_id=sent.message_id))  # already gone: fine
    assert telegram.sent(CHAT) == []


async def test_a_reaction_telegram_does_not_allow_is_permanent(adapter: TelegramAdapter) -> None:
    sent = await adapter.send(action(text="x"))
    with pytest.raises(PermanentError, match=r"(?i)reaction_invalid"):
        await adapter.send(action("reaction.add", message_id=sent.message_id, emoji="🦆"))


async def test_a_429_is_waited_out_and_retried(
    adapter: TelegramAdapter, telegram: TelegramEmulator
) -> None:
    telegram.rate_limit("sendMessage", retry_after=1)
    started = time.monotonic()
    result = await adapter.send(action(text="hello"))
    assert time.monotonic() - started >= 1.0
    assert len(telegram.calls("sendMessage")) == 2
    assert result.message_id == telegram.sent(CHAT)[0].id


async def test_a_long_429_goes_back_to_the_runner(
    telegram: TelegramEmulator, make_settings: SettingsFactory
) -> None:
    settings = make_settings(max_retry_wait="2s")
    adapter = TelegramAdapter(settings.bots[0], settings)
    await adapter.start(FakeContext(settings, receives=False))
    telegram.rate_limit("sendMessage", retry_after=30)
    try:
        with pytest.raises(TransientError) as caught:
            await adapter.send(action(text="hello"))
    finally:
        await adapter.stop()
    assert caught.value.retry_after == 30


async def test_a_blocked_user_fails_for_good_and_does_not_stall_other_chats(
    adapter: TelegramAdapter, telegram: TelegramEmulator
) -> None:
    telegram.block(CHAT)
    telegram.remove_chat(-4000000001)
    outcomes = await asyncio.gather(
        adapter.send(action(text="to the blocker")),
        adapter.send(action(channel_id="-4000000001", text="to a lost group")),
        adapter.send(action(channel_id=GROUP, text="to the group")),
        return_exceptions=True,
    )
    assert isinstance(outcomes[0], PermanentError)
    assert "blocked by the user" in str(outcomes[0])
    assert isinstance(outcomes[1], PermanentError)
    assert "chat not found" in str(outcomes[1]).lower()
    assert [m.text for m in telegram.sent(GROUP)] == ["to the group"]


async def test_sends_to_one_chat_keep_to_its_rate(
    telegram: TelegramEmulator, make_settings: SettingsFactory
) -> None:
    settings = make_settings(rate_per_chat=4)
    adapter = TelegramAdapter(settings.bots[0], settings)
    await adapter.start(FakeContext(settings, receives=False))
    started = time.monotonic()
    try:
        for index in range(5):
            await adapter.send(action(text=f"message {index}"))
        elapsed = time.monotonic() - started
        await adapter.send(action(channel_id=GROUP, text="another chat"))
    finally:
        await adapter.stop()
    assert elapsed >= 1.0  # five at four a second
    assert [m.text for m in telegram.sent(CHAT)] == [f"message {i}" for i in range(5)]
    assert [m.text for m in telegram.sent(GROUP)] == ["another chat"]


async def test_an_unreachable_api_is_transient(make_settings: SettingsFactory) -> None:
    settings = make_settings(api_base_url="http://127.0.0.1:9/bot", request_timeout="1s")
    adapter = TelegramAdapter(settings.bots[0], settings)
    await adapter.start(FakeContext(settings, receives=False))
    try:
        with pytest.raises(TransientError):
            await adapter.send(action(text="hello"))
    finally:
        await adapter.stop()


async def test_sending_before_start_is_transient(make_settings: SettingsFactory) -> None:
    settings = make_settings()
    with pytest.raises(TransientError, match="not started"):
        await TelegramAdapter(settings.bots[0], settings).send(action(text="x"))


async def test_ids_that_are_not_telegram_ids_are_permanent(adapter: TelegramAdapter) -> None:
    with pytest.raises(PermanentError, match="message id"):
        await adapter.send(action("message.delete", message_id="C024:1700000000.1"))
    with pytest.raises(PermanentError, match="topic id"):
        await adapter.send(action(text="x", thread_id="1700000010.000200"))
