"""The ack policy, in one place: ack on success, dead-letter a permanent failure at once,
hand a transient one back for redelivery until `max_attempts`, then dead-letter it. With
`metrics`, each dead letter and each hand-back is counted."""

from __future__ import annotations

import logging

from gateway.bus.base import Delivery, Failure
from gateway.metrics import Metrics

log = logging.getLogger(__name__)


async def give_up_or_retry(
    delivery: Delivery,
    reason: str,
    max_attempts: int,
    error: str | None = None,
    metrics: Metrics | None = None,
) -> bool:
    """Requeue the delivery, or dead-letter it once it used its attempts. True if dead.
    `error` is the exception class that caused it, kept with the dead letter."""
    message = delivery.message
    if delivery.attempt >= max_attempts:
        log.error(
            "dead-lettering %s after %d attempts: %s", message.message_id, delivery.attempt, reason
        )
        await delivery.dead_letter(Failure(f"failed {delivery.attempt} times: {reason}", error))
        _count(metrics, delivery, dead=True)
        return True
    log.warning("handing back %s (attempt %d): %s", message.message_id, delivery.attempt, reason)
    await delivery.reject(requeue=True)
    _count(metrics, delivery, dead=False)
    return False


async def dead_letter_now(
    delivery: Delivery, failure: Failure, metrics: Metrics | None = None
) -> None:
    log.error("dead-lettering %s: %s", delivery.message.message_id, failure.reason)
    await delivery.dead_letter(failure)
    _count(metrics, delivery, dead=True)


def _count(metrics: Metrics | None, delivery: Delivery, *, dead: bool) -> None:
    if metrics is None:
        return
    if dead:
        metrics.dead_letters.labels(delivery.message.exchange or "(default)").inc()
    else:
        metrics.retries.labels("redelivery").inc()
