"""The public bus topology (CONTRACT section 4) and AMQP topic matching as data."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

EVENTS_EXCHANGE = "botgate.events"
ACTIONS_EXCHANGE = "botgate.actions"
DEAD_EXCHANGE = "botgate.dead"
EXCHANGES = (EVENTS_EXCHANGE, ACTIONS_EXCHANGE, DEAD_EXCHANGE)
DEFAULT_EXCHANGE = ""  # routes straight to the queue named by the routing key
CORE_QUEUE = "botgate.core"
DEAD_QUEUE = "botgate.dead"

HEADER_REASON = "x-botgate-reason"
HEADER_ORIGIN_EXCHANGE = "x-botgate-origin-exchange"
HEADER_TRACEPARENT = "traceparent"


def actions_queue(platform: str, bot: str) -> str:
    return f"{ACTIONS_EXCHANGE}.{platform}.{bot}"


@dataclass(frozen=True)
class Binding:
    exchange: str
    pattern: str


@dataclass(frozen=True)
class QueueSpec:
    """A queue and what it is bound to. `exclusive` queues die with their connection."""

    name: str
    bindings: tuple[Binding, ...] = ()
    durable: bool = True
    exclusive: bool = False
    quorum: bool = True


def core_queue() -> QueueSpec:
    return QueueSpec(CORE_QUEUE, (Binding(EVENTS_EXCHANGE, "#"),))


def adapter_queue(platform: str, bot: str) -> QueueSpec:
    return QueueSpec(
        actions_queue(platform, bot), (Binding(ACTIONS_EXCHANGE, f"{platform}.{bot}"),)
    )


def dead_queue() -> QueueSpec:
    return QueueSpec(DEAD_QUEUE, (Binding(DEAD_EXCHANGE, "#"),))


def topic_matches(pattern: str, routing_key: str) -> bool:
    """AMQP topic semantics: `*` is exactly one word, `#` is zero or more words."""
    return _matches(tuple(pattern.split(".")), tuple(routing_key.split(".")))


@lru_cache(maxsize=4096)
def _matches(pattern: tuple[str, ...], words: tuple[str, ...]) -> bool:
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_matches(rest, words[i:]) for i in range(len(words) + 1))
    if not words:
        return False
    return (head == "*" or head == words[0]) and _matches(rest, words[1:])
