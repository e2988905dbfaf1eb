"""What the bus contract suites share: a connected bus on the backend under test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gateway.bus.base import Bus
from gateway.bus.factory import create_bus


@pytest.fixture
async def bus(bus_url: str) -> AsyncIterator[Bus]:
    bus = create_bus(bus_url)
    await bus.connect()
    yield bus
    await bus.close()
