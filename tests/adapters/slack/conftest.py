from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from adapters.slack import SlackAdapter
from botgate.testing.slack import SlackEmulator
from gateway.config import Settings
from tests.adapters.slack.support import SIGNING_SECRET, settings_for
from tests.support.fake_context import FakeContext


@pytest.fixture
def slack_emulator_options() -> dict[str, Any]:
    return {"signing_secret": SIGNING_SECRET}


@pytest.fixture
def slack(slack_emulator: SlackEmulator) -> SlackEmulator:
    """The test kit's own fixture (botgate.testing.plugin) with the workspace these tests use."""
    slack_emulator.add_user("U061F7AUR", "alice", real_name="Alice Liddell")
    slack_emulator.add_channel("C024BE91L", "support")
    return slack_emulator


@pytest.fixture
def settings(slack: SlackEmulator) -> Settings:
    return settings_for(slack.api_url)


@pytest.fixture
def context(settings: Settings) -> FakeContext:
    return FakeContext(settings, receives=False)


@pytest.fixture
async def adapter(settings: Settings, context: FakeContext) -> AsyncIterator[SlackAdapter]:
    """A started adapter (HTTP only) talking to the emulator."""
    adapter = SlackAdapter(settings.bots[0], settings)
    await adapter.start(context)
    yield adapter
    await adapter.stop()


@pytest.fixture
def offline() -> SlackAdapter:
    """An adapter that was never started: verify and parse need no network."""
    settings = settings_for("http://127.0.0.1:9/api/")
    adapter = SlackAdapter(settings.bots[0], settings)
    adapter.bot_user_id = "U0BOTGATE"
    return adapter
