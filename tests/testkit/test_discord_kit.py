"""The Discord emulator as a test kit: interaction callbacks as Discord answers them, the
interaction webhook, attachments, routes not emulated, bad tokens and bodies, faults, the
interactions endpoint, and `route_discord_py()`."""

from __future__ import annotations

import warnings
from typing import Any

import aiohttp
import pytest
from aiohttp import web

with warnings.catch_warnings():  # discord.py imports audioop, which Python 3.11 warns about
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    from discord.gateway import DiscordWebSocket
    from discord.http import Route

from botgate.testing import DiscordEmulator, ManualClock, serve

Json = dict[str, Any]


@pytest.fixture
def channel(discord_emulator: DiscordEmulator) -> Json:
    guild = discord_emulator.add_guild("Test")
    return discord_emulator.add_channel(guild["id"], "general")


@pytest.fixture
async def http() -> Any:
    async with aiohttp.ClientSession() as session:
        yield session


def auth(emulator: DiscordEmulator) -> dict[str, str]:
    return {"Authorization": f"Bot {emulator.token}"}


async def test_a_callback_with_response_is_answered_as_discord_answers_it(
    discord_emulator: DiscordEmulator, channel: Json, http: aiohttp.ClientSession
) -> None:
    alice = discord_emulator.add_user("alice")
    interaction = discord_emulator.command_interaction(channel["id"], alice, "ping")
    discord_emulator.interactions[interaction["token"]] = interaction
    url = (f"{discord_emulator.api_url}/interactions/{interaction['id']}/"
           f"{interaction['token']}/callback")
    body = {"type": 4, "data": {"content": "pong", "flags": 64}}
    async with http.post(url, params={"with_response": "1"}, json=body) as response:
        assert response.status == 200
        answer = await response.json()
    assert answer["interaction"]["response_message_ephemeral"] is True
    assert answer["resource"]["type"] == 4
    assert answer["resource"]["message"]["content"] == "pong"
    assert answer["interaction"]["response_message_id"] == answer["resource"]["message"]["id"]
    async with http.post(url, json=body) as again:
        assert again.status == 400
        assert (await again.json())["code"] == 40060
    (sent,) = discord_emulator.sent(channel["id"])
    assert (sent.text, sent.ephemeral) == ("pong", True)
    assert interaction["attachment_size_limit"] > 0


async def test_a_callback_without_with_response_is_204_and_the_original_can_be_edited(
    discord_emulator: DiscordEmulator, channel: Json, http: aiohttp.ClientSession
) -> None:
    alice = discord_emulator.add_user("alice")
    interaction = discord_emulator.command_interaction(channel["id"], alice, "slow")
    discord_emulator.interactions[interaction["token"]] = interaction
    token, app = interaction["token"], discord_emulator.application_id
    async with http.post(
        f"{discord_emulator.api_url}/interactions/{interaction['id']}/{token}/callback",
        json={"type": 5},
    ) as deferred:
        assert deferred.status == 204
    original = f"{discord_emulator.api_url}/webhooks/{app}/{token}/messages/@original"
    async with http.patch(original, json={"content": "done"}) as edited:
        assert (await edited.json())["content"] == "done"
    async with http.post(f"{discord_emulator.api_url}/webhooks/{app}/{token}",
                         params={"wait": "true"}, json={"content": "more"}) as follow_up:
        assert follow_up.status == 200
    assert [(s.text, s.edited) for s in discord_emulator.sent(channel["id"])] == [
        ("done", True), ("more", False),
    ]
    async with http.delete(original) as deleted:
        assert deleted.status == 204
    assert [s.text for s in discord_emulator.sent(channel["id"])] == ["more"]


