"""Actions through slack_sdk's AsyncWebClient against the emulator."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from adapters.slack import SlackAdapter
from botgate.testing.slack import SlackEmulator
from gateway.errors import ConfigError, PermanentError, TransientError
from gateway.events import Action, Button
from tests.adapters.slack.support import settings_for
from tests.support.fake_context import FakeContext

CHANNEL = "C024BE91L"


def action(kind: str = "message.send", **fields: Any) -> Action:
    base: dict[str, Any] = {
        "type": kind,
        "platform": "slack",
        "bot": "helpdesk",
        "channel_id": CHANNEL,
    }
    return Action.model_validate({**base, **fields})


async def test_start_learns_the_bots_user_id(adapter: SlackAdapter, slack: SlackEmulator) -> None:
    assert adapter.bot_user_id == slack.bot_user_id
    (call,) = slack.calls("auth.test")
    assert call.token == slack.bot_token


async def test_send_in_a_thread_records_the_ts(adapter: SlackAdapter, slack: SlackEmulator) -> None:
    thread = "1700000010.000200"
    result = await adapter.send(action(text="**Refunds** in _14 days_", thread_id=thread))
    (stored,) = slack.posted(CHANNEL)
    assert result.message_id == stored["ts"]
    assert stored["thread_ts"] == "1700000010.000200"
    assert stored["text"] == "*Refunds* in _14 days_"
    (call,) = slack.calls("chat.postMessage")
    assert call.params["channel"] == CHANNEL
    assert "blocks" not in call.params


async def test_plain_text_is_escaped(adapter: SlackAdapter, slack: SlackEmulator) -> None:
    await adapter.send(action(text="**a** <b> & c", format="plain"))
    assert slack.posted(CHANNEL)[0]["text"] == "**a** &lt;b&gt; &amp; c"


async def test_buttons_become_an_actions_block(adapter: SlackAdapter, slack: SlackEmulator) -> None:
    buttons = [
        Button(id="more", label="Tell me more"),
        Button(id="docs", label="Docs", url="https://example.com"),
    ]
    await adapter.send(action(text="Refunds take 14 days.", buttons=buttons))
    section, actions = slack.posted(CHANNEL)[0]["blocks"]
    assert section["text"] == {"type": "mrkdwn", "text": "Refunds take 14 days."}
    more, docs = actions["elements"]
    assert (more["action_id"], more["value"]) == ("more", "more")
    assert more["text"]["text"] == "Tell me more"
    assert docs["url"] == "https://example.com"


async def test_a_long_text_is_sent_in_parts(adapter: SlackAdapter, slack: SlackEmulator) -> None:
    line = "x" * 999 + "\n"
    result = await adapter.send(action(text=line * 50))
    first, second = slack.posted(CHANNEL)
    assert len(first["text"]) <= 40_000
    assert len(second["text"]) > 0
    assert (result.message_id, result.extra_message_ids) == (first["ts"], (second["ts"],))


async def test_edit_delete_and_react(adapter: SlackAdapter, slack: SlackEmulator) -> None:
    ts = (await adapter.send(action(text="draft"))).message_id
    edited = await adapter.send(action("message.edit", message_id=ts, text="**final**"))
    assert edited.message_id == ts
    assert slack.messages[(CHANNEL, ts)]["text"] == "*final*"
    await adapter.send(action("reaction.add", message_id=ts, emoji=":white_check_mark:"))
    await adapter.send(action("reaction.add", message_id=ts, emoji="👍"))
    await adapter.send(action("reaction.add", message_id=ts, emoji="+1"))  # already_reacted: fine
    assert slack.reactions[(CHANNEL, ts)] == ["white_check_mark", "+1"]
    await adapter.send(action("message.delete", message_id=ts))
    assert (CHANNEL, ts) not in slack.messages


async def test_typing_calls_nothing(adapter: SlackAdapter, slack: SlackEmulator) -> None:
    before = len(slack.requests)
    await adapter.send(action("typing"))
    assert len(slack.requests) == before


@pytest.mark.parametrize(
    ("setup", "error"),
    [
        (lambda s: None, "channel_not_found"),
        (lambda s: s.add_channel("C0GONE", kind="channel", is_member=False), "not_in_channel"),
        (lambda s: s.add_channel("C0GONE", is_archived=True), "is_archived"),
    ],
)
async def test_permanent_refusals(
    adapter: SlackAdapter, slack: SlackEmulator, setup: Any, error: str
) -> None:
    setup(slack)
    with pytest.raises(PermanentError, match=error):
        await adapter.send(action(channel_id="C0GONE", text="hello"))
    assert slack.posted("C0GONE") == []


async def test_editing_a_missing_message_is_permanent(adapter: SlackAdapter) -> None:
    with pytest.raises(PermanentError, match="message_not_found"):
        await adapter.send(action("message.edit", message_id="1.000001", text="x"))


async def test_an_edit_without_a_target_is_permanent(adapter: SlackAdapter) -> None:
    with pytest.raises(PermanentError, match="message_id"):
        await adapter.send(action("message.edit", text="x"))


@pytest.mark.parametrize(
    ("error", "status"),
    [("internal_error", 200), ("fatal_error", 500), ("service_unavailable", 503)],
)
async def test_transient_failures(
    adapter: SlackAdapter, slack: SlackEmulator, error: str, status: int
) -> None:
    slack.fail("chat.postMessage", error, status=status)
    with pytest.raises(TransientError, match=error):
        await adapter.send(action(text="hello"))
    await adapter.send(action(text="hello"))  # the next attempt goes through
    assert len(slack.posted(CHANNEL)) == 1


async def test_one_429_is_waited_out(adapter: SlackAdapter, slack: SlackEmulator) -> None:
    slack.rate_limit("chat.postMessage", retry_after=1)
    started = time.monotonic()
    result = await adapter.send(action(text="hello"))
    assert time.monotonic() - started >= 1.0
    assert len(slack.calls("chat.postMessage")) == 2
    assert result.message_id == slack.posted(CHANNEL)[0]["ts"]


async def test_a_second_429_goes_to_the_runner_with_retry_after(
    adapter: SlackAdapter, slack: SlackEmulator
) -> None:
    slack.rate_limit("chat.postMessage", retry_after=1, times=2)
    with pytest.raises(TransientError) as caught:
        await adapter.send(action(text="hello"))
    assert caught.value.retry_after == 1.0
    assert slack.posted(CHANNEL) == []


@pytest.fixture
async def paced(slack: SlackEmulator) -> AsyncIterator[SlackAdapter]:
    settings = settings_for(slack.api_url, send_interval="300ms")
    adapter = SlackAdapter(settings.bots[0], settings)
    await adapter.start(FakeContext(settings, receives=False))
    yield adapter
    await adapter.stop()


async def test_about_one_message_per_interval_per_channel(
    paced: SlackAdapter, slack: SlackEmulator
) -> None:
    slack.add_channel("C0OTHER")
    started = time.monotonic()
    await paced.send(action(text="one"))
    two = asyncio.create_task(paced.send(action(text="two")))  # waits for the interval
    await asyncio.sleep(0.05)  # "two" is queued first: a shared pace would send it first
    await paced.send(action(channel_id="C0OTHER", text="elsewhere"))
    await two
    elapsed = time.monotonic() - started
    posted = sorted([*slack.posted(CHANNEL), *slack.posted("C0OTHER")], key=lambda m: m["ts"])
    # the emulator's timestamps increase with each post: this is the order they arrived in
    assert [m["text"] for m in posted] == ["one", "elsewhere", "two"]  # "elsewhere" did not wait
    assert elapsed >= 0.3  # "two" waited for its channel's interval


async def test_a_refused_token_fails_start(slack: SlackEmulator) -> None:
    settings = settings_for(slack.api_url, bot_token="xoxb-revoked")
    adapter = SlackAdapter(settings.bots[0], settings)
    with pytest.raises(ConfigError, match="invalid_auth"):
        await adapter.start(FakeContext(settings, receives=False))
    with pytest.raises(TransientError, match="not started"):
        await adapter.send(action(text="hello"))


async def test_an_unreachable_slack_does_not_fail_start() -> None:
    settings = settings_for("http://127.0.0.1:9/api/")
    adapter = SlackAdapter(settings.bots[0], settings)
    await adapter.start(FakeContext(settings, receives=False))
    try:
        assert adapter.bot_user_id is None
        with pytest.raises(TransientError, match="unreachable"):
            await adapter.send(action(text="hello"))
    finally:
        await adapter.stop()


async def test_an_empty_message_is_refused_before_slack(
    adapter: SlackAdapter, slack: SlackEmulator
) -> None:
    with pytest.raises(PermanentError, match="no_text"):
        await adapter.send(action(text="  "))
    assert slack.calls("chat.postMessage") == []


async def test_buttons_without_text_get_a_notification_text(
    adapter: SlackAdapter, slack: SlackEmulator
) -> None:
    await adapter.send(
        action(text="", buttons=[Button(id="yes", label="Yes"), Button(id="no", label="No")])
    )
    assert slack.posted(CHANNEL)[0]["text"] == "Yes · No"
