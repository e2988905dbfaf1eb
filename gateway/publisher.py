"""Publishing inbound events: the routing key, the AMQP properties, the trace context."""

from __future__ import annotations

from gateway.bus.base import Bus, Message
from gateway.bus.topology import EVENTS_EXCHANGE, HEADER_TRACEPARENT
from gateway.events import Event, encode
from gateway.tracing import new_traceparent


def event_message(
    event: Event, traceparent: str | None = None, reply_to: str | None = None
) -> Message:
    headers = {HEADER_TRACEPARENT: traceparent or new_traceparent()}
    return Message(
        EVENTS_EXCHANGE,
        event.routing_key,
        encode(event),
        str(event.id),
        headers,
        reply_to,
        model=event,
    )


async def publish_event(
    bus: Bus, event: Event, traceparent: str | None = None, reply_to: str | None = None
) -> None:
    """Returns once the bus confirmed the event; raises BusUnavailable otherwise."""
    await bus.publish(event_message(event, traceparent, reply_to))