async def test_attachments_arrive_as_multipart(
    discord_emulator: DiscordEmulator, channel: Json, http: aiohttp.ClientSession
) -> None:
    form = aiohttp.FormData()
    form.add_field("payload_json", '{"content": "report", "attachments": [{"id": 0, '
                   '"filename": "report.csv"}]}', content_type="application/json")
    form.add_field("files[0]", b"a,b\n", filename="report.csv")
    async with http.post(f"{discord_emulator.api_url}/channels/{channel['id']}/messages",
                         data=form, headers=auth(discord_emulator)) as response:
        message = await response.json()
    assert message["attachments"][0]["size"] == 4
    (sent,) = discord_emulator.sent(channel["id"])
    assert sent.files == ("report.csv",)


async def test_routes_not_emulated_bad_tokens_and_bad_bodies(
    discord_emulator: DiscordEmulator, channel: Json, http: aiohttp.ClientSession
) -> None:
    api = discord_emulator.api_url
    async with http.get(f"{api}/guilds/1/roles", headers=auth(discord_emulator)) as missing:
        assert missing.status == 404
        assert (await missing.json())["message"] == "not emulated: GET /guilds/1/roles"
    async with http.get(f"{api}/users/@me", headers={"Authorization": "Bot wrong"}) as wrong:
        assert (wrong.status, await wrong.json()) == (401, {"message": "401: Unauthorized",
                                                           "code": 0})
    async with http.post(f"{api}/channels/{channel['id']}/messages", data=b"{oops",
                         headers={**auth(discord_emulator),
                                  "Content-Type": "application/json"}) as bad:
        assert (bad.status, (await bad.json())["code"]) == (400, 50109)
    assert [c.name for c in discord_emulator.not_emulated()] == ["GET /guilds/1/roles"]


async def test_faults_by_route_for_a_duration(
    discord_emulator: DiscordEmulator, channel: Json, http: aiohttp.ClientSession
) -> None:
    clock = ManualClock()
    discord_emulator.clock = clock
    route = "POST /channels/{channel_id}/messages"
    discord_emulator.rate_limit(route, retry_after=2.5, seconds=30, global_=True)
    url = f"{discord_emulator.api_url}/channels/{channel['id']}/messages"
    async with http.post(url, json={"content": "x"}, headers=auth(discord_emulator)) as limited:
        assert limited.status == 429
        assert limited.headers["X-RateLimit-Global"] == "true"
        assert (await limited.json())["retry_after"] == 2.5
    clock.advance(30)
    async with http.post(url, json={"content": "y"}, headers=auth(discord_emulator)) as sent:
        assert sent.status == 200
    assert [c.status for c in discord_emulator.calls(route)] == [429, 200]


async def test_an_interactions_endpoint_gets_signed_interactions_and_its_answer_counts(
    discord_emulator: DiscordEmulator, channel: Json
) -> None:
    async def endpoint(request: web.Request) -> web.Response:
        assert request.headers["X-Signature-Ed25519"]
        return web.json_response({"type": 4, "data": {"content": "hello from HTTP"}})

    app = web.Application()
    app.router.add_post("/interactions", endpoint)
    async with serve(app) as url:
        discord_emulator.interactions_url = f"{url}/interactions"
        delivery = await discord_emulator.inject_command(channel["id"], "hello", {"n": 2})
    assert delivery.via == "interactions_endpoint"
    assert delivery.payload["data"]["options"] == [{"name": "n", "value": 2, "type": 4}]
    await discord_emulator.wait_for(channel["id"], "hello from HTTP")


async def test_route_discord_py_sets_and_restores_what_discord_py_reads(
    discord_emulator: DiscordEmulator,
) -> None:
    before = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    with discord_emulator.route_discord_py():
        assert discord_emulator.api_url == Route.BASE
        assert Route("GET", "/users/@me").url == f"{discord_emulator.api_url}/users/@me"
        assert str(DiscordWebSocket.DEFAULT_GATEWAY) == discord_emulator.gateway_url
    assert before == (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)


async def test_injections_without_a_gateway_or_endpoint_say_what_to_do(
    discord_emulator: DiscordEmulator, channel: Json, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(AssertionError, match="route_discord_py"):
        await discord_emulator._wait_for_gateway(within=0.1)
