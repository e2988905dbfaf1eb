"""The console over plain HTTP, on both backends: CSRF and scope refusals change nothing,
uploads import, sessions end with their token, pages show what was recorded."""

from __future__ import annotations

import html
import io

import aiohttp
import pytest
from yarl import URL

from gateway.app import Runtime
from gateway.ops import tokens
from tests.support.pipeline import GenericClient, make_settings, message, running
from tests.support.webchat import Visitor, webchat_bot
from tests.web.console_support import (
    ADMIN_TOKEN,
    ConsoleClient,
    kill_a_letter,
    letter_status,
    service,
    token,
)

REFUSED_CSRF = "its CSRF token is missing or wrong"


def upload_form(
    csrf: str | None, name: str = "refunds.md", data: bytes = b"", collection: str = "handbook"
) -> aiohttp.FormData:
    form = aiohttp.FormData()
    if csrf is not None:
        form.add_field("csrf", csrf)
    form.add_field("collection", collection)
    form.add_field("org", "default")
    body = io.BytesIO(data or b"# Refunds\n\nRefunds are issued within 14 days.\n")
    form.add_field("file", body,
                   filename=name, content_type="text/markdown")  # fmt: skip
    return form


async def collections(console: ConsoleClient) -> str:
    status, page = await console.get("/console/kb")
    assert status == 200
    return page[page.index("<tbody>") : page.index("</tbody>")]


async def test_forms_without_csrf_are_refused_and_change_nothing(
    backend: tuple[str, str],
) -> None:
    async with service(*backend) as runtime, ConsoleClient(runtime) as console:
        letter = await kill_a_letter(runtime)
        assert await console.sign_in(ADMIN_TOKEN) == 303
        for form in ({"id": letter}, {"id": letter, "csrf": "forged"}, {"id": letter, "csrf": ""}):
            status, page = await console.post("/console/dead/redrive", form)
            assert status == 403, page
            assert REFUSED_CSRF in page
            assert "Nothing was changed" in page
        assert await letter_status(runtime) == "dead"

        status, page = await console.post("/console/kb/upload", upload_form(None))
        assert (status, REFUSED_CSRF in page) == (403, True)
        # the CSRF field must come first: a forged form cannot hide it behind the file
        late = aiohttp.FormData()
        late.add_field("file", b"# x\n\ntext\n", filename="x.md", content_type="text/markdown")
        late.add_field("csrf", console.csrf)
        assert (await console.post("/console/kb/upload", late))[0] == 403
        assert "No collections yet." in await collections(console)

        # a right token from another site's page
        cross = {"Origin": "https://evil.example"}
        form = {"id": letter, "csrf": console.csrf}
        status, page = await console.post("/console/dead/redrive", form, headers=cross)
        assert (status, "came from another site" in page) == (403, True)
        assert (await console.post("/console/sign-out", {}))[0] == 403
        assert (await console.get("/console"))[0] == 200  # still signed in
        assert await letter_status(runtime) == "dead"
        # behind a proxy that tells the host it forwarded, that origin is ours
        proxied = {"Origin": "https://bots.example.com", "X-Forwarded-Host": "bots.example.com"}
        form = {"csrf": console.csrf}
        assert (await console.post("/console/sign-out", form, headers=proxied))[0] == 303


async def test_an_upload_takes_the_write_scope(backend: tuple[str, str]) -> None:
    database, bus = backend
    async with service(database, bus) as runtime:
        async with ConsoleClient(runtime) as reader:
            await reader.sign_in(await token(runtime, "read"))
            status, page = await reader.post("/console/kb/upload", upload_form(reader.csrf))
            assert status == 403
            assert "this needs 'write'" in html.unescape(page)
            assert "No collections yet." in await collections(reader)
            assert (
                "Importing takes a token with the <code>write</code> scope"
                in (await reader.get("/console/kb"))[1]
            )
        async with ConsoleClient(runtime) as writer:
            await writer.sign_in(await token(runtime, "write"))
            status, _ = await writer.post("/console/kb/upload", upload_form(writer.csrf))
            assert status == 303
            status, page = await writer.get("/console/kb")
            assert "refunds.md into handbook: new, 1 passage(s)." in page
            assert '<th scope="row">handbook</th><td>default</td><td>1</td><td>1</td>' in page
            status, page = await writer.get("/console/kb?collection=handbook&q=refund+days")
            assert "Refunds are issued within 14 days." in page
            status, page = await writer.get("/console/kb?collection=elsewhere&q=refund")
            assert status == 404
            assert "Import a file" in page  # the page, with the reason beside the search
            # refused files, named in the answer; nothing imported, no collection made
            refused = [
                ("tool.exe", b"MZ\x00\x01", "handbook", 400),
                ("tool.exe", b"MZ\x00\x01", "fresh", 400),
                ("broken.pdf", b"%PDF-1.7 not really", "fresh", 422),
                ("blank.md", b"  \n\n", "fresh", 400),
            ]
            for filename, data, collection, expected in refused:
                form = upload_form(writer.csrf, filename, data, collection)
                status, page = await writer.post("/console/kb/upload", form)
                assert status == expected, page
                assert filename in page
            listed = await collections(writer)
            assert "<td>1</td><td>1</td>" in listed
            assert "fresh" not in listed


