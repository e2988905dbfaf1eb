from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from botgate.testing.telegram import TelegramEmulator


@pytest.fixture
async def telegram() -> AsyncIterator[TelegramEmulator]:
    async with TelegramEmulator() as emulator:
        yield emulator
