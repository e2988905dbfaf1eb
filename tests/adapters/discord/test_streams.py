"""Snapshots of an answer being written, sent to the Discord adapter: sent once, then edited;
messages beyond a final text that came out shorter are deleted."""

from __future__ import annotations

from adapters.discord import DiscordAdapter
from botgate.testing.discord import DiscordEmulator
from tests.adapters.discord.conftest import World
from tests.adapters.slack.test_streams import snapshots


async def test_discord_sends_once_then_edits_and_drops_parts_no_longer_needed(
    adapter: DiscordAdapter, emulator: DiscordEmulator, world: World
) -> None:
    long = "\n\n".join(f"Paragraph {i}. " + "word " * 100 for i in range(6))  # ~3,100 chars
    actions = snapshots("discord", world.channel["id"], ["# Hi", long, "Sorry, I stopped."])
    for action in actions:
        await adapter.send(action)
    posted = emulator.requests_to("POST", r"/channels/\d+/messages")
    edits = emulator.requests_to("PATCH", r"/channels/\d+/messages/\d+")
    deleted = emulator.requests_to("DELETE", r"/channels/\d+/messages/\d+")
    assert posted[0].json["content"] == "# Hi"
    assert len(posted) == 2  # the long snapshot needed a second message
    assert len(edits) == 2
    assert len(deleted) == 1
    assert edits[-1].json["content"] == "Sorry, I stopped."
    remaining = [m for m in emulator.messages.values() if m["channel_id"] == world.channel["id"]
                 and m["author"]["id"] == emulator.bot_user["id"]]
    assert [m["content"] for m in remaining] == ["Sorry, I stopped."]