async def test_an_oversized_upload_is_refused(sqlite_url: str, memory_url: str) -> None:
    async with service(sqlite_url, memory_url) as runtime, ConsoleClient(runtime) as console:
        await console.sign_in(ADMIN_TOKEN)
        limit = runtime.settings.kb.max_file_bytes
        form = upload_form(console.csrf, "big.txt", b"a" * (limit + 1))
        status, page = await console.post("/console/kb/upload", form)
        assert (status, "kb.max_file_bytes" in page) == (413, True)
        assert "No collections yet." in await collections(console)


async def test_a_revoked_token_ends_its_sessions(sqlite_url: str, memory_url: str) -> None:
    async with service(sqlite_url, memory_url) as runtime, ConsoleClient(runtime) as console:
        await console.sign_in(await token(runtime, "read"))
        assert (await console.get("/console/people"))[0] == 200
        await tokens.revoke(runtime.db, "console-read", "test")
        status, page = await console.get("/console/people")
        assert status == 401
        assert "Your session ended: unknown or revoked token." in page
        assert (await console.get("/console/people"))[0] == 401  # the session is gone


async def test_refused_sign_ins_are_limited(sqlite_url: str, memory_url: str) -> None:
    async with service(sqlite_url, memory_url) as runtime, ConsoleClient(runtime) as console:
        await console.get("/console")
        statuses = []
        for _ in range(11):
            form = {"csrf": console.csrf, "token": "guess"}
            statuses.append((await console.post("/console/sign-in", form))[0])
        assert statuses == [401] * 10 + [429]
        # a sign-in form without its cookie's secret is refused before the token is read
        assert (await console.post("/console/sign-in", {"token": ADMIN_TOKEN}))[0] == 403


async def test_pages_show_what_was_recorded(backend: tuple[str, str]) -> None:
    async with service(*backend) as runtime, ConsoleClient(runtime) as console:
        client = GenericClient(runtime.http.url)
        try:
            await client.post(message("/help", user="u-ann", channel="room-a"), wait=True)
            ann = message("hello", user="u-bob", channel="room-b")
            ann["user"]["name"] = "Bob 100%_sure"
            await client.post(ann, wait=True)
        finally:
            await client.close()
        await console.sign_in(await token(runtime, "read"))

        status, page = await console.get("/console")
        assert status == 200
        for part in ("database", "migrations", "bus", "generic adapter of helpdesk"):
            assert f'<tr class="ok">\n      <th scope="row">{part}</th>' in page, part
        page = (await console.get("/console/tools?window=24h"))[1]
        assert '<td>helpdesk</td><th scope="row">help</th><td>1</td><td>0</td>' in page
        page = (await console.get("/console/people?q=100%25_sure"))[1]
        assert "Bob 100%_sure" in page
        assert "u-ann" not in page
        page = (await console.get("/console/people?q=100%25_xsure"))[1]
        assert "Nobody matches." in page
        page = (await console.get("/console/conversations?bot=helpdesk"))[1]
        assert page.index("room-b") < page.index("room-a")  # newest activity first
        assert (await console.get("/console/conversations?bot=nobody"))[0] == 400
        assert (await console.get("/console/tools?window=forever"))[0] == 400
        assert (await console.get("/console/conversations/not-an-id"))[0] == 404
        assert (await console.get("/console/static/../../app.py"))[0] == 404


async def test_sign_out_ends_the_session_even_for_a_kept_copy_of_its_cookie(
    sqlite_url: str, memory_url: str
) -> None:
    async with service(sqlite_url, memory_url) as runtime, ConsoleClient(runtime) as console:
        await console.sign_in(ADMIN_TOKEN)
        (kept,) = [c.value for c in console.http.cookie_jar if c.key == "botgate_console"]

        def restore() -> None:
            console.http.cookie_jar.clear()
            cookie = {"botgate_console": kept}
            console.http.cookie_jar.update_cookies(cookie, URL(f"{console.base}/console"))

        restore()
        assert (await console.get("/console"))[0] == 200  # the copy works ...
        status, _ = await console.post("/console/sign-out", {"csrf": console.csrf})
        assert status == 303
        restore()
        status, page = await console.get("/console")  # ... until sign-out
        assert status == 401
        assert "Sign in with an API token." in page


