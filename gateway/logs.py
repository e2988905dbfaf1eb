"""Logging set-up: one line per record on stderr, as text or, when asked
(`[server] log_format = "json"`), as JSON with the trace id. Secrets and bodies are never
logged."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from typing import Literal

from aiohttp.http_exceptions import HttpProcessingError
from opentelemetry.trace import get_current_span

from gateway import codec, tracing

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LogFormat = Literal["text", "json"]


def setup_logging(level: str | None = None, log_format: LogFormat = "text") -> None:
    logging.basicConfig(
        level=(level or os.environ.get("BOTGATE_LOG_LEVEL", "INFO")).upper(),
        format=TEXT_FORMAT,
    )
    use_format(log_format)
    logging.getLogger("aiohttp.server").addFilter(MalformedHttpFilter())
    for noisy in ("aiormq", "aio_pika", "alembic", "httpx", "discord", "telegram", "slack_sdk"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def use_format(log_format: LogFormat, handlers: list[logging.Handler] | None = None) -> None:
    """Switch the handlers (the root logger's) to text or JSON lines: the config is read after
    logging started, so that its errors are logged too."""
    formatter = JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    for handler in logging.getLogger().handlers if handlers is None else handlers:
        handler.setFormatter(formatter)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, the trace and span ids when
    the record was made under a trace, and the exception."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        ids = _trace_ids()
        if ids is not None:
            line["trace_id"], line["span_id"] = ids
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return codec.dumps(line).decode()


def _trace_ids() -> tuple[str, str] | None:
    """The current span's ids when tracing is on, else those of the trace context in hand."""
    if tracing.enabled():
        context = get_current_span().get_span_context()
        if context.is_valid:
            return f"{context.trace_id:032x}", f"{context.span_id:016x}"
    return tracing.trace_ids(tracing.current_traceparent.get())


class MalformedHttpFilter(logging.Filter):
    """aiohttp logs a request it cannot parse (a bad URL, a broken header) with a traceback;
    that is the client's doing: one WARNING line with the reason instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            reason = str(error.message).split("\n", 1)[0].strip().rstrip(":")
            record.msg, record.args = "refused a malformed HTTP request (%d): %s", (
                error.code, reason[:200])
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info = record.exc_text = None
        return True
