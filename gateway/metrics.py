"""Prometheus metrics, on a registry per process (not the global one: tests run many apps).

Queue gauges are filled at scrape time by `QueueSampler` (the broker's counts on RabbitMQ, the
in-process bus's own counts on `memory://`); process resources come from prometheus_client's
process collector.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Generic, TypeVar

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.metrics import MetricWrapperBase

from gateway.bus.base import Bus
from gateway.errors import BusUnavailable

log = logging.getLogger(__name__)

M = TypeVar("M", bound=MetricWrapperBase)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Labelled(Generic[M]):
    """A labelled metric whose children are looked up once per set of label values:
    prometheus_client's `labels()` validates and takes a lock on every call, which showed in
    the hot path's profile (several calls per event)."""

    def __init__(self, metric: M) -> None:
        self.metric = metric
        self._children: dict[tuple[str, ...], M] = {}

    def labels(self, *values: str) -> M:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self.metric.labels(*values)
        return child


class Metrics:
    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        self.received = self._counter(
            "botgate_events_received", "Webhook requests received", "platform", "status"
        )
        self.published = self._counter(
            "botgate_events_published", "Events confirmed by the bus", "platform"
        )
        self.processed = self._counter(
            "botgate_events_processed", "Events the core committed", "outcome"
        )
        self.failed = self._counter(
            "botgate_events_failed", "Events dead-lettered or handed back", "reason"
        )
        self.dead = self._counter(
            "botgate_events_dead", "Events the core dead-lettered, by stage", "stage"
        )
        self.actions = self._counter(
            "botgate_actions", "Actions the adapters settled", "platform", "outcome"
        )
        self.processing_seconds = Histogram(
            "botgate_processing_seconds",
            "Core time per batch of events",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.webhook_seconds = Labelled(
            Histogram(
                "botgate_webhook_seconds",
                "Webhook request to answer",
                ["platform"],
                buckets=LATENCY_BUCKETS,
                registry=registry,
            )
        )
        self.tool_calls = self._counter(
            "botgate_tool_calls", "Tool calls by how they ended", "tool", "outcome"
        )
        self.tool_seconds = Labelled(
            Histogram(
                "botgate_tool_seconds",
                "Time a tool took to answer",
                ["tool"],
                buckets=LATENCY_BUCKETS,
                registry=registry,
            )
        )
        # The assistant: labels are the bot's name and its configured model, nothing else.
        self.assistant_requests = self._counter(
            "botgate_assistant_requests",
            "Model requests by how they ended (ok, error, timeout, garbage, refused)",
            "bot",
            "model",
            "outcome",
        )
        self.assistant_tokens = self._counter(
            "botgate_assistant_tokens",
            "Tokens the model read (in) and wrote (out)",
            "bot",
            "model",
            "direction",
        )
        self.assistant_first_token_seconds = self._histogram(
            "botgate_assistant_first_token_seconds", "Request to the model's first chunk"
        )
        self.assistant_seconds = self._histogram(
            "botgate_assistant_seconds", "Request to the model's whole answer"
        )
        self.answers_pending = Gauge(
            "botgate_answers_pending", "Answers owed and not yet published", registry=registry
        )
        self.batch_size = Histogram(
            "botgate_batch_size",
            "Events per core batch",
            buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500),
            registry=registry,
        )
        self.dead_letters = self._counter(
            "botgate_dead_letters", "Messages moved to botgate.dead, by the exchange", "exchange"
        )
        self.retries = self._counter(
            "botgate_retries",
            "Work tried again: redelivery (handed back to its queue), send (a platform send)",
            "kind",
        )
        self.automation_runs = self._counter(
            "botgate_automation_runs",
            "Automation firings: succeeded, failed, or elsewhere (another process ran it)",
            "automation",
            "outcome",
        )
        self.queue_messages = self._gauge(
            "botgate_queue_messages", "Messages ready in the queue", "queue"
        )
        self.queue_consumers = self._gauge(
            "botgate_queue_consumers", "Consumers of the queue", "queue"
        )
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)

    def _counter(self, name: str, documentation: str, *labels: str) -> Labelled[Counter]:
        return Labelled(Counter(name, documentation, labels, registry=self.registry))

    def _gauge(self, name: str, documentation: str, *labels: str) -> Labelled[Gauge]:
        return Labelled(Gauge(name, documentation, labels, registry=self.registry))

    def _histogram(self, name: str, documentation: str) -> Labelled[Histogram]:
        buckets = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120)
        return Labelled(
            Histogram(
                name, documentation, ["bot", "model"], buckets=buckets, registry=self.registry
            )
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


class QueueSampler:
    """Reads the depth and consumer count of the gateway's queues into the gauges, when
    /metrics is scraped. A queue that does not exist (yet) is left out; a broker that does not
    answer in time leaves the last values."""

    def __init__(
        self, bus: Bus, metrics: Metrics, queues: Sequence[str], timeout: float = 5.0
    ) -> None:
        self.bus, self.metrics, self.queues, self.timeout = bus, metrics, queues, timeout

    async def refresh(self) -> None:
        try:
            async with asyncio.timeout(self.timeout):
                stats = await asyncio.gather(*(self.bus.queue_stats(q) for q in self.queues))
        except (BusUnavailable, TimeoutError) as exc:
            why = exc or "the broker did not answer"
            self.bus.outage.failed(log, exc, "queue metrics not refreshed: %s", why)
            return
        for queue, counts in zip(self.queues, stats, strict=True):
            if counts is not None:
                self.metrics.queue_messages.labels(queue).set(counts.ready)
                self.metrics.queue_consumers.labels(queue).set(counts.consumers)
