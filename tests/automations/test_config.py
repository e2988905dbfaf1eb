"""A wrong `[[automations]]` entry is one clear line naming the key; a right one loads."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.config import settings_from_dict
from gateway.errors import ConfigError
from tests.automations.support import digest, helpdesk


def _load(*automations: dict[str, Any]) -> None:
    settings_from_dict({"bots": [helpdesk("http://127.0.0.1:9/hook")], "automations": automations})


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"bot": "nobody"}, "automations.0.bot: no bot named 'nobody' is configured"),
        (
            {"cron": "61 9 * * MON"},
            "automations[0].cron = '61 9 * * MON': '61 9 * * MON' is not a cron expression",
        ),
        (
            {"timezone": "Mars/Olympus"},
            "automations[0].timezone = 'Mars/Olympus': 'Mars/Olympus' is not an IANA",
        ),
        ({"event": "*.helpdesk.#"}, "set either `cron` (a schedule) or `event`"),
        ({"cron": None}, "set either `cron` (a schedule) or `event`"),
        ({"tool": "help"}, "set either `send` (a message) or `tool`"),
        ({"send": None}, "set either `send` (a message) or `tool`"),
        (
            {"send": {"platform": "slack", "channel_id": "C1", "text": "hi"}},
            "automations.0.send.platform: bot 'helpdesk' is not on 'slack' (it is on: generic)",
        ),
        ({"send": {"text": "hi"}}, "needs `send.platform` and `send.channel_id`"),
        (
            {"send": None, "tool": "weather", "to": {"platform": "generic", "channel_id": "r"}},
            "automations.0.tool: bot 'helpdesk' has no tool 'weather'",
        ),
        (
            {"cron": None, "event": "*.help desk.#", "send": {"text": "hi"}},
            "automations[0].event = '*.help desk.#': '*.help desk.#' is not a routing-key pattern",
        ),
        (
            {"cron": None, "event": "#", "send": {"platform": "generic", "text": "hi"}},
            "`send.platform` needs `send.channel_id` beside it",
        ),
        ({"name": "Monday Digest"}, "automations[0].name = 'Monday Digest': must match"),
        (
            {"sned": {"text": "typo"}},
            "unknown key automations[0].sned; did you mean automations[0].send?",
        ),
    ],
)
def test_a_wrong_automation_is_one_line_naming_the_key(
    overrides: dict[str, Any], says: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        _load(digest(**overrides))
    assert says in str(raised.value)
    assert "Traceback" not in str(raised.value)


def test_names_are_unique() -> None:
    with pytest.raises(ConfigError, match="automation names must be unique; repeated: twice"):
        _load(digest(name="twice"), digest(name="twice"))


def test_scheduled_and_event_automations_load() -> None:
    welcome = {"name": "welcome", "bot": "helpdesk", "event": "*.helpdesk.member.joined"}
    _load(
        digest(),
        {**welcome, "send": {"text": "Welcome!"}},
        {**welcome, "name": "greet-tool", "send": None, "tool": "help", "args": "x"},
        digest(name="off", enabled=False),
    )
