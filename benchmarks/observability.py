"""Micro-benchmark: what the tracing hooks add to one event's path, with tracing off and on.

`python -m benchmarks.observability` times, per event, the hooks exactly as the pipeline runs
them: the webhook's span, the core's event and batch spans (batches of 100) and the send's
span. With tracing off each is a shared no-op context manager or a None check; with tracing
on they make real SDK spans (sampled, handed to a span processor that drops them, so that the
exporter's own cost is left out). JSON logging is not on the hot path: it formats only the
records that are logged.
"""

from __future__ import annotations

import timeit
from dataclasses import dataclass
from typing import cast

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.trace import SpanKind

from gateway import tracing
from gateway.bus.base import Delivery, Message
from gateway.bus.topology import EVENTS_EXCHANGE
from gateway.core.consumer import _end_spans, _Item, _trace
from gateway.events import ChannelRef, Event, utcnow
from gateway.http.webhooks import ROUTE, _describe

BATCH = 100
INCOMING = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@dataclass
class _Delivery:
    message: Message
    attempt: int = 1


class _Drop(SpanProcessor):
    def on_end(self, span: ReadableSpan) -> None:
        pass


def webhook_hooks() -> str | None:
    with tracing.span(f"POST {ROUTE}", parent=INCOMING, kind=SpanKind.SERVER) as span:
        traceparent = tracing.traceparent_of(span) or INCOMING
        _describe(span, "generic", "helpdesk", 202)
    return traceparent


def send_hooks() -> str | None:
    with tracing.span("send generic", parent=INCOMING, kind=SpanKind.CLIENT) as span:
        if span is not None:
            span.set_attributes({"botgate.platform": "generic", "botgate.bot": "helpdesk"})
        return tracing.traceparent_of(span) or INCOMING


def core_hooks(items: list[_Item]) -> None:
    batch_span = _trace(items) if tracing.enabled() else None
    tracing.finish(batch_span)
    _end_spans(items)


def _items() -> list[_Item]:
    items = []
    for n in range(BATCH):
        event = Event(
            type="message.created",
            platform="generic",
            bot="helpdesk",
            dedupe_key=f"generic:helpdesk:{n}",
            occurred_at=utcnow(),
            conversation_key="generic:helpdesk:room",
            channel=ChannelRef(id="room"),
        )
        message = Message(EVENTS_EXCHANGE, event.routing_key, b"{}", str(event.id))
        items.append(_Item(cast(Delivery, _Delivery(message)), event, INCOMING))
    return items


def per_event_ns(rounds: int) -> dict[str, float]:
    items = _items()
    webhook = timeit.timeit(webhook_hooks, number=rounds) / rounds
    send = timeit.timeit(send_hooks, number=rounds) / rounds
    core = timeit.timeit(lambda: core_hooks(items), number=max(rounds // BATCH, 1))
    core /= max(rounds // BATCH, 1) * BATCH
    return {
        "webhook_ns": webhook * 1e9,
        "core_ns": core * 1e9,
        "send_ns": send * 1e9,
        "total_ns": (webhook + core + send) * 1e9,
    }


def main() -> None:
    off = per_event_ns(200_000)
    provider = TracerProvider()
    provider.add_span_processor(_Drop())
    tracing.enable(provider)
    try:
        on = per_event_ns(20_000)
    finally:
        tracing.disable()
    for name, figures in (("tracing off", off), ("tracing on", on)):
        described = ", ".join(f"{key} {value:,.0f}" for key, value in figures.items())
        print(f"{name}: {described}")


if __name__ == "__main__":
    main()
