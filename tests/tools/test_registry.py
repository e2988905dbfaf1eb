"""The registry is the one source of every bot's tools: names are checked when the config is
read, and `basic_tools` mirrors it (every tool, active where the bot lists it)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gateway.config import settings_from_dict
from gateway.errors import ConfigError
from store.models import BasicTool, Bot
from tests.support.pipeline import generic_bot, make_settings, running


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"bots": [{"name": "b", "tools": ["help", "nope"]}]},
            "bots[0].tools[1] = 'nope': unknown tool; a built-in (forget, help, kb, "
            "lang, link, remember, unlink) or a [tools.nope] table",
        ),
        (
            {"tools": {"Bad Name": {"kind": "bus"}}},
            "tool name 'Bad Name' must match",
        ),
        (
            {"tools": {"weather": {"kind": "http", "url": "http://x"}}},
            "[tools.weather]: an http tool needs `url` and `secret`",
        ),
        (
            {"tools": {"dice": {"kind": "python", "entry": "no colon"}}},
            "tools.dice.entry = 'no colon': must match",
        ),
    ],
)
def test_tool_names_and_tables_are_checked_with_the_key_named(
    config: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        settings_from_dict(config)
    assert message in str(raised.value)


async def test_basic_tools_mirror_the_registry(database_url: str, memory_url: str) -> None:
    tools = {"escalate": {"kind": "python", "entry": "tests.tools.support:escalate"}}
    bots = [generic_bot("helpdesk") | {"tools": ["help", "remember"]}]
    settings = make_settings(database_url, memory_url, bots=bots, tools=tools)
    async with running(settings) as runtime, runtime.db.transaction() as db:
        rows = (
            await db.execute(
                select(BasicTool.name, BasicTool.is_active, BasicTool.description)
                .join(Bot)
                .where(Bot.name == "helpdesk")
            )
        ).all()
    mirrored = {name: (active, description) for name, active, description in rows}
    assert set(mirrored) == {
        "help",
        "kb",
        "remember",
        "forget",
        "link",
        "unlink",
        "lang",
        "escalate",
    }
    assert {name for name, (active, _) in mirrored.items() if active} == {
        "help",
        "remember",
        "forget",
    }
    assert mirrored["escalate"] == (False, "hand the conversation to a person")
