"""The admin API's message listing: filters, cursor paging, and parameter validation."""

from __future__ import annotations

from typing import Any

from gateway.app import Runtime
from tests.ops.support import call, person_of
from tests.support.pipeline import GenericClient, generic_bot, make_settings, message, running


async def _seed(runtime: Runtime) -> None:
    client = GenericClient(runtime.http.url)
    for i in range(5):
        await client.post(message(f"alice {i}", user="alice", channel="room-1"), wait=True)
    await client.post(message("bob 0", user="bob", channel="room-2"), wait=True)
    await client.post(message("hi", user="alice", channel="room-3"), wait=True, bot="other")
    await client.close()


async def _texts(runtime: Runtime, query: str) -> list[str]:
    status, body = await call(runtime, "GET", f"/messages?{query}")
    assert status == 200, body
    return [m["text"] for m in body["messages"]]


async def test_filters_and_cursor_pages(database_url: str) -> None:
    settings = make_settings(
        database_url, "memory://messages-api", bots=[generic_bot("helpdesk"), generic_bot("other")]
    )
    async with running(settings) as runtime:
        await _seed(runtime)
        alice = await person_of(runtime, "generic", "alice")
        inbound = [t for t in await _texts(runtime, "limit=200") if not t.startswith("Sorry")]
        assert inbound == ["hi", "bob 0", "alice 4", "alice 3", "alice 2", "alice 1", "alice 0"]

        pages: list[list[str]] = []
        cursor = ""
        while True:
            _status, body = await call(runtime, "GET", f"/messages?channel=room-1&limit=3{cursor}")
            pages.append([m["text"] for m in body["messages"]])
            if body["next_cursor"] is None:
                break
            cursor = f"&cursor={body['next_cursor']}"
        flat = [text for page in pages for text in page]
        assert [len(page) for page in pages] == [3, 3, 3, 1]  # 5 in, 5 fallback replies
        assert [t for t in flat if t.startswith("alice")] == [
            f"alice {i}" for i in range(4, -1, -1)
        ]

        assert await _texts(runtime, "bot=other") == [
            await _fallback(runtime, "other"),
            "hi",
        ]
        person = await _texts(runtime, f"person={alice}&limit=200")
        assert "bob 0" not in person
        assert len(person) == 12  # six messages of Alice's and the bot's six replies to her
        assert await _texts(runtime, "platform=slack") == []


async def _fallback(runtime: Runtime, bot: str) -> str:
    config = runtime.settings.bot(bot)
    assert config is not None
    return config.fallback_reply or runtime.settings.core.fallback_reply


async def test_bad_parameters_are_a_400_naming_the_parameter(database_url: str) -> None:
    async with running(make_settings(database_url, "memory://messages-bad")) as runtime:
        cases: dict[str, str] = {
            "colour=red": "unknown parameter 'colour'",
            "limit=0": "'limit' must be a whole number from 1 to 200",
            "limit=201": "'limit' must be a whole number from 1 to 200",
            "limit=ten": "'limit' must be a whole number from 1 to 200",
            "channel=a%00b": "parameter 'channel': NUL characters are not allowed",
            "person=alice": "parameter 'person' must be a UUID",
            "cursor=zzz": "parameter 'cursor' is not a cursor this API gave out",
            "since=yesterday": "parameter since 'yesterday'",
            "since=2026-01-02&until=2026-01-01": "since (2026-01-02T00:00:00+00:00) must be before",
            "bot=a&bot=b": "parameter 'bot' is given more than once",
        }
        answers: dict[str, Any] = {}
        for query, _ in cases.items():
            answers[query] = await call(runtime, "GET", f"/messages?{query}")
        for query, expected in cases.items():
            status, body = answers[query]
            assert status == 400, query
            assert expected in body["error"], (query, body)
        status, body = await call(runtime, "GET", "/dead-letters/nope")
        assert (status, body) == (400, {"error": "parameter 'id' must be a UUID"})
        status, body = await call(runtime, "GET", "/audit?limit=500")
        assert status == 400
        assert "'limit'" in body["error"]
        status, body = await call(runtime, "POST", "/tokens", body={"name": "x", "colour": 1})
        assert status == 400
        assert body["error"].startswith("body ")
