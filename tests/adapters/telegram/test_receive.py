"""start/stop: webhook registration and the long-polling loop publishing into a fake context."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from adapters.telegram import TelegramAdapter
from adapters.telegram.normalise import DEFAULT_UPDATES
from botgate.testing.telegram import TelegramEmulator
from gateway.config import Settings
from tests.adapters.telegram.conftest import SettingsFactory
from tests.adapters.telegram.payloads import SECRET, payload
from tests.support.fake_context import FakeContext

STATE = ("telegram", "helpdesk")


@asynccontextmanager
async def running(settings: Settings, context: FakeContext) -> AsyncIterator[TelegramAdapter]:
    adapter = TelegramAdapter(settings.bots[0], settings)
    adapter.poll_backoff = (0.05, 0.2)
    await adapter.start(context)
    try:
        yield adapter
    finally:
        await adapter.stop()


async def test_webhook_mode_registers_the_webhook_with_the_secret(
    telegram: TelegramEmulator, make_settings: SettingsFactory
) -> None:
    settings = make_settings(server={"public_url": "https://bots.example.com/"})
    async with running(settings, FakeContext(settings)):
        pass
    (call,) = telegram.calls("setWebhook")
    assert call.params["url"] == "https://bots.example.com/webhooks/telegram/helpdesk"
    assert call.params["secret_token"] == SECRET
    assert call.params["allowed_updates"] == list(DEFAULT_UPDATES)
    assert telegram.webhook.url == "https://bots.example.com/webhooks/telegram/helpdesk"


async def test_a_process_that_does_not_receive_registers_nothing(
    telegram: TelegramEmulator, make_settings: SettingsFactory
) -> None:
    settings = make_settings(server={"public_url": "https://bots.example.com"})
    async with running(settings, FakeContext(settings, receives=False)):
        pass
    assert telegram.calls("setWebhook") == []
    assert [c.api_method for c in telegram.calls()] == ["getMe"]


async def test_polling_deletes_the_webhook_then_publishes_updates_in_order(
    telegram: TelegramEmulator, make_settings: SettingsFactory
) -> None:
    telegram.webhook.url = "https://old.example.com/hook"
    settings = make_settings(mode="polling")
    context = FakeContext(settings)
    async with running(settings, context):
        await telegram.wait_for_calls("getUpdates")
        for name in ("private_text", "group_command", "photo"):
            await telegram.deliver(payload(name))
        events = await context.wait_for_events(3)
        await telegram.wait_until(
            lambda: (context.states.get(STATE) or {}).get("offset") == 815726192
        )
    methods = [c.api_method for c in telegram.calls()]
    assert methods.index("deleteWebhook") < methods.index("getUpdates")
    assert [e.dedupe_key.rsplit(":", 1)[1] for e in events] == [
        "815726184",
        "815726185",
        "815726191",
    ]
    assert telegram.calls("getUpdates")[0].params["allowed_updates"] == list(DEFAULT_UPDATES)


async def test_a_callback_query_from_polling_is_answered(
    telegram: TelegramEmulator, make_settings: SettingsFactory
) -> None:
    settings = make_settings(mode="polling")
    context = FakeContext(settings)
    async with running(settings, context):
        await telegram.deliver(payload("callback_query"))
        (event,) = await context.wait_for_events(1)
        await telegram.wait_for_calls("answerCallbackQuery")
    assert event.type == "interaction.clicked"
    assert "4382bfdwdsb323b2d9" in telegram.answered


async def test_a_restart_neither_loses_nor_repeats_updates(
    telegram: TelegramEmulator, make_settings: SettingsFactory
) -> None:
    settings = make_settings(mode="polling")
    context = FakeContext(settings)
    async with running(settings, context):
        await telegram.deliver(payload("private_text", update_id=10))
        await context.wait_for_events(1)
        await telegram.wait_until(lambda: _offset(context) == 11)
    await telegram.deliver(payload("group_command", update_id=11))  # while nobody polls
    await telegram.deliver(payload("photo", update_id=12))
    async with running(settings, context):
        await context.wait_for_events(3)
        await telegram.wait_until(lambda: _offset(context) == 13)
        # The next poll confirms 11 and 12 to Telegram, which then forgets them.
        await telegram.wait_until(
            lambda: telegram.calls("getUpdates")[-1].params.get("offset") == "13"
        )
        assert telegram.pending_updates == []
    assert [e.dedupe_key for e in context.events] == [
        f"telegram:helpdesk:update:{n}" for n in (10, 11, 12)
    ]


async def test_the_offset_is_saved_only_after_the_bus_confirmed(
    telegram: TelegramEmulator, make_settings: SettingsFactory
) -> None:
    settings = make_settings(mode="polling")
    context = FakeContext(settings, refuse_publishes=2)
    async with running(settings, context):
        await telegram.deliver(payload("private_text", update_id=20))
        await telegram.deliver(payload("group_command", update_id=21))
        await context.wait_for_events(2)
        await telegram.wait_until(lambda: _offset(context) == 22)
    assert [e.dedupe_key.rsplit(":", 1)[1] for e in context.events] == ["20", "21"]
    offsets = [save["offset"] for save in context.saves if "offset" in save]
    assert offsets == [22]  # never past an unpublished update


async def test_unknown_updates_advance_the_offset_without_events(
    telegram: TelegramEmulator, make_settings: SettingsFactory
) -> None:
    settings = make_settings(mode="polling", allowed_updates=["message", "business_connection"])
    context = FakeContext(settings)
    async with running(settings, context):
        await telegram.deliver(payload("unknown_update", update_id=30))
        await telegram.wait_until(lambda: _offset(context) == 31)
    assert context.events == []


async def test_polling_survives_a_failing_api(
    telegram: TelegramEmulator, make_settings: SettingsFactory
) -> None:
    telegram.fail("getUpdates", 502, "Bad Gateway", times=2)
    settings = make_settings(mode="polling")
    context = FakeContext(settings)
    async with running(settings, context):
        await telegram.deliver(payload("private_text", update_id=40))
        (event,) = await context.wait_for_events(1)
    assert event.dedupe_key.endswith(":40")
    assert len(telegram.calls("getUpdates")) >= 3


async def test_get_me_is_cached_for_parsing(
    telegram: TelegramEmulator, make_settings: SettingsFactory
) -> None:
    settings = make_settings()
    async with running(settings, FakeContext(settings, receives=False)) as adapter:
        assert (adapter.identity.user_id, adapter.identity.username) == (
            123456789,
            "botgate_test_bot",
        )
    assert len(telegram.calls("getMe")) == 1


def _offset(context: FakeContext) -> object:
    return (context.states.get(STATE) or {}).get("offset")  # beside it: the commands' hash
