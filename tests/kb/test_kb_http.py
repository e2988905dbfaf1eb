"""The knowledge base in the admin API: upload, list, search, delete, behind the token."""

from __future__ import annotations

from typing import Any

import aiohttp
from yarl import URL

from tests.kb.conftest import HANDBOOK
from tests.kb.pdfs import pdf_without_text
from tests.support.pipeline import make_settings, running

TOKEN = {"Authorization": "Bearer admin-token-for-tests"}


async def call(
    method: str, url: str, data: bytes | None = None, token: bool = True
) -> tuple[int, Any]:
    headers = TOKEN if token else {}
    # encoded: the client must not resolve "%2E%2E" (the server is to refuse it)
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, URL(url, encoded=True), data=data, headers=headers) as response,
    ):
        return response.status, await response.json()


async def test_upload_list_search_and_delete(database_url: str, memory_url: str) -> None:
    settings = make_settings(database_url, memory_url, kb={"max_file_bytes": 4096})
    async with running(settings) as runtime:
        base = runtime.http.url + "/api/v1/kb/collections"
        refunds = HANDBOOK["refunds.md"].encode()
        assert (await call("PUT", f"{base}/handbook/documents/refunds.md", refunds, False))[
            0
        ] == 401

        status, body = await call("PUT", f"{base}/handbook/documents/policy/refunds.md", refunds)
        assert (status, body) == (201, {"document": "policy/refunds.md", "outcome": "new",
                                        "passages": 2})  # fmt: skip
        status, body = await call("PUT", f"{base}/handbook/documents/policy/refunds.md", refunds)
        assert (status, body["outcome"]) == (200, "unchanged")
        changed = b"# Refunds\n\nRefunds take thirty days now.\n"
        status, body = await call("PUT", f"{base}/handbook/documents/policy/refunds.md", changed)
        assert (status, body["outcome"], body["passages"]) == (200, "changed", 1)

        status, body = await call("GET", base)
        assert body["collections"][0]["name"] == "handbook"
        assert (body["collections"][0]["documents"], body["collections"][0]["passages"]) == (1, 1)
        status, body = await call("GET", f"{base}/handbook/documents")
        assert [d["path"] for d in body["documents"]] == ["policy/refunds.md"]
        status, body = await call("GET", f"{base}/handbook/search?q=how+long+for+refunds")
        assert body["results"][0]["document"] == "policy/refunds.md"

        status, body = await call("DELETE", f"{base}/handbook/documents/policy/refunds.md")
        assert (status, body) == (200, {"deleted": "policy/refunds.md"})
        status, body = await call("DELETE", f"{base}/handbook")
        assert (status, body) == (200, {"deleted": "handbook"})
        assert (await call("GET", f"{base}/handbook/documents"))[0] == 404


async def test_bad_uploads_are_refused_with_the_reason(database_url: str, memory_url: str) -> None:
    settings = make_settings(database_url, memory_url, kb={"max_file_bytes": 4096})
    async with running(settings) as runtime:
        docs = runtime.http.url + "/api/v1/kb/collections/handbook/documents"
        cases = {
            "notes.docx": (422, "unsupported file type"),
            "scan.pdf": (422, "no text layer"),
            "latin.txt": (422, "not UTF-8 text"),
            "big.md": (413, "over the 4096-byte limit"),
            "a/%2E%2E/b.md": (400, "is not a document path"),
            "empty.md": (400, "no text to import"),
        }
        bodies = {
            "scan.pdf": pdf_without_text(),
            "latin.txt": "caf\xe9".encode("latin-1"),
            "big.md": b"x" * 5000,
            "empty.md": b"",
        }
        for path, (expected, reason) in cases.items():
            status, body = await call("PUT", f"{docs}/{path}", bodies.get(path, b"hello"))
            assert status == expected, (path, body)
            assert reason in body["error"]
        status, body = await call("GET", docs.replace("/handbook/", "/bad%20name/"))
        assert status == 400
        status, body = await call("GET", runtime.http.url + "/api/v1/kb/collections")
        assert body["collections"][0]["documents"] == 0  # nothing half-imported
