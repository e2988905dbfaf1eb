"""Event automations: the queue `botgate.automations`, bound to botgate.events with their
patterns, is consumed by every core process (each event goes to one of them).

An automation fires on the events of its own bot whose routing key matches its pattern;
`message.sent` (the bot's own messages) never fires one, so an automation cannot set itself
off. A redelivered event finds its firing claimed and does not run it again. Patterns that
the configuration no longer has are unbound on start.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

from gateway.automations.runner import Fire, Firing
from gateway.bus.base import Bus, Delivery, Failure, Subscription
from gateway.bus.processing import dead_letter_now, give_up_or_retry
from gateway.bus.topology import (
    AUTOMATIONS_QUEUE,
    EVENTS_EXCHANGE,
    HEADER_TRACEPARENT,
    Binding,
    automations_queue,
    topic_matches,
)
from gateway.config import AutomationConfig
from gateway.errors import PermanentError
from gateway.events import Event, decode_event
from gateway.metrics import Metrics

log = logging.getLogger(__name__)
PREFETCH = 32  # events whose automations run at once in one process


class EventTriggers:
    def __init__(
        self,
        bus: Bus,
        automations: Sequence[tuple[AutomationConfig, uuid.UUID]],
        fire: Fire,
        metrics: Metrics,
        max_attempts: int,
    ) -> None:
        self.bus, self.automations, self.fire = bus, automations, fire
        self.metrics, self.max_attempts = metrics, max_attempts
        self._subscription: Subscription | None = None

    async def start(self, dropped: frozenset[str] = frozenset()) -> None:
        """Bind the queue to today's patterns (unbinding `dropped` ones) and consume it."""
        patterns = {automation.event for automation, _ in self.automations if automation.event}
        stale = dropped - patterns
        if stale and not patterns:
            await self.bus.delete_queue(AUTOMATIONS_QUEUE)  # with whatever waited in it
            return
        for pattern in sorted(stale):
            await self.bus.unbind_queue(AUTOMATIONS_QUEUE, Binding(EVENTS_EXCHANGE, pattern))
        if patterns:
            await self.bus.declare_queue(automations_queue(patterns))
            self._subscription = await self.bus.consume(
                AUTOMATIONS_QUEUE, self.handle, prefetch=PREFETCH
            )

    async def stop(self) -> None:
        if self._subscription is not None:
            await self._subscription.cancel()

    def matching(self, event: Event) -> list[tuple[AutomationConfig, uuid.UUID]]:
        if event.type == "message.sent":
            return []
        key = event.routing_key
        return [
            (automation, automation_id)
            for automation, automation_id in self.automations
            if automation.bot == event.bot
            and automation.event is not None
            and topic_matches(automation.event, key)
        ]

    async def handle(self, delivery: Delivery) -> None:
        message = delivery.message
        try:
            event = decode_event(message.body, message.model)
        except PermanentError as exc:
            await dead_letter_now(delivery, Failure(str(exc), type(exc).__name__), self.metrics)
            return
        traceparent = message.headers.get(HEADER_TRACEPARENT)
        try:
            for automation, automation_id in self.matching(event):
                await self.fire(Firing.by_event(automation, automation_id, event, traceparent))
        except Exception as exc:  # the claim or the record failed: try the event again later
            reason = f"automations of event {event.id}: {type(exc).__name__}: {exc}"
            await give_up_or_retry(
                delivery, reason, self.max_attempts, type(exc).__name__, self.metrics
            )
            return
        await delivery.ack()
