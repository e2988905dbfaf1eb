"""Logging set-up: one line per record on stderr. Secrets and bodies are never logged."""

from __future__ import annotations

import logging
import os


def setup_logging(level: str | None = None) -> None:
    logging.basicConfig(
        level=(level or os.environ.get("BOTGATE_LOG_LEVEL", "INFO")).upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("aiormq", "aio_pika", "alembic", "httpx", "discord", "telegram", "slack_sdk"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
