"""The web chat in a real headless Chromium: a visitor's conversation, reloads, a second
visitor, HTML shown as text, the widget on an allowed and a refused origin, refused tokens.

The gateway runs on SQLite + the in-process bus (the WebSocket protocol is tested on
PostgreSQL + RabbitMQ as well in tests/http/test_webchat.py). Page weight and the time to the
first answer are printed and written to the test artefacts (webchat-page.json)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import Browser, BrowserContext, Page, expect

from gateway.app import Runtime
from tests.support.pipeline import make_settings, running
from tests.support.webchat import ToolService, tool_tables, webchat_bot
from tests.web.page_checks import csp_refusals, focus_ring

# Marks, in the page's own clock, when the chat connected, the visitor sent, the bot answered.
TIMING = """
new MutationObserver(() => {
  const t = performance.now();
  if (!window.__connected && document.getElementById("status")?.textContent === "connected")
    window.__connected = t;
  if (!window.__sent && document.querySelector(".msg.visitor")) window.__sent = t;
  if (!window.__answered && document.querySelector(".msg.bot")) window.__answered = t;
}).observe(document, {subtree: true, childList: true, characterData: true});
"""
WEIGHT = """
[performance.getEntriesByType("navigation")[0], ...performance.getEntriesByType("resource")]
  .reduce((sum, entry) => sum + entry.transferSize, 0)
"""
XSS = "<img src=x onerror=\"document.title='pwned'\">"


class HostPages:
    """A website that embeds the widget, served on one origin (127.0.0.1 or localhost)."""

    def __init__(self) -> None:
        self.chat_url = ""
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/widget", self._widget)
        app.router.add_get("/framed", self._framed)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _widget(self, _: web.Request) -> web.Response:
        script = f'<script src="{self.chat_url}/widget.js"></script>'
        return web.Response(
            text=f"<!doctype html><title>host</title><h1>Shop</h1>{script}",
            content_type="text/html",
        )

    async def _framed(self, _: web.Request) -> web.Response:
        frame = f'<iframe id="chat" src="{self.chat_url}?embed=1"></iframe>'
        return web.Response(
            text=f"<!doctype html><title>framed</title>{frame}", content_type="text/html"
        )


@pytest.fixture
async def host() -> AsyncIterator[HostPages]:
    pages = HostPages()
    await pages.start()
    yield pages
    await pages.stop()


@pytest.fixture
async def tools() -> AsyncIterator[ToolService]:
    async with ToolService() as service:
        yield service


@pytest.fixture
async def chat(
    sqlite_url: str, memory_url: str, tools: ToolService, host: HostPages
) -> AsyncIterator[tuple[Runtime, str]]:
    """The gateway, with `http://localhost:<host port>` as the widget's one allowed origin;
    the runtime and the chat's URL."""
    bot = webchat_bot(
        "helpdesk",
        tools.url,
        allowed_origins=[f"http://localhost:{host.port}"],
        title="Helpdesk",
    )
    settings = make_settings(sqlite_url, memory_url, bots=[bot], tools=tool_tables(tools.url))
    async with running(settings) as runtime:
        url = f"{runtime.http.url}/chat/helpdesk"
        host.chat_url = url
        yield runtime, url


async def open_chat(context: BrowserContext, url: str) -> Page:
    page = await context.new_page()
    await page.goto(url)
    return page


async def ask(page: Page, text: str) -> None:
    await page.get_by_label("Your message").fill(text)
    await page.keyboard.press("Enter")


async def test_a_visitor_asks_help_reloads_and_another_sees_nothing(
    chat: tuple[Runtime, str],
    browser: Browser,
    browser_context: BrowserContext,
    screenshots: Path,
) -> None:
    _, url = chat
    page = await browser_context.new_page()
    await page.add_init_script(TIMING)
    await page.goto(url)
    await expect(page.locator("#status")).to_have_text("connected")
    await ask(page, "/help")
    await expect(page.locator(".msg.bot")).to_contain_text("/echo")
    marks = await page.evaluate("[window.__connected, window.__sent, window.__answered]")
    _record(screenshots, await page.evaluate(WEIGHT), marks)
    await page.screenshot(path=screenshots / "webchat.png")

    await page.reload()
    await expect(page.locator(".msg.visitor")).to_have_text(["/help"])
    await expect(page.locator(".msg.bot")).to_contain_text(["/echo"])

    stranger = await (await browser.new_context()).new_page()
    await stranger.goto(url)
    await expect(stranger.locator("#status")).to_have_text("connected")
    await expect(stranger.locator(".msg")).to_have_count(0)
    await stranger.context.close()


def _record(artefacts: Path, page_bytes: int, marks: list[float]) -> None:
    """Bytes over the wire for the page and its assets; milliseconds from navigation start to
    the connected chat, and from the visitor's message to the bot's answer."""
    connected, sent, answered = marks
    numbers = {
        "page_bytes": page_bytes,
        "connected_ms": round(connected),
        "answer_ms": round(answered - sent),
        "first_answer_ms": round(answered),
    }
    print(f"web chat page: {json.dumps(numbers)}")
    (artefacts / "webchat-page.json").write_text(json.dumps(numbers) + "\n")


