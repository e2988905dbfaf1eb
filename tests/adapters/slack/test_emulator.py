"""The emulator itself: real-shaped answers to the real SDK, and deliveries Slack would make."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from urllib.parse import parse_qs

import aiohttp
import pytest
from aiohttp import web
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from botgate.testing.slack import SlackEmulator
from tests.adapters.slack.support import SIGNING_SECRET, inner, load


@pytest.fixture
def client(slack: SlackEmulator) -> AsyncWebClient:
    return AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[web.Request], list[bytes]]]:
    """A tiny HTTP endpoint that keeps what Slack would POST to a gateway."""
    requests: list[web.Request] = []
    bodies: list[bytes] = []

    async def keep(request: web.Request) -> web.Response:
        requests.append(request)
        bodies.append(await request.read())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", keep)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}/hook", requests, bodies
    await runner.cleanup()


async def test_answers_the_sdk_in_slacks_shapes(
    client: AsyncWebClient, slack: SlackEmulator
) -> None:
    posted = await client.chat_postMessage(channel="C024BE91L", text="hi", thread_ts="1.000001")
    assert posted["ok"] is True
    assert posted["message"]["thread_ts"] == "1.000001"
    info = await client.users_info(user="U061F7AUR")
    assert info["user"]["real_name"] == "Alice Liddell"
    call = slack.calls("chat.postMessage")[0]
    assert call.token == slack.bot_token
    assert call.headers["Content-Type"].startswith("application/json")
    assert slack.calls("users.info")[0].http_method == "GET"


@pytest.mark.parametrize(
    ("method", "kwargs", "error"),
    [
        ("chat_postMessage", {"channel": "C0NONE", "text": "x"}, "channel_not_found"),
        (
            "chat_update",
            {"channel": "C024BE91L", "ts": "1.000001", "text": "x"},
            "message_not_found",
        ),
        ("users_info", {"user": "U0NONE"}, "user_not_found"),
        ("conversations_info", {"channel": "C0NONE"}, "channel_not_found"),
        ("apps_connections_open", {"app_token": "xoxb-emulator-token"}, "not_allowed_token_type"),
    ],
)
async def test_errors(
    client: AsyncWebClient, method: str, kwargs: dict[str, str], error: str
) -> None:
    with pytest.raises(SlackApiError) as caught:
        await getattr(client, method)(**kwargs)
    assert caught.value.response["error"] == error


async def test_a_wrong_token_is_invalid_auth(slack: SlackEmulator) -> None:
    client = AsyncWebClient(token="xoxb-wrong", base_url=slack.api_url)
    with pytest.raises(SlackApiError) as caught:
        await client.auth_test()
    assert caught.value.response["error"] == "invalid_auth"


async def test_rate_limit_answers_429_with_retry_after(
    client: AsyncWebClient, slack: SlackEmulator
) -> None:
    slack.rate_limit("chat.postMessage", retry_after=7)
    with pytest.raises(SlackApiError) as caught:
        await client.chat_postMessage(channel="C024BE91L", text="x")
    assert caught.value.response.status_code == 429
    assert caught.value.response.headers["Retry-After"] == "7"
    assert caught.value.response["error"] == "ratelimited"


async def test_signed_deliveries_with_retries(
    slack: SlackEmulator, receiver: tuple[str, list[web.Request], list[bytes]]
) -> None:
    url, requests, bodies = receiver
    answer = await slack.deliver_event(url, inner("message"), retries=2)
    assert answer.status == 200
    verifier = SignatureVerifier(SIGNING_SECRET)
    for request, body in zip(requests, bodies, strict=True):
        assert verifier.is_valid_request(body, dict(request.headers))
    assert [r.headers.get("X-Slack-Retry-Num") for r in requests] == [None, "1", "2"]
    assert requests[1].headers["X-Slack-Retry-Reason"] == "http_timeout"
    assert len({json.loads(b)["event_id"] for b in bodies}) == 1


async def test_commands_and_interactions_are_form_encoded(
    slack: SlackEmulator, receiver: tuple[str, list[web.Request], list[bytes]]
) -> None:
    url, requests, bodies = receiver
    await slack.send_command(
        url, slack.command_form("/kb", "refunds", user_id="U061F7AUR", channel_id="C024BE91L")
    )
    await slack.send_interaction(url, load("block_actions"))
    command, click = (parse_qs(b.decode()) for b in bodies)
    assert command["command"] == ["/kb"]
    assert command["channel_name"] == ["support"]
    assert json.loads(click["payload"][0])["type"] == "block_actions"
    assert all(r.content_type == "application/x-www-form-urlencoded" for r in requests)


async def test_response_urls_are_served_and_recorded(slack: SlackEmulator) -> None:
    form = slack.command_form("/kb", "x", user_id="U061F7AUR", channel_id="C024BE91L")
    async with (
        aiohttp.ClientSession() as http,
        http.post(form["response_url"], json={"text": "later"}) as response,
    ):
        assert response.status == 200
    (call,) = slack.calls("response_url")
    assert call.params == {"text": "later"}
