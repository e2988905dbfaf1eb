"""Messages for the bus: events and actions with their routing key, AMQP properties and
trace context."""

from __future__ import annotations

from gateway.bus.base import Bus, Message
from gateway.bus.topology import (
    ACTIONS_EXCHANGE,
    DEFAULT_SHARDS,
    EVENTS_EXCHANGE,
    HEADER_SHARD,
    HEADER_TRACEPARENT,
    shard_label,
    shard_of,
)
from gateway.events import Action, Event, encode
from gateway.tracing import new_traceparent


def event_message(
    event: Event,
    traceparent: str | None = None,
    reply_to: str | None = None,
    *,
    shards: int = DEFAULT_SHARDS,
) -> Message:
    """The event for `botgate.events`, stamped with its conversation's shard (`[bus] shards`)
    for the core's shard queues; the public routing key is the contract's."""
    shard = shard_label(shard_of(event.conversation_key, shards), shards)
    headers = {HEADER_TRACEPARENT: traceparent or new_traceparent(), HEADER_SHARD: shard}
    return Message(
        EVENTS_EXCHANGE,
        event.routing_key,
        encode(event),
        str(event.id),
        headers,
        reply_to,
        model=event,
    )


def action_message(
    action: Action, traceparent: str | None = None, headers: dict[str, str] | None = None
) -> Message:
    """The action on its way to the adapter, carrying the trace context it was given."""
    headers = dict(headers or {})
    if traceparent:
        headers[HEADER_TRACEPARENT] = traceparent
    return Message(
        ACTIONS_EXCHANGE, action.routing_key, encode(action), str(action.id), headers, model=action
    )


async def publish_event(
    bus: Bus,
    event: Event,
    traceparent: str | None = None,
    reply_to: str | None = None,
    *,
    shards: int = DEFAULT_SHARDS,
) -> None:
    """Returns once the bus confirmed the event; raises BusUnavailable otherwise."""
    await bus.publish(event_message(event, traceparent, reply_to, shards=shards))
