"""users.info / conversations.info, cached: webhooks use the cache and warm it in the background."""

from __future__ import annotations

import asyncio

import pytest

from adapters.slack import SlackAdapter
from adapters.slack.names import NameCache
from botgate.testing.slack import SlackEmulator
from tests.adapters.slack.support import callback, json_request


async def settle(adapter: SlackAdapter) -> None:
    for _ in range(100):
        if not adapter.names._tasks:
            return
        await asyncio.sleep(0.01)


async def test_names_are_fetched_once_then_served_from_the_cache(
    adapter: SlackAdapter, slack: SlackEmulator
) -> None:
    (first,) = adapter.parse(json_request(callback("message"))).events
    assert first.user is not None
    assert first.user.name is None  # the answer cannot wait for users.info
    await settle(adapter)
    (second,) = adapter.parse(json_request(callback("message", ts="1700000001.000100"))).events
    assert second.user is not None
    assert (second.user.name, second.user.display_name, second.user.locale) == (
        "alice",
        "Alice Liddell",
        "en-US",
    )
    assert second.channel.name == "support"
    adapter.parse(json_request(callback("message", ts="1700000002.000100")))
    await settle(adapter)
    assert [c.params["user"] for c in slack.calls("users.info")] == ["U061F7AUR"]
    assert [c.params["channel"] for c in slack.calls("conversations.info")] == ["C024BE91L"]


async def test_conversations_info_decides_group_dms(
    adapter: SlackAdapter, slack: SlackEmulator
) -> None:
    slack.add_channel("G0MPIM", "mpdm-alice--bob-1", kind="mpim")
    await adapter.names.resolve([], ["G0MPIM"])
    (event,) = adapter.parse(
        json_request(callback("member_joined_channel", channel="G0MPIM", channel_type="G"))
    ).events
    assert event.channel.type == "group"


async def test_entries_expire(slack: SlackEmulator, adapter: SlackAdapter) -> None:
    now = [0.0]
    cache = NameCache(ttl=60, clock=lambda: now[0])
    cache.client = adapter.client
    await cache.resolve(["U061F7AUR"], [])
    assert cache.user("U061F7AUR") is not None
    now[0] = 61
    assert cache.user("U061F7AUR") is None
    await cache.resolve(["U061F7AUR"], [])
    assert len(slack.calls("users.info")) == 2


async def test_unknown_ids_are_remembered_and_failures_are_not(
    slack: SlackEmulator, adapter: SlackAdapter
) -> None:
    cache = NameCache(ttl=60)
    cache.client = adapter.client
    slack.fail("users.info", "internal_error")
    await cache.resolve(["U0NOBODY"], [])
    assert cache.missing([]) == (set(), set())
    (event,) = adapter.parse(json_request(callback("message", user="U0NOBODY"))).events
    assert cache.missing([event]) == ({"U0NOBODY"}, {"C024BE91L"})  # the failure left no entry
    await cache.resolve(["U0NOBODY"], [])  # now user_not_found: remembered as unknown
    assert cache.missing([event])[0] == set()
    assert cache.user("U0NOBODY") is None


def test_the_cache_keeps_at_most_names_kept_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    from adapters.slack import names

    monkeypatch.setattr(names, "NAMES_KEPT", 3)
    table: dict[str, int] = {}
    for index in range(5):
        names._keep(table, f"U{index}", index)
    names._keep(table, "U2", 9)  # a refreshed id is the newest again
    assert list(table) == ["U3", "U4", "U2"]
