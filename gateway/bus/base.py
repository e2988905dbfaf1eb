"""The bus contract. Two implementations (`memory://`, `amqp://`) pass one conformance suite.

Semantics both must keep:
- `publish` returns only once the broker confirmed the message; otherwise it raises
  BusUnavailable, and the caller must treat the message as not sent.
- Consumers get each message until they settle it: `ack`, or `reject(requeue=True)` to have it
  redelivered (with `attempt` one higher), or `dead_letter(failure)` to move it to
  `botgate.dead` with the reason, the error and the attempts in its headers. Unsettled
  messages are redelivered when the consumer stops or its connection drops.
- At most `prefetch` unsettled messages are in a consumer's hands at once.
- A queue declared `single_active` delivers to one consumer at a time (the earliest); the
  next takes over when it goes, after its unsettled messages are back in the queue.
- An `exclusive` consume takes the queue's lock: another exclusive consume is refused
  (QueueInUse) until it is cancelled or its connection drops (a lock that dies with its
  holder). Other consumers are not kept out; on a single-active queue they wait.
- Private exchanges (`declare_exchange`) route by topic, header or to all, are fed from other
  exchanges, and hand what they cannot route to their alternate exchange.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from gateway.bus.topology import (
    DEAD_EXCHANGE,
    HEADER_ATTEMPTS,
    HEADER_ERROR,
    HEADER_ORIGIN_EXCHANGE,
    HEADER_ORIGIN_QUEUE,
    HEADER_REASON,
    Binding,
    ExchangeSpec,
    QueueSpec,
)
from gateway.outage import Outage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Message:
    exchange: str
    routing_key: str
    body: bytes
    message_id: str
    headers: Mapping[str, str] = field(default_factory=dict)
    reply_to: str | None = None
    content_type: str = "application/json"
    correlation_id: str | None = None  # an RPC answer names the call it answers
    # The publisher's own validated model of `body`, if it has one. A consumer in the
    # publishing process takes it rather than parse the body again; it never crosses a
    # network bus (the AMQP bus keeps it aside for its own consumers).
    model: object | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class QueueStats:
    ready: int  # messages waiting (not those in consumers' hands)
    consumers: int


@dataclass(frozen=True)
class Failure:
    """Why a message is dead-lettered: the reason, the exception class that caused it (if
    any), and how many times it was tried."""

    reason: str
    error: str | None = None
    attempts: int | None = None


def dead_copy(message: Message, failure: Failure, queue: str, attempt: int) -> Message:
    """The message as `dead_letter` publishes it to `botgate.dead`: its own headers, plus
    why, from where, and after how many attempts (`attempt` unless the failure counted)."""
    headers = {
        **message.headers,
        HEADER_REASON: failure.reason,
        HEADER_ORIGIN_EXCHANGE: message.exchange,
        HEADER_ORIGIN_QUEUE: queue,
        HEADER_ATTEMPTS: str(failure.attempts or attempt),
    }
    if failure.error:
        headers[HEADER_ERROR] = failure.error
    return replace(message, exchange=DEAD_EXCHANGE, headers=headers, model=None)


class Delivery(Protocol):
    """A message in a consumer's hands, to be settled exactly once."""

    @property
    def message(self) -> Message: ...

    @property
    def attempt(self) -> int:
        """1 on first delivery, then one more for each redelivery."""
        ...

    async def ack(self) -> None: ...

    async def reject(self, *, requeue: bool) -> None: ...

    async def dead_letter(self, failure: Failure) -> None:
        """Publish to `botgate.dead` (why in headers, see `dead_copy`), then ack."""
        ...


# A handler returns the work to run for the delivery (an `async def` handler's coroutine),
# which the bus runs in a task of its own; or None when it took the delivery and is done
# (an intake that queues deliveries for a loop of its own: no task per delivery).
Handler = Callable[[Delivery], Coroutine[Any, Any, None] | None]


def start_handling(handler: Handler, delivery: Delivery) -> Coroutine[Any, Any, None] | None:
    """Give the delivery to the handler: the work for the bus to run in a task, or None when
    the handler took it. A failing handler leaves the delivery unsettled, and says so."""
    try:
        work = handler(delivery)
    except Exception:
        _log_failure(delivery.message)
        return None
    return None if work is None else _logged(work, delivery.message)


async def _logged(work: Coroutine[Any, Any, None], message: Message) -> None:
    try:
        await work
    except Exception:
        _log_failure(message)


def _log_failure(message: Message) -> None:
    log.exception(
        "bus handler failed on message %s from %s; it stays unsettled",
        message.message_id,
        message.exchange,
    )


class QueueInUse(Exception):
    """An exclusive consume on a queue that another consumer holds."""


class Subscription(Protocol):
    async def cancel(self) -> None:
        """Stop receiving; unsettled deliveries go back to the queue (ahead of the messages
        waiting there, in their order)."""
        ...

    async def pause(self) -> None:
        """Stop receiving, but keep the queue (and its lock) until `cancel`: the deliveries
        in hand can still be acknowledged, and `cancel` returns the others in order."""
        ...

    @property
    def lost(self) -> bool:
        """An exclusive consumer whose connection dropped: it receives nothing any more, and
        another consumer may hold the queue now. (Others consume again after a reconnect.)"""
        ...


class Bus(Protocol):
    """An event bus: topic exchanges, durable queues, confirmed publishing, manual acks."""

    url_for_display: str
    outage: Outage  # what the loops that fail while the broker is away report to

    async def connect(self) -> None:
        """Connect and declare the public topology. Fails fast when the broker is unreachable."""
        ...

    async def close(self) -> None: ...

    async def publish(self, message: Message) -> None: ...

    async def declare_queue(self, spec: QueueSpec) -> None: ...

    async def declare_exchange(self, spec: ExchangeSpec) -> None: ...

    async def unbind_queue(self, name: str, binding: Binding) -> None:
        """Remove one binding of the queue; a queue or binding that is not there is no error."""
        ...

    async def delete_queue(self, name: str) -> None: ...

    async def has_queue(self, name: str) -> bool: ...

    async def consume(
        self, queue: str, handler: Handler, *, prefetch: int, exclusive: bool = False
    ) -> Subscription:
        """Deliver messages of `queue` to `handler`; the handler settles each one. An
        `exclusive` consume raises QueueInUse when another exclusive consumer holds it."""
        ...

    async def ack_all(self, deliveries: Sequence[Delivery]) -> None:
        """Acknowledge deliveries of this bus's consumers (one batch's, say); the broker may
        be told in fewer frames than one per delivery."""
        ...

    async def queue_depth(self, name: str) -> int:
        """Messages waiting in the queue (not counting those in consumers' hands)."""
        ...

    async def queue_stats(self, name: str) -> QueueStats | None:
        """Messages waiting and consumers of the queue; None if there is no such queue."""
        ...

    async def healthy(self) -> bool: ...
