"""Runs one tool call with its timeout: a failure or a timeout becomes a short apology to the
person, and every call is counted and logged (tool, outcome, duration)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from contextlib import AbstractAsyncContextManager

from gateway import tracing
from gateway.events import utcnow
from gateway.ids import new_id
from gateway.metrics import Metrics
from gateway.tools.base import Reply, Tool, ToolCall
from gateway.tools.texts import say

log = logging.getLogger(__name__)
MAX_ARGS = 4000  # characters a tool is given at most


class ToolRunner:
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    async def run(self, tool: Tool, call: ToolCall, *, apologise: bool = True) -> list[Reply]:
        """The tool's replies; a failure or a timeout is counted, logged and (with
        `apologise`, for a person waiting) answered with an apology, else raised."""
        language = call.turn.language
        if len(call.args) > MAX_ARGS:
            self._log(call, "refused", 0.0, "arguments too long")
            return [Reply(say(language, "too_long", tool=tool.name, limit=f"{MAX_ARGS:,}"))]
        started = time.perf_counter()
        try:
            async with _limit(tool):
                with tracing.span(
                    "tool.call", parent=call.turn.traceparent, attributes=_attributes(tool, call)
                ):
                    replies = await tool.run(call)
        except TimeoutError:
            self._log(call, "timeout", time.perf_counter() - started, f"none in {tool.timeout}s")
            if not apologise:
                raise
            return [Reply(say(language, "apology", tool=call.tool))]
        except Exception as exc:  # a tool's failure must not end the conversation
            log.warning("tool %s failed: %s: %s", tool.name, type(exc).__name__, exc)
            self._log(call, "error", time.perf_counter() - started, f"{type(exc).__name__}: {exc}")
            if not apologise:
                raise
            return [Reply(say(language, "apology", tool=call.tool))]
        self._log(call, "ok", time.perf_counter() - started, None)
        return replies

    def _log(self, call: ToolCall, outcome: str, seconds: float, error: str | None) -> None:
        self.metrics.tool_calls.labels(call.tool, outcome).inc()
        self.metrics.tool_seconds.labels(call.tool).observe(seconds)
        refs = call.refs
        call.turn.tool_calls.append(
            {
                "id": new_id(),
                "bot_id": refs.bot_id,
                "session_id": refs.session_id,
                "user_id": refs.user_id,
                "event_id": call.event.id,
                "tool": call.tool,
                "args": call.args[:MAX_ARGS],
                "outcome": outcome,
                "error": error[:2000] if error else None,
                "duration_ms": round(seconds * 1000),
                "created_at": utcnow(),
            }
        )


def _limit(tool: Tool) -> AbstractAsyncContextManager[object]:
    """The tool's timeout; none for a tool that never waits (`BuiltinTool.waits`): a timeout
    interrupts only a wait, so its timer would be set and cancelled for nothing."""
    return asyncio.timeout(tool.timeout) if getattr(tool, "waits", True) else _NO_LIMIT


_NO_LIMIT = contextlib.nullcontext()


def _attributes(tool: Tool, call: ToolCall) -> dict[str, str]:
    return {"botgate.tool": tool.name, "botgate.bot": call.event.bot}
