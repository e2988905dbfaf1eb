"""The browser the page tests use really renders and runs scripts."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser

PAGE = (
    "<!doctype html><title>smoke</title><p id=out>static</p>"
    "<script>document.getElementById('out').textContent = 'scripted'</script>"
)


async def smoke_page(_: web.Request) -> web.Response:
    return web.Response(text=PAGE, content_type="text/html")


async def test_chromium_runs_the_pages_scripts(browser: Browser) -> None:
    app = web.Application()
    app.router.add_get("/", smoke_page)
    async with TestServer(app) as server:
        page = await browser.new_page()
        await page.goto(str(server.make_url("/")))
        assert await page.text_content("#out") == "scripted"
        assert await page.title() == "smoke"
