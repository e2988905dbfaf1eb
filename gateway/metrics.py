"""Prometheus metrics, on a registry per process (not the global one: tests run many apps)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.received = Counter(
            "botgate_events_received",
            "Webhook requests received",
            ["platform", "status"],
            registry=self.registry,
        )
        self.published = Counter(
            "botgate_events_published",
            "Events confirmed by the bus",
            ["platform"],
            registry=self.registry,
        )
        self.processed = Counter(
            "botgate_events_processed",
            "Events the core committed",
            ["outcome"],
            registry=self.registry,
        )
        self.failed = Counter(
            "botgate_events_failed",
            "Events dead-lettered or handed back",
            ["reason"],
            registry=self.registry,
        )
        self.actions = Counter(
            "botgate_actions",
            "Actions the adapters settled",
            ["platform", "outcome"],
            registry=self.registry,
        )
        self.processing_seconds = Histogram(
            "botgate_processing_seconds",
            "Core time per batch of events",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.webhook_seconds = Histogram(
            "botgate_webhook_seconds",
            "Webhook request to answer",
            ["platform"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "botgate_batch_size",
            "Events per core batch",
            buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500),
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