@pytest.mark.postgres
@pytest.mark.rabbitmq
async def test_the_health_page_tells_whether_an_adapters_process_sends(
    postgres_url: str, amqp_url: str
) -> None:
    settings = make_settings(postgres_url, amqp_url)
    async with running(settings, "gateway") as gateway, ConsoleClient(gateway) as console:
        await console.sign_in(ADMIN_TOKEN)
        page = html.unescape((await console.get("/console"))[1])
        assert '<tr class="bad">\n      <th scope="row">generic adapter of helpdesk</th>' in page
        assert "not sending: botgate.actions.generic.helpdesk does not exist" in page
        async with running(settings, "adapters"):
            page = (await console.get("/console"))[1]
            assert '<tr class="ok">\n      <th scope="row">generic adapter of helpdesk</th>' in page
            assert "receives by webhook; 0 action(s) waiting to be sent" in page


async def test_the_health_page_counts_the_web_chats_visitors(
    sqlite_url: str, memory_url: str
) -> None:
    bots = [webchat_bot("helpdesk")]
    settings = make_settings(sqlite_url, memory_url, bots=bots)
    async with running(settings) as runtime, ConsoleClient(runtime) as console:
        await console.sign_in(ADMIN_TOKEN)
        page = html.unescape((await console.get("/console"))[1])
        assert "webchat adapter of helpdesk" in page
        assert "receives by visitors' WebSockets, 0 visitor(s) connected" in page
        assert "receives by webhook" not in page
        visitor = Visitor(runtime.http.url, "helpdesk")
        try:
            assert (await visitor.connect())["type"] == "welcome"
            page = html.unescape((await console.get("/console"))[1])
            assert "receives by visitors' WebSockets, 1 visitor(s) connected" in page
        finally:
            await visitor.close()
        page = html.unescape((await console.get("/console/bots"))[1])
        assert "webchat <small>(visitors' WebSockets)</small>" in page


async def test_every_console_answer_carries_its_security_headers(
    sqlite_url: str, memory_url: str
) -> None:
    """Signed out or in, a page, a refusal, a missing page or a redirect: no framing, no
    caching, only the console's own scripts; cookies HttpOnly, SameSite=Strict, /console."""
    async with service(sqlite_url, memory_url) as runtime, ConsoleClient(runtime) as console:
        http, base = console.http, console.base
        async with http.get(f"{base}/console") as signed_out:
            _assert_guarded(signed_out)
            _assert_cookies(signed_out, "botgate_console_signin")
        await console.get("/console")
        form = {"csrf": console.csrf, "token": ADMIN_TOKEN}
        async with http.post(f"{base}/console/sign-in", data=form, allow_redirects=False) as done:
            assert (done.status, done.headers["Location"]) == (303, "/console")
            _assert_guarded(done)
            _assert_cookies(done, "botgate_console")
        for path in ("/console/people", "/console/nowhere", "/console/conversations/x"):
            async with http.get(base + path) as answer:
                _assert_guarded(answer)
                assert "Traceback" not in await answer.text()


def _assert_guarded(response: aiohttp.ClientResponse) -> None:
    policy = response.headers["Content-Security-Policy"]
    for part in ("script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"):
        assert part in policy, (response.url, part)
    assert "unsafe-inline" not in policy
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def _assert_cookies(response: aiohttp.ClientResponse, name: str) -> None:
    cookie = response.cookies[name]
    assert (cookie["httponly"], cookie["samesite"], cookie["path"]) == (True, "Strict", "/console")


async def test_cookies_are_secure_when_the_public_url_is_https(
    sqlite_url: str, memory_url: str
) -> None:
    """Behind a TLS proxy that does not say X-Forwarded-Proto the request looks like http; the
    configured https address still marks the cookies Secure, so a browser never sends them
    over plain http."""
    server = {"public_url": "https://bots.example.com"}
    async with running(make_settings(sqlite_url, memory_url, server=server)) as runtime:
        assert await _sign_in_cookie_secure(runtime) is True
    async with service(sqlite_url, memory_url) as runtime:
        assert not await _sign_in_cookie_secure(runtime)  # plain http, nothing said


async def _sign_in_cookie_secure(runtime: Runtime) -> bool | str:
    async with (
        ConsoleClient(runtime) as console,
        console.http.get(f"{console.base}/console") as signed_out,
    ):
        secure: bool | str = signed_out.cookies["botgate_console_signin"]["secure"]
        return secure
