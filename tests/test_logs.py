"""Log lines as JSON when asked: one object per record, with the trace and span ids of the
span or trace context in hand, and the exception."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider

from gateway import codec, tracing
from gateway.config import settings_from_dict
from gateway.errors import ConfigError
from gateway.logs import JsonFormatter, use_format

TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def _record(message: str, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc else None
    return logging.LogRecord("botgate.test", logging.WARNING, __file__, 1, message, (), exc_info)


@pytest.fixture
def traced() -> Iterator[None]:
    provider = TracerProvider()
    tracing.enable(provider)
    yield
    tracing.disable()
    provider.shutdown()


def test_a_record_is_one_json_object_with_the_trace_context_in_hand() -> None:
    token = tracing.current_traceparent.set(TRACE)
    try:
        line = JsonFormatter().format(_record("sent %s"))
    finally:
        tracing.current_traceparent.reset(token)
    fields = codec.loads(line)
    assert "\n" not in line
    assert fields["level"] == "WARNING"
    assert fields["logger"] == "botgate.test"
    assert fields["message"] == "sent %s"
    assert (fields["trace_id"], fields["span_id"]) == (
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "00f067aa0ba902b7",
    )
    assert fields["time"].endswith("+00:00")


def test_under_a_span_the_line_has_its_ids(traced: None) -> None:
    with tracing.span("work", parent=TRACE) as span:
        fields = codec.loads(JsonFormatter().format(_record("inside")))
    assert span is not None
    assert fields["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert fields["span_id"] == f"{span.get_span_context().span_id:016x}"


def test_an_exception_is_kept_in_the_line_and_no_trace_means_no_ids() -> None:
    try:
        raise ValueError("boom")
    except ValueError as exc:
        fields = codec.loads(JsonFormatter().format(_record("failed", exc)))
    assert "ValueError: boom" in fields["exception"]
    assert "trace_id" not in fields


def test_the_format_follows_the_configuration() -> None:
    handler = logging.StreamHandler()
    log_format = settings_from_dict({"server": {"log_format": "json"}}).server.log_format
    use_format(log_format, [handler])
    assert isinstance(handler.formatter, JsonFormatter)
    use_format("text", [handler])
    assert not isinstance(handler.formatter, JsonFormatter)
    with pytest.raises(ConfigError, match=r"server\.log_format"):
        settings_from_dict({"server": {"log_format": "xml"}})
