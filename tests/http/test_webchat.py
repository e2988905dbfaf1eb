"""The web chat over its WebSocket, through the whole pipeline: on SQLite + the in-process bus
and on PostgreSQL + RabbitMQ. The page itself is tested in a browser in tests/web/."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from adapters.webchat.tokens import Visitor as VisitorId
from botgate.testing.openai import OpenAIEmulator
from gateway.app import Runtime
from store.models import Message, PlatformChannel
from tests.assistant.support import assistant_table
from tests.support.pipeline import eventually, make_settings, running
from tests.support.webchat import ToolService, Visitor, tool_tables, webchat_bot


@pytest.fixture
async def tools() -> AsyncIterator[ToolService]:
    async with ToolService() as service:
        yield service


def settings_for(backend: tuple[str, str], tools: ToolService, **webchat: Any) -> Any:
    bot = webchat_bot("helpdesk", tools.url, **webchat)
    return make_settings(*backend, bots=[bot], tools=tool_tables(tools.url))


def visitor(runtime: Runtime, **options: Any) -> Visitor:
    return Visitor(runtime.http.url, "helpdesk", **options)


async def messages_of(runtime: Runtime, visitor_id: str) -> list[tuple[str, str]]:
    async with runtime.db.transaction() as db:
        rows = await db.execute(
            select(Message.direction, Message.text)
            .join(PlatformChannel, PlatformChannel.id == Message.platform_channel_id)
            .where(PlatformChannel.platform == "webchat", PlatformChannel.external_id == visitor_id)
            .order_by(Message.occurred_at)
        )
        return [(row[0], row[1]) for row in rows]


def visitor_id(runtime: Runtime, token: str) -> str:
    tokens = runtime.adapters[("webchat", "helpdesk")].tokens  # type: ignore[attr-defined]
    return str(tokens.check(token, "helpdesk").id)


async def test_help_is_answered_recorded_and_resumed_by_its_visitor_only(
    backend: tuple[str, str], tools: ToolService
) -> None:
    async with running(settings_for(backend, tools)) as runtime, visitor(runtime) as alice:
        welcome = await alice.connect()
        assert welcome["history"] == []
        assert (await alice.say("/help"))["type"] == "accepted"
        reply = await alice.reply()
        assert "/echo" in reply["html"]
        assert "/pick" in reply["html"]
        vid = visitor_id(runtime, welcome["token"])
        await eventually(lambda: _recorded(runtime, vid, 2))
        await alice.ws.close()  # type: ignore[union-attr]

        again = await alice.connect(alice.token)
        assert [m["from"] for m in again["history"]] == ["visitor", "bot"]
        assert again["history"][0]["text"] == "/help"
        assert visitor_id(runtime, again["token"]) == vid

        async with visitor(runtime) as bob:
            other = await bob.connect()
            assert other["history"] == []
            assert visitor_id(runtime, other["token"]) != vid


async def _recorded(runtime: Runtime, vid: str, count: int) -> bool:
    return len(await messages_of(runtime, vid)) >= count


async def test_html_in_a_reply_arrives_escaped_and_buttons_run_their_tool(
    backend: tuple[str, str], tools: ToolService
) -> None:
    async with running(settings_for(backend, tools)) as runtime, visitor(runtime) as alice:
        await alice.connect()
        await alice.say("/echo <img src=x onerror=alert(1)> **bold**")
        echoed = await alice.reply()
        assert "<img" not in echoed["html"]
        assert "&lt;img src=x onerror=alert(1)&gt;" in echoed["html"]
        assert "<strong>bold</strong>" in echoed["html"]

        await alice.say("/pick")
        offered = await alice.reply()
        assert offered["buttons"] == [{"id": "help", "label": "Show help"}]
        assert (await alice.click("help", offered["id"]))["type"] == "accepted"
        assert "/echo" in (await alice.reply())["html"]


async def test_refused_input_is_answered_and_not_recorded(
    backend: tuple[str, str], tools: ToolService
) -> None:
    settings = settings_for(backend, tools, max_message_chars=50, visitor_per_minute=3)
    async with running(settings) as runtime, visitor(runtime) as alice:
        welcome = await alice.connect()
        too_long = await alice.say("x" * 51)
        assert (too_long["type"], too_long["code"]) == ("error", "too_long")
        assert "limit is 50" in too_long["reason"]
        assert (await alice.say(""))["code"] == "bad_frame"
        for text in ("one", "two", "three"):
            assert (await alice.say(text))["type"] == "accepted"
        limited = await alice.say("four")
        assert (limited["type"], limited["code"]) == ("error", "rate_limited")
        assert "faster than this chat allows" in limited["reason"]
        vid = visitor_id(runtime, welcome["token"])
        await eventually(lambda: _recorded(runtime, vid, 6))
        inbound = [text for direction, text in await messages_of(runtime, vid) if direction == "in"]
        assert sorted(inbound) == ["one", "three", "two"]


async def test_one_address_is_limited_over_its_visitors(
    backend: tuple[str, str], tools: ToolService
) -> None:
    async with running(settings_for(backend, tools, ip_per_minute=2)) as runtime:
        visitors = [visitor(runtime) for _ in range(3)]
        try:
            first, second, third = visitors
            await first.connect()
            assert [(await first.say("hello"))["type"] for _ in range(2)] == ["accepted"] * 2
            await second.connect()
            assert (await second.say("hello"))["code"] == "rate_limited"
            # opening sockets is limited too: each costs a token check and a history read
            refused = await third.connect()
            assert (refused["type"], refused["code"]) == ("error", "rate_limited")
            assert await third.next() == {"type": "closed", "code": 4029}
        finally:
            for each in visitors:
                await each.close()


async def test_forged_expired_and_foreign_tokens_are_refused(
    backend: tuple[str, str], tools: ToolService
) -> None:
    async with running(settings_for(backend, tools)) as runtime:
        tokens = runtime.adapters[("webchat", "helpdesk")].tokens  # type: ignore[attr-defined]
        genuine = tokens.sign(VisitorId("helpdesk", "v-alice", int(time.time()) + 60))
        mac = genuine.partition(".")[2]
        forged_body = tokens.sign(VisitorId("helpdesk", "v-mallory", int(time.time()) + 60))
        cases = {
            "forged": f"{forged_body.partition('.')[0]}.{mac}",
            "expired": tokens.sign(VisitorId("helpdesk", "v-alice", int(time.time()) - 1)),
            "other bot": tokens.sign(VisitorId("sales", "v-alice", int(time.time()) + 60)),
            "garbage": "not-a-token",
        }
        for name, token in cases.items():
            async with visitor(runtime) as someone:
                refused = await someone.connect(token)
                assert refused["type"] == "refused", name
                assert (await someone.next())["code"] == 4001, name
        assert await messages_of(runtime, "v-mallory") == []


async def test_page_headers_widget_and_origins(
    backend: tuple[str, str], tools: ToolService
) -> None:
    allowed = ["http://localhost:9999", "https://www.example.com"]
    title = 'Help {{max}} & "<b>"'
    async with running(
        settings_for(backend, tools, allowed_origins=allowed, title=title)
    ) as runtime:
        base = runtime.http.url
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/chat/helpdesk") as page:
                assert page.status == 200
                policy = page.headers["Content-Security-Policy"]
                assert (
                    "frame-ancestors 'self' http://localhost:9999 https://www.example.com" in policy
                )
                assert "script-src 'self'" in policy
                text = await page.text()
                assert 'name="viewport"' in text
                assert "<h1>Help {{max}} &amp; &quot;&lt;b&gt;&quot;</h1>" in text
                assert page.headers["Cache-Control"] == "no-store"
            widget_url = f"{base}/chat/helpdesk/widget.js"
            friendly = {"Origin": "https://www.example.com"}
            async with http.get(widget_url, headers=friendly) as widget:
                assert widget.headers["Access-Control-Allow-Origin"] == "https://www.example.com"
                assert '"origins": ["http://localhost:9999", "https://www.example.com"]' in (
                    await widget.text()
                )
            async with http.get(widget_url, headers={"Origin": "https://evil.example"}) as widget:
                assert "Access-Control-Allow-Origin" not in widget.headers
            for path in ("/chat/nobody", "/chat/nobody/widget.js", "/chat/helpdesk/assets/x.js"):
                async with http.get(base + path) as missing:
                    assert missing.status == 404, path
        async with visitor(runtime, origin="https://evil.example") as evil:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await evil.connect()
            assert refused.value.status == 403
        async with visitor(runtime, origin="https://www.example.com") as friend:
            assert (await friend.connect())["type"] == "welcome"


async def test_what_the_bot_says_while_the_visitor_is_away_is_shown_on_return(
    backend: tuple[str, str], tools: ToolService
) -> None:
    """Another service sends the visitor a message with a button (admin API) while the page is
    closed: the next connect shows it, button included, and it is in the recorded history."""
    async with running(settings_for(backend, tools)) as runtime, visitor(runtime) as alice:
        welcome = await alice.connect()
        vid = visitor_id(runtime, welcome["token"])
        await alice.ws.close()  # type: ignore[union-attr]
        action = {
            "type": "message.send",
            "platform": "webchat",
            "bot": "helpdesk",
            "channel_id": vid,
            "text": "Your order **shipped**.",
            "buttons": [{"id": "help", "label": "Help"}],
        }
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"{runtime.http.url}/api/v1/actions",
                json=action,
                headers={"Authorization": "Bearer admin-token-for-tests"},
            ) as sent,
        ):
            assert sent.status == 202
        await eventually(lambda: _recorded(runtime, vid, 1))
        back = await alice.connect(alice.token)
        assert [m["html"] for m in back["history"]] == [
            "<p>Your order <strong>shipped</strong>.</p>\n"
        ]
        kept = await alice.reply()
        assert kept["buttons"] == [{"id": "help", "label": "Help"}]
        assert kept["id"] == back["history"][0]["id"]


async def test_the_assistant_answers_a_visitor_while_it_writes(
    backend: tuple[str, str], tools: ToolService, openai_emulator: OpenAIEmulator
) -> None:
    """A plain message goes to the bot's assistant; the page sees the answer grow in one
    message (snapshots share its id) and only the final text is recorded."""
    answer = "Refunds take **14 days**. " + "We check the order, then the payment. " * 4
    openai_emulator.reply(answer.strip(), per_token=0.03)
    bot = webchat_bot("helpdesk", tools.url)
    bot["assistant"] = assistant_table(openai_emulator)
    settings = make_settings(*backend, bots=[bot], tools=tool_tables(tools.url))
    async with running(settings) as runtime, visitor(runtime) as alice:
        welcome = await alice.connect()
        await alice.say("how long do refunds take?")
        shown = [await alice.reply()]
        while "the payment. We check the order, then the payment." not in shown[-1]["html"]:
            shown.append(await alice.reply())
        assert len(shown) > 1
        assert {frame["id"] for frame in shown} == {shown[0]["id"]}
        assert "<strong>14 days</strong>" in shown[-1]["html"]
        vid = visitor_id(runtime, welcome["token"])
        await eventually(lambda: _recorded(runtime, vid, 2))
        assert [d for d, _ in await messages_of(runtime, vid)] == ["in", "out"]


async def test_hostile_frames_are_refused_and_nothing_is_recorded(
    backend: tuple[str, str], tools: ToolService
) -> None:
    async with running(settings_for(backend, tools, max_message_chars=100)) as runtime:
        async with visitor(runtime) as silent:
            assert silent.ws is None
            silent.ws = await silent.http.ws_connect(silent.url)
            await silent.ws.send_json({"type": "message", "id": "x", "text": "no hello"})
            assert await silent.next() == {"type": "closed", "code": 4000}
        async with visitor(runtime) as mallory:
            welcome = await mallory.connect()
            ws = mallory.ws
            assert ws is not None
            await ws.send_bytes(b"\x00\x01")  # binary frames are ignored
            for junk in ("{", "[1, 2]", '"text"', '{"type": "shout"}'):
                await ws.send_str(junk)
                assert (await mallory.next())["code"] == "bad_frame", junk
            bad_id = {"type": "message", "id": "../../x", "text": "hi"}
            await ws.send_json(bad_id)
            assert (await mallory.next())["code"] == "bad_frame"
            await ws.send_json({"type": "click", "button": "", "message": "m"})
            assert (await mallory.next())["code"] == "bad_frame"
            await ws.send_json({"type": "click", "button": "nothing", "message": "m" * 1000})
            assert (await mallory.next())["type"] == "accepted"  # a click on no known message
            await ws.send_json({"type": "message", "id": "big", "text": "x" * 100_000})
            assert (await mallory.next())["type"] == "closed"  # over the frame limit: 1009
            assert ws.close_code == 1009
            await mallory.connect(mallory.token)  # then one good message, to wait for
            assert (await mallory.say("lone \ud800"))["code"] == "bad_frame"  # not JSON text
            assert (await mallory.say("fine\x00"))["type"] == "accepted"
            vid = visitor_id(runtime, welcome["token"])
            await eventually(lambda: _recorded(runtime, vid, 2))
            assert [text for way, text in await messages_of(runtime, vid) if way == "in"] == [
                "fine\ufffd"
            ]