async def test_html_in_a_message_and_a_reply_is_shown_as_text(
    chat: tuple[Runtime, str],
    browser_context: BrowserContext,
) -> None:
    _, url = chat
    page = await open_chat(browser_context, url)
    await ask(page, XSS)
    await ask(page, f"/echo {XSS}")
    await expect(page.locator(".msg.visitor").first).to_have_text(XSS)
    await expect(page.locator(".msg.bot")).to_contain_text(["<img src=x onerror="])
    await page.reload()  # the history shows it as text too
    await expect(page.locator(".msg.bot")).to_contain_text(["<img src=x onerror="])
    assert await page.locator("#messages img").count() == 0
    assert await page.title() == "Helpdesk"


async def test_buttons_work_from_the_keyboard(
    chat: tuple[Runtime, str],
    browser_context: BrowserContext,
) -> None:
    _, url = chat
    page = await browser_context.new_page()
    refusals = csp_refusals(page)
    await page.goto(url)
    await expect(page.get_by_role("log", name="Conversation")).to_have_attribute(
        "aria-live", "polite"
    )
    await ask(page, "/pick")
    button = page.get_by_role("button", name="Show help")
    await button.focus()
    assert await focus_ring(button) != "none"
    await page.keyboard.press("Enter")
    await expect(page.locator(".msg.bot").last).to_contain_text("/echo")
    await page.keyboard.press("Tab")  # on to the composer, then its Send button
    await expect(page.get_by_label("Your message")).to_be_focused()
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("button", name="Send")).to_be_focused()
    assert refusals == []


async def test_the_widget_opens_on_an_allowed_origin_and_is_refused_elsewhere(
    chat: tuple[Runtime, str],
    host: HostPages,
    browser_context: BrowserContext,
) -> None:
    page = await browser_context.new_page()
    await page.goto(f"http://localhost:{host.port}/widget")
    bubble = page.get_by_role("button", name="Helpdesk")
    await bubble.click()
    framed_chat = page.frame_locator("#botgate-chat-helpdesk iframe")
    await framed_chat.get_by_label("Your message").fill("/help")
    await framed_chat.get_by_label("Your message").press("Enter")
    await expect(framed_chat.locator(".msg.bot")).to_contain_text("/echo")

    control = await browser_context.new_page()  # an iframe on the allowed origin loads
    await control.goto(f"http://localhost:{host.port}/framed")
    await expect(control.frame_locator("#chat").locator("#composer")).to_be_visible()

    other = await browser_context.new_page()
    warnings: list[str] = []
    other.on("console", lambda message: warnings.append(message.text))
    await other.goto(f"http://127.0.0.1:{host.port}/widget")
    await expect(other.locator("h1")).to_have_text("Shop")
    assert await other.locator("#botgate-chat-helpdesk").count() == 0
    assert any("not among the allowed origins" in text for text in warnings)

    await other.goto(f"http://127.0.0.1:{host.port}/framed")  # a hand-made iframe
    framed = other.frame_locator("#chat")
    await other.wait_for_load_state("load")
    assert await framed.locator("#composer").count() == 0


@pytest.mark.parametrize("token", ["forged", "expired"])
async def test_a_refused_token_offers_a_new_conversation(
    chat: tuple[Runtime, str],
    browser_context: BrowserContext,
    token: str,
) -> None:
    runtime, url = chat
    page = await open_chat(browser_context, url)
    await expect(page.locator("#status")).to_have_text("connected")
    stored = await page.evaluate("localStorage.getItem('botgate.webchat.helpdesk')")
    await page.evaluate(
        "t => localStorage.setItem('botgate.webchat.helpdesk', t)",
        _spoiled(runtime, stored, token),
    )
    await page.reload()
    await expect(page.locator("#refused")).to_be_visible()
    await expect(page.locator("#refused-reason")).to_contain_text(
        "expired" if token == "expired" else "signature"
    )
    await page.get_by_role("button", name="Start a new conversation").click()
    await ask(page, "/help")
    await expect(page.locator(".msg.bot")).to_contain_text("/echo")


def _spoiled(runtime: Runtime, token: str, how: str) -> str:
    from adapters.webchat.tokens import Visitor

    tokens: Any = runtime.adapters[("webchat", "helpdesk")].tokens  # type: ignore[attr-defined]
    visitor = tokens.check(token, "helpdesk")
    if how == "expired":
        return str(tokens.sign(Visitor(visitor.bot, visitor.id, int(time.time()) - 5)))
    mac = token.partition(".")[2]
    other = tokens.sign(Visitor(visitor.bot, "v-someone-else", visitor.expires))
    return f"{other.partition('.')[0]}.{mac}"


async def test_readable_on_a_phone(
    chat: tuple[Runtime, str],
    browser: Browser,
    screenshots: Path,
) -> None:
    """A phone-sized screen: nothing wider than the screen, even a long unbroken word."""
    _, url = chat
    phone = await browser.new_context(viewport={"width": 360, "height": 640}, is_mobile=True)
    page = await phone.new_page()
    await page.goto(url)
    await ask(page, "/echo " + "x" * 200)
    await expect(page.locator(".msg.bot")).to_contain_text("xxxx")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360
    composer = await page.locator("#composer").bounding_box()
    assert composer is not None
    assert composer["y"] + composer["height"] <= 640
    await page.screenshot(path=screenshots / "webchat-phone.png")
    await phone.close()
