from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from adapters.telegram import TelegramAdapter
from botgate.testing.telegram import TelegramEmulator
from gateway.config import Settings, settings_from_dict
from tests.adapters.telegram.payloads import SECRET
from tests.support.fake_context import FakeContext

SettingsFactory = Callable[..., Settings]


@pytest.fixture
def telegram(telegram_emulator: TelegramEmulator) -> TelegramEmulator:
    """The test kit's own fixture (botgate.testing.plugin), under the name these tests use."""
    return telegram_emulator


@pytest.fixture
def make_settings(telegram: TelegramEmulator) -> SettingsFactory:
    """Settings with one bot, `helpdesk`, on the emulator; keyword arguments change its
    [bots.telegram] table, `server` the [server] table."""

    def make(server: dict[str, Any] | None = None, **table: Any) -> Settings:
        config: dict[str, Any] = {
            "token": telegram.token,
            "webhook_secret": SECRET,
            "mode": "webhook",
            "api_base_url": telegram.api_base_url,
            "poll_timeout": "1s",
            "request_timeout": "5s",
            "rate_per_chat": 1000,
            "rate_per_group": 100000,
            "rate_per_bot": 1000,
            **table,
        }
        raw = {"server": server or {}, "bots": [{"name": "helpdesk", "telegram": config}]}
        return settings_from_dict(raw)

    return make


@pytest.fixture
async def adapter(make_settings: SettingsFactory) -> AsyncIterator[TelegramAdapter]:
    """A started adapter that sends and parses, with no receiving loop."""
    settings = make_settings()
    started = TelegramAdapter(settings.bots[0], settings)
    await started.start(FakeContext(settings, receives=False))
    yield started
    await started.stop()
