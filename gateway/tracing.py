"""W3C trace context across the pipeline, and OpenTelemetry spans when tracing is on.

The context travels in the AMQP header `traceparent` from the webhook to the platform send;
around a send the action runner puts it in `current_traceparent` for the adapter to pass on.

Spans are made only after `enable()` was given a tracer provider (gateway/otel.py does it from
the standard OTEL_* variables). Until then `span()` hands back one shared no-op context manager
and `start()` None: the hot path allocates nothing and asks nothing of OpenTelemetry.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from contextvars import ContextVar

from opentelemetry.context import Context
from opentelemetry.trace import (
    Link,
    Span,
    SpanKind,
    Status,
    StatusCode,
    Tracer,
    TracerProvider,
    get_current_span,
    set_span_in_context,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

current_traceparent: ContextVar[str | None] = ContextVar("current_traceparent", default=None)
Attributes = Mapping[str, str | bool | int | float]

_tracer: Tracer | None = None
_propagator = TraceContextTextMapPropagator()
_OFF: AbstractContextManager[None] = nullcontext()


def new_traceparent() -> str:
    """A fresh trace context for a request that arrived without one. Trace ids need to be
    unique, not secret: the fast generator is the right one (no system call per request)."""
    return f"00-{random.getrandbits(128):032x}-{random.getrandbits(64):016x}-01"


def enable(provider: TracerProvider) -> None:
    global _tracer
    _tracer = provider.get_tracer("botgate")


def disable() -> None:
    global _tracer
    _tracer = None


def enabled() -> bool:
    return _tracer is not None


def span(
    name: str,
    *,
    parent: str | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Attributes | None = None,
) -> AbstractContextManager[Span | None]:
    """A span around a block, current inside it (an exception marks it failed): a child of
    `parent`, a traceparent, when given, else of the current span. For example
    `with tracing.span("tool.call", parent=traceparent, attributes={"tool": name}):`."""
    if _tracer is None:
        return _OFF
    return _tracer.start_as_current_span(
        name, context=_context(parent), kind=kind, attributes=attributes
    )


def start(
    name: str,
    *,
    parent: str | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Attributes | None = None,
    links: Sequence[str | None] = (),
) -> Span | None:
    """A span that is not made current, to `finish` later: for work that outlives a block
    (an event's span across its batch). `links` are traceparents of related traces."""
    if _tracer is None:
        return None
    related = [link for link in map(_link, links) if link is not None]
    return _tracer.start_span(
        name, context=_context(parent), kind=kind, attributes=attributes, links=related
    )


def finish(span: Span | None, error: BaseException | str | None = None) -> None:
    if span is not None:
        fail(span, error)
        span.end()


def fail(span: Span | None, error: BaseException | str | None) -> None:
    """Mark the span failed (an exception is recorded on it); None changes nothing."""
    if span is None or error is None:
        return
    if isinstance(error, BaseException):
        span.record_exception(error)
        error = f"{type(error).__name__}: {error}"
    span.set_status(Status(StatusCode.ERROR, error))


def traceparent_of(span: Span | None) -> str | None:
    """The span's context as a `traceparent` header value, to carry on with a message."""
    if span is None:
        return None
    carrier: dict[str, str] = {}
    _propagator.inject(carrier, set_span_in_context(span))
    return carrier.get("traceparent")


def trace_ids(traceparent: str | None) -> tuple[str, str] | None:
    """(trace id, span id) of a traceparent, for logs; None if it is not one."""
    parts = traceparent.split("-") if traceparent else ()
    if len(parts) != 4 or len(parts[1]) != 32 or len(parts[2]) != 16:
        return None
    return parts[1], parts[2]


def _context(parent: str | None) -> Context | None:
    return _propagator.extract({"traceparent": parent}) if parent else None


def _link(traceparent: str | None) -> Link | None:
    if not traceparent:
        return None
    context = get_current_span(_propagator.extract({"traceparent": traceparent})).get_span_context()
    return Link(context) if context.is_valid else None
