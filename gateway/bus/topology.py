"""The public bus topology (CONTRACT section 4) and AMQP topic matching as data."""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

EVENTS_EXCHANGE = "botgate.events"
ACTIONS_EXCHANGE = "botgate.actions"
DEAD_EXCHANGE = "botgate.dead"
TOOLS_EXCHANGE = "botgate.tools"  # bus tools: calls routed by tool name
REPLAY_EXCHANGE = "botgate.replay"  # `botgate replay` publishes here; other services bind to it
# The web chat's frames for visitors, routed by bot name to every process serving sockets
WEBCHAT_EXCHANGE = "botgate.webchat"
EXCHANGES = (
    EVENTS_EXCHANGE,
    ACTIONS_EXCHANGE,
    DEAD_EXCHANGE,
    TOOLS_EXCHANGE,
    REPLAY_EXCHANGE,
    WEBCHAT_EXCHANGE,
)
DEFAULT_EXCHANGE = ""  # routes straight to the queue named by the routing key
CORE_QUEUE = "botgate.core"  # before sharding: one queue; now the prefix of the shard queues
# Sharding (docs/scaling.md): botgate.events -> SHARDS_EXCHANGE (headers, on HEADER_SHARD) ->
# one of the shard queues `botgate.core.<i>`. An event whose shard has no queue (no header, or
# one stamped for another shard count) falls to the alternate exchange and UNROUTED_QUEUE,
# from which a core sends it on to the right shard: nothing is dropped.
SHARDS_EXCHANGE = "botgate.core.shards"
UNROUTED_EXCHANGE = "botgate.core.unrouted"
UNROUTED_QUEUE = "botgate.core.unrouted"
MEMBERS_QUEUE = "botgate.core.members"  # `.<shards>`: every core of that layout consumes it
DEFAULT_SHARDS = 16
# "<index>/<shards>", stamped by the publisher. Not `x-`: a headers exchange ignores those.
HEADER_SHARD = "botgate-shard"
HEADER_REROUTED = "x-botgate-rerouted"  # sent on from the unrouted queue once already
DEAD_QUEUE = "botgate.dead"
AUTOMATIONS_QUEUE = "botgate.automations"  # the events that fire automations
REPLY_QUEUE_EXPIRES_S = 300.0

HEADER_REASON = "x-botgate-reason"
HEADER_ORIGIN_EXCHANGE = "x-botgate-origin-exchange"
HEADER_ORIGIN_QUEUE = "x-botgate-origin-queue"  # the queue whose consumer gave up on it
HEADER_ERROR = "x-botgate-error"  # the exception class, when one was the cause
HEADER_ATTEMPTS = "x-botgate-attempts"
DEAD_HEADERS = (
    HEADER_REASON,
    HEADER_ORIGIN_EXCHANGE,
    HEADER_ORIGIN_QUEUE,
    HEADER_ERROR,
    HEADER_ATTEMPTS,
)
HEADER_REDRIVE = "x-botgate-redrive"  # on a re-driven dead letter: its dead-letter id
HEADER_REPLAY = "x-botgate-replay"  # on an event `botgate replay` published again: "1"
HEADER_TRACEPARENT = "traceparent"
# On an action the core published again after a crash (its answer was owed): the adapter
# looks it up in the send ledger before sending. Not the replay of an event above.
HEADER_REPUBLISHED = "x-botgate-republished"
# On a held send coming back from its delay queue: the hold's attempt number it wakes.
HEADER_WAKE = "x-botgate-wake"


def actions_queue(platform: str, bot: str) -> str:
    return f"{ACTIONS_EXCHANGE}.{platform}.{bot}"


ExchangeKind = Literal["topic", "headers", "fanout"]


@dataclass(frozen=True)
class Binding:
    """To a topic exchange by `pattern`; to a headers exchange by `header` (name, value),
    which must match exactly; to a fanout exchange, everything."""

    exchange: str
    pattern: str
    header: tuple[str, str] | None = None


@dataclass(frozen=True)
class ExchangeSpec:
    """A private exchange: fed from other exchanges (`sources`), and handing what it cannot
    route to `alternate` (AMQP `alternate-exchange`)."""

    name: str
    kind: ExchangeKind
    sources: tuple[Binding, ...] = ()
    alternate: str | None = None


