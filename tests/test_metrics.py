from __future__ import annotations

from typing import cast

import aiohttp

from gateway.app import Runtime
from gateway.bus.base import Delivery, Failure, Message
from gateway.bus.processing import dead_letter_now, give_up_or_retry
from gateway.bus.topology import EVENTS_EXCHANGE
from gateway.metrics import Metrics
from tests.support.pipeline import count_rows, eventually, make_settings, running


def test_a_labelled_child_is_made_once_and_counts_into_the_exposition() -> None:
    metrics = Metrics()
    first = metrics.received.labels("telegram", "202")
    assert metrics.received.labels("telegram", "202") is first
    assert metrics.received.labels("slack", "202") is not first

    first.inc()
    metrics.received.labels("telegram", "202").inc(2)

    exposition = metrics.render().decode()
    assert 'botgate_events_received_total{platform="telegram",status="202"} 3.0' in exposition
    assert 'botgate_events_received_total{platform="slack",status="202"} 0.0' in exposition


async def test_metrics_show_queues_dead_letters_and_process_resources(
    backend: tuple[str, str],
) -> None:
    async with running(make_settings(*backend)) as runtime:
        await runtime.bus.publish(Message(EVENTS_EXCHANGE, "generic.helpdesk.x", b"{}", "bad-1"))
        await eventually(lambda: _dead_letters_counted(runtime))
        exposition = await _scrape(runtime)

    assert 'botgate_queue_consumers{queue="botgate.core.0"} 1.0' in exposition  # a shard
    assert 'botgate_queue_consumers{queue="botgate.actions.generic.helpdesk"} 1.0' in exposition
    assert 'botgate_queue_messages{queue="botgate.dead"} 0.0' in exposition  # kept, not queued
    assert 'botgate_queue_messages{queue="botgate.automations"}' not in exposition  # no queue
    assert 'botgate_dead_letters_total{exchange="botgate.events"} 1.0' in exposition
    assert "process_resident_memory_bytes" in exposition
    assert "process_cpu_seconds_total" in exposition


async def _dead_letters_counted(runtime: Runtime) -> bool:
    """The keeper moved it from `botgate.dead` into the dead-letter store."""
    return await count_rows(runtime, "dead_letters") == 1


async def _scrape(runtime: Runtime) -> str:
    async with aiohttp.ClientSession() as http, http.get(runtime.http.url + "/metrics") as answer:
        return await answer.text()


class _Delivery:
    def __init__(self, attempt: int) -> None:
        self.message = Message(EVENTS_EXCHANGE, "generic.helpdesk.message.created", b"{}", "m1")
        self.attempt = attempt
        self.settled: list[str] = []

    async def ack(self) -> None:
        self.settled.append("ack")

    async def reject(self, *, requeue: bool) -> None:
        self.settled.append(f"reject requeue={requeue}")

    async def dead_letter(self, failure: Failure) -> None:
        self.settled.append("dead")


async def test_the_ack_policy_counts_hand_backs_and_dead_letters() -> None:
    metrics = Metrics()
    first, last = _Delivery(attempt=1), _Delivery(attempt=3)

    assert not await give_up_or_retry(cast(Delivery, first), "flaky", 3, metrics=metrics)
    assert await give_up_or_retry(cast(Delivery, last), "flaky", 3, metrics=metrics)
    await dead_letter_now(cast(Delivery, _Delivery(attempt=1)), Failure("invalid"), metrics)

    assert (first.settled, last.settled) == (["reject requeue=True"], ["dead"])
    exposition = metrics.render().decode()
    assert 'botgate_retries_total{kind="redelivery"} 1.0' in exposition
    assert 'botgate_dead_letters_total{exchange="botgate.events"} 2.0' in exposition
