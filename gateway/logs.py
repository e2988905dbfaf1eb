"""Logging set-up: one line per record on stderr. Secrets and bodies are never logged."""

from __future__ import annotations

import logging

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("aiormq", "aio_pika", "alembic", "httpx", "discord", "telegram", "slack_sdk"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
