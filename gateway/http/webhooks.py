"""`POST /webhooks/{platform}/{bot}`: verify -> parse -> publish -> answer, for every platform.

Checks run in the contract's order: unknown bot 404, size 413, signature 401, body 400; a
bus that cannot confirm is 503. In each of those cases nothing was published.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from aiohttp import web
from opentelemetry.trace import Span, SpanKind
from pydantic import ValidationError

from adapters.base import Adapter, InboundRequest, Parsed
from gateway import tracing
from gateway.bus.base import Bus
from gateway.bus.topology import HEADER_TRACEPARENT
from gateway.config import Settings
from gateway.errors import BotgateError, PayloadError, UnknownBot
from gateway.events import clip, describe_errors
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

    def __post_init__(self) -> None:
        self._platforms = frozenset(platform for platform, _ in self.adapters)

    def platform_label(self, platform: str) -> str:
        """A metric label only from configured values: a path anyone can make up must not
        create a series (20,000 random paths made 20,000 of them)."""
        return platform if platform in self._platforms else UNKNOWN


WEBHOOK_DEPS = web.AppKey("webhook_deps", WebhookDeps)
UNKNOWN = "unknown"
ROUTE = "/webhooks/{platform}/{bot}"


async def handle_webhook(request: web.Request) -> web.StreamResponse:
    deps = request.app[WEBHOOK_DEPS]
    platform, bot = request.match_info["platform"], request.match_info["bot"]
    started = time.perf_counter()
    incoming = request.headers.get(HEADER_TRACEPARENT)
    try:
        if tracing.enabled():
            response = await _traced(deps, request, platform, bot, incoming)
        else:  # no span to make: the events carry the caller's trace context
            response = await _handle(deps, request, platform, bot, incoming)
    except BotgateError as exc:
        deps.metrics.received.labels(deps.platform_label(platform), str(exc.http_status)).inc()
        raise
    label = deps.platform_label(platform)
    deps.metrics.received.labels(label, str(response.status)).inc()
    deps.metrics.webhook_seconds.labels(label).observe(time.perf_counter() - started)
    return response


async def _traced(
    deps: WebhookDeps, request: web.Request, platform: str, bot: str, incoming: str | None
) -> web.StreamResponse:
    """The request in a server span; the events carry that span as their trace context."""
    with tracing.span(f"POST {ROUTE}", parent=incoming, kind=SpanKind.SERVER) as span:
        traceparent = tracing.traceparent_of(span) or incoming
        try:
            response = await _handle(deps, request, platform, bot, traceparent)
        except BotgateError as exc:
            _describe(span, platform, bot, exc.http_status)
            raise
        _describe(span, platform, bot, response.status)
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
        # repr() escapes what JSON could not carry; clip() bounds what is echoed
        raise UnknownBot(
            f"no bot {clip(bot, 64)!r} on platform {clip(platform, 32)!r} "
            "in this gateway's configuration"
        )
    body = await read_body(request, deps.settings.server.max_body_bytes)
    inbound = inbound_request(request, platform, bot, body)
    adapter.verify(inbound)
    parsed = _parse(adapter, inbound)
    if parsed.reply_wait is not None and parsed.events:
        return await _publish_and_wait(deps, parsed, parsed.reply_wait, traceparent)
    for event in parsed.events:
        await publish_event(deps.bus, event, traceparent, shards=deps.settings.bus.shards)
        deps.metrics.published.labels(platform).inc()
    return reply_response(parsed.reply) if parsed.reply else json_response(200, {"ok": True})


def _parse(adapter: Adapter, inbound: InboundRequest) -> Parsed:
    """The adapter's reading of the request. A value that does not fit the event schema (an
    identifier longer than the store keeps, say) is the sender's mistake: 400, naming it."""
    try:
        return adapter.parse(inbound)
    except ValidationError as exc:
        reason = describe_errors(exc)
        raise PayloadError(f"not a valid {inbound.platform} event: {reason}") from None


async def _publish_and_wait(
    deps: WebhookDeps, parsed: Parsed, wait: float, traceparent: str | None
) -> web.Response:
    """200 with the bot's replies once the core answered; 504 when it did not within `wait`
    (the event is accepted all the same: the core answers it when it gets to it)."""
    first, *rest = parsed.events
    deps.replies.expect(first.id)
    try:
        await publish_event(
            deps.bus,
            first,
            traceparent,
            reply_to=deps.replies.queue,
            shards=deps.settings.bus.shards,
        )
        for event in rest:
            await publish_event(deps.bus, event, traceparent, shards=deps.settings.bus.shards)
    except BotgateError:
        deps.replies.forget(first.id)
        raise
    deps.metrics.published.labels(first.platform).inc(len(parsed.events))
    replies = await deps.replies.wait(first.id, wait)
    if replies is None:
        return json_response(504, {"event_id": str(first.id), "replies": [], "error": _late(wait)})
    return json_response(200, {"event_id": str(first.id), "replies": replies})


def _late(wait: float) -> str:
    return (
        f"the core did not answer within {wait:g}s (is it running, or busy?); the event is "
        "accepted and will still be answered: through the bot's callback_url if it has one, "
        "and on the bus"
    )
