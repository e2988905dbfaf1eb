"""W3C trace context across the pipeline: it travels in AMQP headers from the webhook to the
platform send. Around a send, the action runner puts it here for the adapter to pass on."""

from __future__ import annotations

import random
from contextvars import ContextVar

current_traceparent: ContextVar[str | None] = ContextVar("current_traceparent", default=None)


def new_traceparent() -> str:
    """A fresh trace context for a request that arrived without one. Trace ids need to be
    unique, not secret: the fast generator is the right one (no system call per request)."""
    return f"00-{random.getrandbits(128):032x}-{random.getrandbits(64):016x}-01"
