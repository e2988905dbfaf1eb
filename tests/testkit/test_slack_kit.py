"""The Slack emulator as a test kit: what slack_sdk's AsyncWebClient gets for ephemeral
messages, modals, history, methods not emulated, bad tokens and malformed requests, the
faults, and deliveries to an app's request URL."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from botgate.testing import ManualClock, SlackEmulator, serve

CHANNEL = "C0GENERAL"
MODAL: dict[str, Any] = {
    "type": "modal", "callback_id": "survey",
    "title": {"type": "plain_text", "text": "Survey"},
    "blocks": [{"type": "input", "block_id": "name", "label": {"type": "plain_text",
                "text": "Name"}, "element": {"type": "plain_text_input", "action_id": "v"}}],
}


@pytest.fixture
def client(slack_emulator: SlackEmulator) -> AsyncWebClient:
    return AsyncWebClient(token=slack_emulator.bot_token, base_url=slack_emulator.api_url)


async def test_ephemeral_messages_show_only_as_ephemeral(
    slack_emulator: SlackEmulator, client: AsyncWebClient
) -> None:
    await client.chat_postMessage(channel=CHANNEL, text="for everyone")
    answer = await client.chat_postEphemeral(channel=CHANNEL, user="U0ALICE", text="for alice")
    assert answer["message_ts"]
    assert [(s.text, s.ephemeral) for s in slack_emulator.sent(CHANNEL)] == [
        ("for everyone", False), ("for alice", True),
    ]
    history = await client.conversations_history(channel=CHANNEL)
    assert [m["text"] for m in history["messages"]] == ["for everyone"]
    with pytest.raises(SlackApiError, match="user_not_found"):
        await client.chat_postEphemeral(channel=CHANNEL, user="U0NOBODY", text="x")


async def test_history_is_newest_first_and_replies_hold_a_thread(
    slack_emulator: SlackEmulator, client: AsyncWebClient
) -> None:
    parent = await client.chat_postMessage(channel=CHANNEL, text="parent")
    await client.chat_postMessage(channel=CHANNEL, text="reply", thread_ts=parent["ts"])
    await client.chat_postMessage(channel=CHANNEL, text="later")
    history = await client.conversations_history(channel=CHANNEL, limit=1)
    assert [m["text"] for m in history["messages"]] == ["later"]
    assert history["has_more"] is True
    rest = await client.conversations_history(
        channel=CHANNEL, cursor=history["response_metadata"]["next_cursor"]
    )
    assert [m["text"] for m in rest["messages"]] == ["parent"]
    replies = await client.conversations_replies(channel=CHANNEL, ts=parent["ts"])
    assert [m["text"] for m in replies["messages"]] == ["parent", "reply"]


async def test_modals_open_with_a_trigger_once_and_update_by_id(
    slack_emulator: SlackEmulator, client: AsyncWebClient
) -> None:
    trigger = slack_emulator.command_form("/survey", "", user_id="U0ALICE",
                                          channel_id=CHANNEL)["trigger_id"]
    opened = await client.views_open(trigger_id=trigger, view=MODAL)
    view = opened["view"]
    assert (view["callback_id"], view["state"]) == ("survey", {"values": {}})
    with pytest.raises(SlackApiError, match="invalid_trigger_id"):
        await client.views_open(trigger_id=trigger, view=MODAL)
    updated = await client.views_update(view_id=view["id"], hash=view["hash"],
                                        view={**MODAL, "callback_id": "survey2"})
    assert updated["view"]["id"] == view["id"]
    with pytest.raises(SlackApiError, match="hash_conflict"):
        await client.views_update(view_id=view["id"], hash=view["hash"], view=MODAL)
    assert slack_emulator.open_views("U0ALICE")[0]["callback_id"] == "survey2"


async def test_a_method_not_emulated_is_unknown_method_naming_it(
    slack_emulator: SlackEmulator, client: AsyncWebClient
) -> None:
    with pytest.raises(SlackApiError) as refused:
        await client.pins_add(channel=CHANNEL, timestamp="1.000001")
    assert refused.value.response["error"] == "unknown_method"
    assert refused.value.response["response_metadata"]["messages"] == [
        "[ERROR] not emulated: pins.add"
    ]
    assert [c.name for c in slack_emulator.not_emulated()] == ["pins.add"]


async def test_bad_tokens_and_malformed_requests_get_slacks_answers(
    slack_emulator: SlackEmulator,
) -> None:
    wrong = AsyncWebClient(token="xoxb-wrong", base_url=slack_emulator.api_url)
    with pytest.raises(SlackApiError, match="invalid_auth"):
        await wrong.auth_test()
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{slack_emulator.api_url}chat.postMessage", data=b"{oops",
                  headers={"Content-Type": "application/json",
                           "Authorization": f"Bearer {slack_emulator.bot_token}"}) as response,
    ):
        assert response.status == 400
        assert (await response.json())["error"] == "invalid_json"


async def test_faults_for_n_calls_and_for_a_duration(
    slack_emulator: SlackEmulator, client: AsyncWebClient
) -> None:
    slack_emulator.rate_limit("chat.postMessage", retry_after=9)
    with pytest.raises(SlackApiError) as limited:
        await client.chat_postMessage(channel=CHANNEL, text="x")
    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] == "9"
    clock = ManualClock()
    slack_emulator.clock = clock
    slack_emulator.server_error("*", status=503, seconds=60)
    with pytest.raises(SlackApiError, match="service_unavailable"):
        await client.auth_test()
    clock.advance(60)
    await client.chat_postMessage(channel=CHANNEL, text="after")
    assert [s.text for s in slack_emulator.sent(CHANNEL)] == ["after"]


async def test_deliveries_to_a_request_url_are_signed_and_answers_become_messages(
    slack_emulator: SlackEmulator,
) -> None:
    received: list[dict[str, str]] = []

    async def app(request: web.Request) -> web.Response:
        received.append(dict(request.headers))
        if request.content_type == "application/x-www-form-urlencoded":
            return web.json_response({"text": "ack text", "response_type": "in_channel"})
        return web.Response()

    web_app = web.Application()
    web_app.router.add_post("/slack/events", app)
    async with serve(web_app) as url:
        slack_emulator.request_url = f"{url}/slack/events"
        said = await slack_emulator.inject_message(CHANNEL, "hi")
        await slack_emulator.inject_edit(said, "hi, edited")
        command = await slack_emulator.inject_command(CHANNEL, "/status")
    assert [d.via for d in slack_emulator.deliveries] == [
        "events_api", "events_api", "slash_commands"
    ]
    assert all(h["X-Slack-Signature"].startswith("v0=") for h in received)
    assert json.loads(command.answer.body if command.answer else "{}")["text"] == "ack text"
    assert [s.text for s in slack_emulator.sent(CHANNEL)] == ["ack text"]
    history = await AsyncWebClient(
        token=slack_emulator.bot_token, base_url=slack_emulator.api_url
    ).conversations_history(channel=CHANNEL)
    assert [m["text"] for m in history["messages"]] == ["ack text", "hi, edited"]


async def test_without_socket_or_request_url_injection_says_what_to_do(
    slack_emulator: SlackEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def no_socket(within: float = 5.0) -> None:
        raise TimeoutError

    monkeypatch.setattr(slack_emulator, "wait_for_socket", no_socket)
    with pytest.raises(AssertionError, match="request_url"):
        await slack_emulator.inject_message(CHANNEL, "anyone?")
