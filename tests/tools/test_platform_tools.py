"""The registry on the platforms: Telegram's command menu is set from it only when it changed,
and a button whose id names a tool runs that tool (the click is recorded)."""

from __future__ import annotations

from sqlalchemy import select

from adapters.telegram import TelegramAdapter
from botgate.testing.telegram import TelegramEmulator
from gateway.config import Settings, settings_from_dict
from store.models import Click
from tests.support.fake_context import FakeContext
from tests.support.pipeline import count_rows, eventually, make_settings, running

ALICE = 5193846025


def telegram_settings(telegram: TelegramEmulator, tools: list[str]) -> Settings:
    table = {"token": telegram.token, "api_base_url": telegram.api_base_url, "mode": "webhook"}
    return settings_from_dict({"bots": [{"name": "helpdesk", "tools": tools, "telegram": table}]})


async def start_and_stop(settings: Settings, context: FakeContext) -> None:
    adapter = TelegramAdapter(settings.bots[0], settings)
    await adapter.start(context)
    await adapter.stop()


async def test_the_command_menu_is_set_from_the_registry_only_when_it_changed(
    telegram_emulator: TelegramEmulator,
) -> None:
    settings = telegram_settings(telegram_emulator, ["help", "lang"])
    context = FakeContext(settings, receives=True)
    await start_and_stop(settings, context)
    await start_and_stop(settings, context)  # a restart: the same menu, not set again
    [first] = telegram_emulator.calls("setMyCommands")
    assert first.params["commands"] == [
        {"command": "help", "description": "list what I can do"},
        {"command": "lang", "description": "choose the language I answer in"},
    ]

    changed = telegram_settings(telegram_emulator, ["help", "remember"])
    await start_and_stop(changed, FakeContext(changed, receives=True, states=context.states))
    commands = telegram_emulator.calls("setMyCommands")[-1].params["commands"]
    assert len(telegram_emulator.calls("setMyCommands")) == 2
    assert [c["command"] for c in commands] == ["help", "remember", "forget"]


async def test_a_button_whose_id_names_a_tool_runs_it(
    backend: tuple[str, str], telegram_emulator: TelegramEmulator
) -> None:
    table = {
        "token": telegram_emulator.token,
        "api_base_url": telegram_emulator.api_base_url,
        "mode": "polling",
        "poll_timeout": "1s",
        "rate_per_chat": 1000,
    }
    bot = {"name": "helpdesk", "tools": ["help", "echo"], "telegram": table}
    tools = {"echo": {"kind": "python", "entry": "tests.tools.support:echo"}}
    async with running(make_settings(*backend, bots=[bot], tools=tools)) as runtime:
        await telegram_emulator.inject_command(ALICE, "echo", "ok")
        offer = await telegram_emulator.wait_for(ALICE, "ok for")
        assert offer.buttons == ("Help",)
        await telegram_emulator.inject_button(offer, "Help")
        answer = await telegram_emulator.wait_for(ALICE, "Here is what I can do")
        await eventually(lambda: _has_click(runtime))
        async with runtime.db.transaction() as db:
            click = (await db.execute(select(Click))).scalar_one()
    assert "/echo" in answer.text
    assert (click.interaction_id, click.message_external_id) == ("help", offer.id)


async def _has_click(runtime: object) -> bool:
    return await count_rows(runtime, "clicks") == 1  # type: ignore[arg-type]
