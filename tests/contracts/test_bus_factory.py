"""`create_bus` picks the implementation from the URL scheme; URLs are shown without passwords."""

from __future__ import annotations

import pytest

from gateway.bus.amqp import AmqpBus
from gateway.bus.factory import create_bus
from gateway.bus.memory import MemoryBus
from gateway.errors import ConfigError


@pytest.mark.parametrize("url", ["memory://", "memory://tests"])
def test_memory_urls_make_the_in_process_bus(url: str) -> None:
    assert isinstance(create_bus(url), MemoryBus)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("amqp://guest:guest@host:5672/vhost", "amqp://guest:***@host:5672/vhost"),
        ("amqps://bot:p%40ss@mq.example.com/", "amqps://bot:***@mq.example.com/"),
        ("amqp://localhost/", "amqp://localhost/"),
    ],
)
def test_amqp_urls_make_the_rabbitmq_bus_and_hide_the_password(url: str, shown: str) -> None:
    bus = create_bus(url, publish_timeout=1.0)
    assert isinstance(bus, AmqpBus)
    assert bus.url_for_display == shown


@pytest.mark.parametrize("url", ["redis://localhost/", "localhost:5672", ""])
def test_other_schemes_are_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match=r"bus\.url: unknown scheme"):
        create_bus(url)
