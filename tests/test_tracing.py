"""OpenTelemetry spans: one trace from the webhook through the bus and the core to the platform
send and the `message.sent` it reports, joined by the `traceparent` the messages carry; and
nothing at all while tracing is off. Set-up from the OTEL_* variables."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from gateway import tracing
from gateway.errors import ConfigError
from gateway.otel import exporter_names, provider_from_environment, tracing_from_environment
from tests.support.pipeline import (
    CallbackReceiver,
    GenericClient,
    eventually,
    generic_bot,
    make_settings,
    message,
    running,
)

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
CALLER = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.enable(provider)
    yield exporter
    tracing.disable()
    provider.shutdown()


def _named(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [span for span in exporter.get_finished_spans() if span.name == name]


def _ids(span: ReadableSpan) -> tuple[str, str]:
    assert span.context is not None
    return f"{span.context.trace_id:032x}", f"{span.context.span_id:016x}"


def _parent(span: ReadableSpan) -> str | None:
    return f"{span.parent.span_id:016x}" if span.parent else None


async def test_one_trace_runs_from_the_webhook_to_the_send_and_back(
    backend: tuple[str, str], spans: InMemorySpanExporter
) -> None:
    async with CallbackReceiver() as receiver:
        bots = [generic_bot("helpdesk", callback_url=receiver.url)]
        async with running(make_settings(*backend, bots=bots)) as runtime:
            client = GenericClient(runtime.http.url)
            try:
                status, _ = await client.post(message("/help"), headers={"traceparent": CALLER})
            finally:
                await client.close()
            assert status == 202
            # the message.sent event, recorded by the core, closes the loop
            await eventually(lambda: _count(spans, "process botgate.core", 2))

    [server] = _named(spans, "POST /webhooks/{platform}/{bot}")
    created, reported = sorted(
        _named(spans, "process botgate.core"),
        key=lambda span: str(span.attributes and span.attributes["botgate.event.type"]),
    )
    [send] = _named(spans, "send generic")
    [tool] = _named(spans, "tool.call")
    assert server.kind is SpanKind.SERVER
    assert _parent(server) == CALLER_SPAN
    assert server.attributes is not None
    assert server.attributes["http.response.status_code"] == 202
    assert created.kind is SpanKind.CONSUMER
    assert _parent(created) == _ids(server)[1]
    assert created.attributes is not None
    assert created.attributes["botgate.event.type"] == "message.created"
    assert _parent(tool) == _ids(created)[1]  # the tool ran in the event's trace
    assert tool.attributes is not None
    assert tool.attributes["botgate.tool"] == "help"
    assert send.kind is SpanKind.CLIENT
    assert _parent(send) == _ids(created)[1]
    assert reported.attributes is not None
    assert reported.attributes["botgate.event.type"] == "message.sent"
    assert _parent(reported) == _ids(send)[1]
    assert {_ids(s)[0] for s in (server, created, tool, send, reported)} == {CALLER_TRACE}
    # the platform (here the callback) got the send's context
    [(headers, _)] = receiver.requests
    assert headers["traceparent"] == f"00-{CALLER_TRACE}-{_ids(send)[1]}-01"
    # each batch is a span of its own, linked to the events it recorded
    linked = {
        f"{link.context.span_id:016x}" for b in _named(spans, "core.batch") for link in b.links
    }
    assert {_ids(created)[1], _ids(reported)[1]} <= linked


async def _count(exporter: InMemorySpanExporter, name: str, wanted: int) -> bool:
    return len(_named(exporter, name)) >= wanted


async def test_a_failed_send_marks_its_span(
    sqlite_url: str, memory_url: str, spans: InMemorySpanExporter
) -> None:
    bots = [generic_bot("helpdesk", callback_url="http://127.0.0.1:9/hook", callback_attempts=1)]
    async with running(make_settings(sqlite_url, memory_url, bots=bots)) as runtime:
        client = GenericClient(runtime.http.url)
        try:
            await client.post(message("/help"))
        finally:
            await client.close()
        await eventually(lambda: _count(spans, "send generic", 1))

    [send] = _named(spans, "send generic")
    assert send.status.status_code is StatusCode.ERROR
    assert any(event.name == "exception" for event in send.events)


async def test_while_tracing_is_off_nothing_is_made(sqlite_url: str, memory_url: str) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))  # configured, never enabled
    assert not tracing.enabled()
    assert tracing.span("a") is tracing.span("b")  # one shared no-op, nothing allocated
    assert tracing.start("a") is None
    async with running(make_settings(sqlite_url, memory_url)) as runtime:
        client = GenericClient(runtime.http.url)
        try:
            status, body = await client.post(message("/help"), wait=True)
        finally:
            await client.close()
    assert status == 200
    assert body["replies"]
    assert exporter.get_finished_spans() == ()
    provider.shutdown()


@pytest.mark.parametrize(
    ("environ", "names"),
    [
        ({}, []),
        ({"OTEL_TRACES_EXPORTER": "none"}, []),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, ["otlp"]),
        ({"OTEL_TRACES_EXPORTER": "otlp, console"}, ["otlp", "console"]),
        ({"OTEL_TRACES_EXPORTER": "console", "OTEL_SDK_DISABLED": "true"}, []),
    ],
)
def test_tracing_is_off_unless_the_environment_asks(
    environ: dict[str, str], names: list[str]
) -> None:
    assert exporter_names(environ) == names


def test_the_environment_turns_tracing_on_for_the_block_only() -> None:
    with tracing_from_environment({"OTEL_TRACES_EXPORTER": "console"}) as on:
        assert on
        assert tracing.enabled()
    assert not tracing.enabled()
    with tracing_from_environment({}) as on:
        assert not on
        assert not tracing.enabled()


@pytest.mark.parametrize(
    ("environ", "says"),
    [
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "does not know the exporter 'zipkin'"),
        (
            {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "carrier-pigeon"},
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ),
    ],
)
def test_a_wrong_otel_variable_is_one_clear_error(environ: dict[str, str], says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        provider_from_environment(environ)
