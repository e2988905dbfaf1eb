"""Logging set-up: one line per record on stderr. Secrets and bodies are never logged."""

from __future__ import annotations

import logging

from aiohttp.http_exceptions import HttpProcessingError

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("aiohttp.server").addFilter(MalformedHttpFilter())
    for noisy in ("aiormq", "aio_pika", "alembic", "httpx", "discord", "telegram", "slack_sdk"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


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
