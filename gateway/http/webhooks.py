"""`POST /webhooks/{platform}/{bot}`: verify -> parse -> publish -> answer, for every platform.

Checks run in the contract's order: unknown bot 404, size 413, signature 401, body 400; a
bus that cannot confirm is 503. In each of those cases nothing was published.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from aiohttp import web
from opentelemetry.trace import Span, SpanKind

from adapters.base import Adapter, Parsed
from gateway import tracing
from gateway.bus.base import Bus
from gateway.bus.topology import HEADER_TRACEPARENT
from gateway.config import Settings
from gateway.errors import BotgateError, UnknownBot
from gateway.http.inbound import inbound_request, json_response, read_body, reply_response
from gateway.http.replies import ReplyWaiter
from gateway.metrics import Metrics
from gateway.publisher import publish_event


@dataclass
class WebhookDeps:
    settings: Settings
    bus: Bus
    adapters: dict[tuple[str, str], Adapter]
    replies: ReplyWaiter
    metrics: Metrics


WEBHOOK_DEPS = web.AppKey("webhook_deps", WebhookDeps)
ROUTE = "/webhooks/{platform}/{bot}"


async def handle_webhook(request: web.Request) -> web.StreamResponse:
    deps = request.app[WEBHOOK_DEPS]
    platform, bot = request.match_info["platform"], request.match_info["bot"]
    started = time.perf_counter()
    incoming = request.headers.get(HEADER_TRACEPARENT)
    with tracing.span(f"POST {ROUTE}", parent=incoming, kind=SpanKind.SERVER) as span:
        # the events carry this request's span, or (tracing off) the caller's trace context
        traceparent = tracing.traceparent_of(span) or incoming
        try:
            response = await _handle(deps, request, platform, bot, traceparent)
        except BotgateError as exc:
            _describe(span, platform, bot, exc.http_status)
            deps.metrics.received.labels(platform, str(exc.http_status)).inc()
            raise
        _describe(span, platform, bot, response.status)
    deps.metrics.received.labels(platform, str(response.status)).inc()
    deps.metrics.webhook_seconds.labels(platform).observe(time.perf_counter() - started)
    return response


def _describe(span: Span | None, platform: str, bot: str, status: int) -> None:
    if span is not None:
        span.set_attributes(
            {
                "http.request.method": "POST",
                "http.route": ROUTE,
                "http.response.status_code": status,
                "botgate.platform": platform,
                "botgate.bot": bot,
            }
        )


async def _handle(
    deps: WebhookDeps, request: web.Request, platform: str, bot: str, traceparent: str | None
) -> web.StreamResponse:
    adapter = deps.adapters.get((platform, bot))
    if adapter is None:
        raise UnknownBot(f"no bot {bot!r} on platform {platform!r} in this gateway's configuration")
    body = await read_body(request, deps.settings.server.max_body_bytes)
    inbound = inbound_request(request, platform, bot, body)
    adapter.verify(inbound)
    parsed = adapter.parse(inbound)
    if parsed.wait_for_reply and parsed.events:
        return await _publish_and_wait(deps, parsed, traceparent)
    for event in parsed.events:
        await publish_event(deps.bus, event, traceparent)
        deps.metrics.published.labels(platform).inc()
    return reply_response(parsed.reply) if parsed.reply else json_response(200, {"ok": True})


async def _publish_and_wait(
    deps: WebhookDeps, parsed: Parsed, traceparent: str | None
) -> web.Response:
    first, *rest = parsed.events
    deps.replies.expect(first.id)
    try:
        await publish_event(deps.bus, first, traceparent, reply_to=deps.replies.queue)
        for event in rest:
            await publish_event(deps.bus, event, traceparent)
    except BotgateError:
        deps.replies.forget(first.id)
        raise
    deps.metrics.published.labels(first.platform).inc(len(parsed.events))
    timeout = deps.settings.server.reply_wait.total_seconds()
    replies = await deps.replies.wait(first.id, timeout)
    return json_response(200, {"event_id": str(first.id), "replies": replies})