@dataclass(frozen=True)
class QueueSpec:
    """A queue and what it is bound to.

    `exclusive` queues die with their connection. An `expires_s` queue is deleted by the broker
    once it has had no consumer for that long (AMQP `x-expires`); the in-process bus ignores
    it, as its queues die with the process. A `single_active` queue delivers to one consumer
    at a time, in order; when it goes, the next consumer takes over (AMQP
    `x-single-active-consumer`). A `ttl_s` queue is a delay: its messages wait that long, then
    move to `dead_letter_to` (AMQP `x-message-ttl` with a dead-letter route).
    """

    name: str
    bindings: tuple[Binding, ...] = ()
    durable: bool = True
    exclusive: bool = False
    quorum: bool = True
    expires_s: float | None = None
    single_active: bool = False  # one consumer at a time gets messages; the next takes over
    ttl_s: float | None = None  # messages expire after this long ...
    dead_letter_to: str | None = None  # ... into this queue (through the default exchange)


def shard_of(conversation_key: str, shards: int) -> int:
    """The shard of a conversation: stable across processes, versions and machines."""
    return zlib.crc32(conversation_key.encode()) % shards


def shard_label(index: int, shards: int) -> str:
    """The HEADER_SHARD value: with the count, so that an event stamped under another shard
    count matches no binding and is sent on by a core instead of splitting a conversation."""
    return f"{index}/{shards}"


def shard_queue_name(index: int) -> str:
    return f"{CORE_QUEUE}.{index}"


def shards_exchange() -> ExchangeSpec:
    return ExchangeSpec(
        SHARDS_EXCHANGE, "headers", (Binding(EVENTS_EXCHANGE, "#"),), UNROUTED_EXCHANGE
    )


def unrouted_exchange() -> ExchangeSpec:
    return ExchangeSpec(UNROUTED_EXCHANGE, "fanout")


def shard_queue(index: int, shards: int) -> QueueSpec:
    header = (HEADER_SHARD, shard_label(index, shards))
    binding = Binding(SHARDS_EXCHANGE, "", header)
    return QueueSpec(shard_queue_name(index), (binding,), single_active=True)


def unrouted_queue() -> QueueSpec:
    return QueueSpec(UNROUTED_QUEUE, (Binding(UNROUTED_EXCHANGE, ""),), single_active=True)


def members_queue(shards: int) -> QueueSpec:
    """Its consumers are the running cores with this shard count."""
    return QueueSpec(f"{MEMBERS_QUEUE}.{shards}")


def adapter_queue(platform: str, bot: str) -> QueueSpec:
    """One bot's actions, consumed by one adapter process at a time: sends keep their order."""
    return QueueSpec(
        actions_queue(platform, bot),
        (Binding(ACTIONS_EXCHANGE, f"{platform}.{bot}"),),
        single_active=True,
    )


def hold_queue(platform: str, bot: str, delay_s: float) -> QueueSpec:
    """Where a held send of one bot waits `delay_s` before it comes back to the bot's queue.

    One queue per delay: with one TTL per queue every message expires at the head, in order.
    A classic queue: nobody consumes it, and its messages only pass through.
    """
    target = actions_queue(platform, bot)
    name = f"{target}.hold.{round(delay_s * 1000)}ms"
    return QueueSpec(name, quorum=False, ttl_s=delay_s, dead_letter_to=target)


def dead_queue() -> QueueSpec:
    return QueueSpec(DEAD_QUEUE, (Binding(DEAD_EXCHANGE, "#"),))


def automations_queue(patterns: Iterable[str]) -> QueueSpec:
    """Bound to botgate.events with the patterns of the event automations."""
    bindings = tuple(Binding(EVENTS_EXCHANGE, pattern) for pattern in sorted(set(patterns)))
    return QueueSpec(AUTOMATIONS_QUEUE, bindings)


def reply_queue(name: str) -> QueueSpec:
    """A process's private queue for RPC answers (`?wait=1`, bus tools).

    Not exclusive: an exclusive queue dies with its connection, so an answer the core sent
    while this process was reconnecting was dropped as unroutable. This one outlives a
    connection drop and a broker restart, and the broker removes it once its process has been
    gone for REPLY_QUEUE_EXPIRES_S.
    """
    return QueueSpec(name, durable=True, quorum=False, expires_s=REPLY_QUEUE_EXPIRES_S)


def webchat_queue(name: str, bots: Iterable[str]) -> QueueSpec:
    """A socket-serving process's own copy of its bots' web chat frames. Exclusive: it dies
    with the process (or its connection; frames meanwhile are lost, and the history covers
    the replies), so no frames pile up for a gateway that is gone."""
    bindings = tuple(Binding(WEBCHAT_EXCHANGE, bot) for bot in sorted(set(bots)))
    return QueueSpec(name, bindings, durable=False, exclusive=True, quorum=False)


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
