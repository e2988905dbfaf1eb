"""aiohttp request -> `InboundRequest`, bounded in size; errors -> JSON answers."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from adapters.base import InboundRequest, WebhookReply
from gateway import codec
from gateway.errors import BotgateError, PayloadTooLarge
from gateway.events import utcnow

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def read_body(request: web.Request, limit: int) -> bytes:
    """The body, refusing more than `limit` bytes without reading them all."""
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(
            f"body of {request.content_length} bytes is over the {limit}-byte limit"
        )
    body = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        body.extend(chunk)
        if len(body) > limit:
            raise PayloadTooLarge(f"body is over the {limit}-byte limit")
    return bytes(body)


def inbound_request(request: web.Request, platform: str, bot: str, body: bytes) -> InboundRequest:
    return InboundRequest(
        platform=platform,
        bot=bot,
        method=request.method,
        headers={name.lower(): value for name, value in request.headers.items()},
        query=dict(request.query),
        body=body,
        received_at=utcnow(),
    )


def reply_response(reply: WebhookReply) -> web.Response:
    return web.Response(status=reply.status, body=reply.body, content_type=reply.content_type)


def json_response(status: int, payload: object) -> web.Response:
    return web.Response(status=status, body=codec.dumps(payload), content_type="application/json")


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every BotgateError becomes its status with `{"error": reason}`; never echo the body."""
    try:
        return await handler(request)
    except BotgateError as exc:
        log.info("%s %s -> %d: %s", request.method, request.path, exc.http_status, exc)
        return json_response(exc.http_status, {"error": str(exc)})
