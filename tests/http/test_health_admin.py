"""Health, readiness, metrics and the admin API."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from gateway.bus.memory import MemoryBroker
from gateway.config import DatabaseConfig
from store import migrate
from store.database import Database
from tests.support.pipeline import GenericClient, make_settings, message, running

TOKEN = {"Authorization": "Bearer admin-token-for-tests"}


async def get(
    url: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, object] | str]:
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as response:
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, await response.text()


async def test_ready_when_everything_is_up_and_says_which_part_is_not(
    tmp_path: Path, memory_url: str
) -> None:
    async with running(
        make_settings(f"sqlite+aiosqlite:///{tmp_path / 'db'}", memory_url)
    ) as runtime:
        assert await get(runtime.http.url + "/healthz") == (200, {"status": "ok"})
        assert (await get(runtime.http.url + "/readyz"))[0] == 200

        MemoryBroker.named(memory_url.removeprefix("memory://")).refuse_publishes = True
        status, body = await get(runtime.http.url + "/readyz")
        MemoryBroker.named(memory_url.removeprefix("memory://")).refuse_publishes = False
        assert status == 503
        assert body["checks"] == {"database": "ok", "migrations": "ok", "bus": "not connected"}  # type: ignore[index]

        db = Database(DatabaseConfig(url=runtime.settings.database.url))
        await migrate.downgrade(db.engine, "base")
        await db.close()
        status, body = await get(runtime.http.url + "/readyz")
        assert status == 503
        assert body["checks"]["migrations"] == "pending: 0001, 0004"  # type: ignore[index]


async def test_metrics_count_what_happened(tmp_path: Path, memory_url: str) -> None:
    async with running(
        make_settings(f"sqlite+aiosqlite:///{tmp_path / 'db'}", memory_url)
    ) as runtime:
        client = GenericClient(runtime.http.url)
        await client.post(message("/help"), wait=True)
        await client.post(message("/help"), bot="nobody")
        await client.close()
        status, text = await get(runtime.http.url + "/metrics")
    assert status == 200
    assert 'botgate_events_received_total{platform="generic",status="200"} 1.0' in str(text)
    assert 'botgate_events_received_total{platform="generic",status="404"} 1.0' in str(text)
    assert 'botgate_events_processed_total{outcome="recorded"}' in str(text)
    assert "botgate_processing_seconds_bucket" in str(text)


async def test_admin_api_needs_the_token_but_not_for_openapi(
    tmp_path: Path, memory_url: str
) -> None:
    async with running(
        make_settings(f"sqlite+aiosqlite:///{tmp_path / 'db'}", memory_url)
    ) as runtime:
        base = runtime.http.url + "/api/v1"
        client = GenericClient(runtime.http.url)
        await client.post(message("/help", event_id="m-1"), wait=True)
        await client.close()
        spec_status, spec = await get(base + "/openapi.json")
        assert (await get(base + "/bots"))[0] == 401
        assert (await get(base + "/bots", {"Authorization": "Bearer wrong"}))[0] == 401
        bots_status, bots = await get(base + "/bots", TOKEN)
        _, messages = await get(base + "/messages?channel=room-1", TOKEN)
        bad_limit, _ = await get(base + "/messages?limit=lots", TOKEN)
    assert spec_status == 200
    assert "/api/v1/messages" in spec["paths"]
    assert bots_status == 200
    assert bots["bots"][0]["name"] == "helpdesk"  # type: ignore[index]
    assert "secret" not in str(bots)
    assert [m["direction"] for m in messages["messages"]][-1] == "in"  # type: ignore[index]
    assert bad_limit == 400


async def test_admin_api_publishes_an_action(tmp_path: Path) -> None:
    """A service sends a message through the gateway; it is delivered and recorded."""
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path / 'db'}", "memory://admin-action")
    async with running(settings) as runtime:
        action = {
            "schema": "botgate.action/1",
            "type": "message.send",
            "platform": "generic",
            "bot": "helpdesk",
            "channel_id": "room-9",
            "text": "maintenance at 6pm",
        }
        async with aiohttp.ClientSession() as http:
            async with http.post(
                runtime.http.url + "/api/v1/actions", json=action, headers=TOKEN
            ) as response:
                assert response.status == 202
            async with http.post(
                runtime.http.url + "/api/v1/actions", json={**action, "bot": "x"}, headers=TOKEN
            ) as response:
                assert response.status == 404
            async with http.post(
                runtime.http.url + "/api/v1/actions", json={"type": "fly"}, headers=TOKEN
            ) as response:
                assert response.status == 400
        from tests.support.pipeline import eventually

        async def recorded() -> bool:
            _, body = await get(runtime.http.url + "/api/v1/messages?channel=room-9", TOKEN)
            return [m["text"] for m in body["messages"]] == ["maintenance at 6pm"]  # type: ignore[index]

        await eventually(recorded)
    MemoryBroker.forget("admin-action")
