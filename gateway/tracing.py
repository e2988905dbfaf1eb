"""W3C trace context across the pipeline: it travels in AMQP headers from the webhook to the
platform send. Around a send, the action runner puts it here for the adapter to pass on."""

from __future__ import annotations

import secrets
from contextvars import ContextVar

current_traceparent: ContextVar[str | None] = ContextVar("current_traceparent", default=None)


def new_traceparent() -> str:
    """A fresh trace context for a request that arrived without one."""
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"
