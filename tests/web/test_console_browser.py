"""The operators' console in a real browser (headless Chromium): signing in, the session
cookie, a conversation appearing while the page is open, hostile names shown as text, and
re-drive allowed to `admin` only."""

from __future__ import annotations

import html
import time
from pathlib import Path

from playwright.async_api import BrowserContext, Page, Request, expect

from gateway.app import Runtime
from tests.support.pipeline import GenericClient, eventually, message
from tests.web.console_support import (
    ADMIN_TOKEN,
    kill_a_letter,
    letter_status,
    service,
    token,
)
from tests.web.page_checks import csp_refusals, focus_ring

HOSTILE = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'


async def sign_in(page: Page, runtime: Runtime, secret: str) -> None:
    await page.goto(f"{runtime.http.url}/console")
    await page.get_by_label("API token").fill(secret)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Health")).to_be_visible()


async def test_sign_in_then_a_new_conversation_appears_live(
    browser_context: BrowserContext, screenshots: Path, sqlite_url: str, memory_url: str
) -> None:
    async with service(sqlite_url, memory_url) as runtime:
        page = await browser_context.new_page()
        # without a session: the sign-in form, whatever page was asked for
        answer = await page.goto(f"{runtime.http.url}/console/conversations")
        assert answer is not None
        assert answer.status == 401
        await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        await page.screenshot(path=screenshots / "console-sign-in.png")

        await page.get_by_label("API token").fill("bgt_not-a-token")
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.get_by_role("alert")).to_have_text(
            "That token was refused: unknown, revoked or expired."
        )
        assert await browser_context.cookies() == [] or all(
            c["name"] != "botgate_console" for c in await browser_context.cookies()
        )

        await sign_in(page, runtime, await token(runtime, "read"))
        await expect(page.get_by_role("row", name="database ok")).to_be_visible()
        await page.get_by_role("link", name="Bots").click()
        await expect(page.get_by_role("rowheader", name="helpdesk")).to_be_visible()

        await page.get_by_role("link", name="Conversations").click()
        await expect(page.get_by_text("No conversations yet.")).to_be_visible()

        client = GenericClient(runtime.http.url)
        try:
            sent = time.perf_counter()
            await client.post(message("where is my parcel?", user="u-live", channel="room-live"))
            await expect(page.get_by_role("link", name="room-live")).to_be_visible(timeout=10_000)
            print(f"new conversation shown {time.perf_counter() - sent:.2f}s after the webhook")
        finally:
            await client.close()
        await page.set_viewport_size({"width": 1000, "height": 420})
        await page.screenshot(path=screenshots / "console.png")
        await page.get_by_role("link", name="room-live").click()
        await expect(page.locator(".messages .text").first).to_have_text("where is my parcel?")
        await expect(page.locator(".messages li.out")).to_have_count(1)  # the bot's answer
        await page.set_viewport_size({"width": 390, "height": 700})  # a phone
        await page.screenshot(path=screenshots / "console-phone.png")

        (cookie,) = [c for c in await browser_context.cookies() if c["name"] == "botgate_console"]
        assert cookie["httpOnly"] is True
        assert cookie["sameSite"] == "Strict"
        assert cookie["path"] == "/console"
        assert await page.evaluate("document.cookie") == ""  # scripts cannot read it

        await measure_a_cold_load(browser_context, f"{runtime.http.url}/console/conversations")
        await browser_context.clear_cookies()
        # the open page's next poll finds no session and reloads into the sign-in form
        await expect(page.get_by_role("heading", name="Sign in")).to_be_visible(timeout=10_000)


