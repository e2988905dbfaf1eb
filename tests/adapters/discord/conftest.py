from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from adapters.discord import DiscordAdapter
from botgate.testing.discord import DiscordEmulator
from gateway.config import Settings, settings_from_dict
from tests.support.fake_context import FakeContext

Json = dict[str, Any]


def settings_for(
    emulator: DiscordEmulator, database_url: str = "sqlite+aiosqlite:///:memory:", **discord: Any
) -> Settings:
    return settings_from_dict(
        {
            "database": {"url": database_url},
            "bots": [
                {
                    "name": "helpdesk",
                    "tools": ["help", "kb"],
                    "discord": {
                        "token": emulator.token,
                        "public_key": emulator.public_key_hex,
                        "api_base_url": emulator.api_url,
                        "lock_retry_interval": "50ms",
                        "lock_check_interval": "200ms",
                        **discord,
                    },
                }
            ],
        }
    )


class World:
    """The emulated Discord of the tests: a guild with a channel and a thread, alice, a DM."""

    def __init__(self, emulator: DiscordEmulator) -> None:
        self.guild = emulator.add_guild("Support")
        self.channel = emulator.add_channel(self.guild["id"], "support")
        self.thread = emulator.add_thread(self.channel, "refunds")
        self.alice = emulator.add_user("alice", global_name="Alice Liddell")
        self.dm = emulator.add_dm(self.alice)


@pytest.fixture
def discord_emulator_options() -> dict[str, Any]:
    return {"heartbeat_interval": 0.5}


@pytest.fixture
def emulator(discord_emulator: DiscordEmulator) -> DiscordEmulator:
    """The test kit's own fixture (botgate.testing.plugin), under the name these tests use."""
    return discord_emulator


@pytest.fixture
def world(emulator: DiscordEmulator) -> World:
    return World(emulator)


@pytest.fixture
def settings(emulator: DiscordEmulator) -> Settings:
    return settings_for(emulator)


@pytest.fixture
def context(settings: Settings) -> FakeContext:
    return FakeContext(settings, receives=False)


@pytest.fixture
async def adapter(
    settings: Settings, context: FakeContext, world: World
) -> AsyncIterator[DiscordAdapter]:
    """A started adapter that only sends (no gateway)."""
    adapter = DiscordAdapter(settings.bots[0], settings)
    await adapter.start(context)
    yield adapter
    await adapter.stop()


@pytest.fixture
async def receiving(
    settings: Settings, emulator: DiscordEmulator, world: World
) -> AsyncIterator[tuple[DiscordAdapter, FakeContext]]:
    """A started adapter holding the gateway, connected (READY received)."""
    context = FakeContext(settings, receives=True)
    adapter = DiscordAdapter(settings.bots[0], settings)
    await adapter.start(context)
    await emulator.wait_for_session()
    yield adapter, context
    await adapter.stop()
