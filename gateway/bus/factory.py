"""Builds the bus named by `[bus] url`: the URL scheme picks the implementation."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from gateway.bus.amqp import AmqpBus
from gateway.bus.base import Bus
from gateway.bus.memory import MemoryBus
from gateway.errors import ConfigError

AMQP_SCHEMES = frozenset({"amqp", "amqps"})


def create_bus(url: str, **options: Any) -> Bus:
    """`memory://[name]` is the in-process bus; `amqp://` and `amqps://` are RabbitMQ.

    `options` go to the RabbitMQ bus (`publish_timeout`, `reconnect_interval`).
    """
    scheme = urlsplit(url).scheme
    if scheme == "memory":
        return MemoryBus(url)
    if scheme in AMQP_SCHEMES:
        return AmqpBus(url, **options)
    raise ConfigError(
        f"bus.url: unknown scheme {scheme!r}; use memory:// or amqp://user:pass@host:5672/vhost"
    )


async def probe_bus(url: str) -> None:
    """Reach the broker and leave again, declaring nothing; BusUnavailable says why not."""
    bus = create_bus(url)
    if isinstance(bus, AmqpBus):
        await bus.probe()