async def measure_a_cold_load(signed_in: BrowserContext, url: str) -> None:
    """Bytes on the wire for one console page with an empty cache: HTML, CSS, htmx."""
    assert signed_in.browser is not None
    fresh = await signed_in.browser.new_context(storage_state=await signed_in.storage_state())
    try:
        page = await fresh.new_page()
        finished: list[Request] = []
        page.on("requestfinished", lambda request: finished.append(request))
        await page.goto(url, wait_until="load")
        await expect(page.get_by_role("link", name="room-live")).to_be_visible()
        sizes = [await request.sizes() for request in finished]
        body = sum(size["responseBodySize"] for size in sizes)
        headers = sum(size["responseHeadersSize"] for size in sizes)
        names = [request.url.rsplit("/", 1)[-1].split("?")[0] for request in finished]
        print(
            f"cold load of {url}: {len(sizes)} responses {names}, {body} body bytes (as sent), "
            f"{headers} header bytes"
        )
        assert body < 40_000  # HTML, CSS and the gzipped htmx
    finally:
        await fresh.close()


async def test_a_hostile_name_and_message_are_shown_as_text(
    browser_context: BrowserContext, screenshots: Path, sqlite_url: str, memory_url: str
) -> None:
    async with service(sqlite_url, memory_url) as runtime:
        client = GenericClient(runtime.http.url)
        try:
            hostile = message(HOSTILE, user="u-hostile", channel="room-h")
            hostile["user"]["name"] = HOSTILE
            status, _ = await client.post(hostile, wait=True)
            assert status == 200
        finally:
            await client.close()
        page = await browser_context.new_page()
        refusals = csp_refusals(page)
        await sign_in(page, runtime, ADMIN_TOKEN)
        await page.goto(f"{runtime.http.url}/console/people")
        await expect(page.locator("th.person").first).to_contain_text(HOSTILE)
        await page.goto(f"{runtime.http.url}/console/conversations")
        await page.get_by_role("link", name="room-h").click()
        await expect(page.locator(".messages .text").first).to_have_text(HOSTILE)
        await page.screenshot(path=screenshots / "console-hostile.png")
        assert await page.evaluate("window.pwned === undefined")
        assert await page.locator(".messages img").count() == 0
        # the list is re-written every 2 s: a live region would read it all out each time
        assert await page.locator("#messages").get_attribute("aria-live") is None
        await page.keyboard.press("Tab")  # the first stop: skip to the content, visibly
        skip = page.get_by_role("link", name="Skip to content")
        await expect(skip).to_be_focused()
        assert await focus_ring(skip) != "none"
        assert refusals == []  # htmx ran without inline styles or eval


async def test_re_drive_takes_the_admin_scope(
    browser_context: BrowserContext, sqlite_url: str, memory_url: str
) -> None:
    async with service(sqlite_url, memory_url) as runtime:
        letter = await kill_a_letter(runtime)
        page = await browser_context.new_page()
        await sign_in(page, runtime, await token(runtime, "read"))
        await page.goto(f"{runtime.http.url}/console/dead")
        await expect(page.get_by_text("callback answered 500 eight times")).to_be_visible()
        assert await page.get_by_role("button", name="Re-drive").count() == 0
        # a forged form with this session's own CSRF token: refused by the server
        csrf = await page.locator("input[name=csrf]").first.get_attribute("value")
        forged = await page.request.post(
            f"{runtime.http.url}/console/dead/redrive", form={"csrf": csrf or "", "id": letter}
        )
        assert forged.status == 403
        assert "has scope 'read'; this needs 'admin'" in html.unescape(await forged.text())
        assert await letter_status(runtime) == "dead"

        await page.get_by_role("button", name="Sign out").click()
        await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        await sign_in(page, runtime, ADMIN_TOKEN)
        await page.goto(f"{runtime.http.url}/console/dead")
        # with the admin's cookie but without the form's CSRF token: refused, nothing changes
        forged = await page.request.post(
            f"{runtime.http.url}/console/dead/redrive", form={"id": letter}
        )
        assert forged.status == 403
        assert "its CSRF token is missing or wrong" in await forged.text()
        assert await letter_status(runtime) == "dead"
        await page.get_by_role("button", name="Re-drive the letter").first.focus()
        await page.keyboard.press("Enter")  # the keyboard is enough
        await expect(page.get_by_role("status")).to_have_text(
            "Re-drive queued for 1 letter(s); 0 skipped (not dead)."
        )

        async def redriven() -> bool:
            return await letter_status(runtime) == "redriven"

        await eventually(redriven)
