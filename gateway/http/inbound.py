"""aiohttp request -> `InboundRequest`, bounded in size; errors -> JSON answers."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from adapters.base import InboundRequest, WebhookReply
from adapters.payload import clean
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
    chunks: list[bytes] = []
    size = 0
    content = request.content
    while chunk := await content.read(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body is over the {limit}-byte limit")
        chunks.append(chunk)
        if content.at_eof():  # all there: no read just to learn that nothing follows
            break
    return b"".join(chunks)  # one chunk, the usual webhook: that chunk itself, not a copy


_CHUNK = 64 * 1024


def inbound_request(request: web.Request, platform: str, bot: str, body: bytes) -> InboundRequest:
    return InboundRequest(
        platform=platform,
        bot=bot,
        method=request.method,
        headers=header_texts(request.headers),
        query={name: clean(value) for name, value in request.query.items()},
        body=body,
        received_at=utcnow(),
    )


def header_texts(headers: Mapping[str, str]) -> dict[str, str]:
    """Lower-case names to text values. aiohttp hands undecodable header bytes over as lone
    surrogates (surrogateescape), which no encoder takes: they become U+FFFD here. A repeated
    header becomes its values joined by ", " (RFC 9110), so a second signature or timestamp
    cannot slip past verification."""
    texts: dict[str, str] = {}
    for name, value in headers.items():
        key, text = clean(name).lower(), clean(value)
        texts[key] = f"{texts[key]}, {text}" if key in texts else text
    return texts


def reply_response(reply: WebhookReply) -> web.Response:
    return web.Response(status=reply.status, body=reply.body, content_type=reply.content_type)


def json_response(status: int, payload: object) -> web.Response:
    return web.Response(status=status, body=codec.dumps(payload), content_type="application/json")


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every BotgateError becomes its status with `{"error": reason}` and one WARNING line with
    the reason (never the body or a traceback: it is the sender's doing, or an outage logged
    where it happened). Anything else is a bug: logged with its traceback, answered 500
    without the exception's text."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except BotgateError as exc:
        path = clean(request.path)[:200]
        log.warning("%s %s -> %d: %s", request.method, path, exc.http_status, exc)
        return json_response(exc.http_status, {"error": str(exc)})
    except Exception:
        log.exception("%s %s failed", request.method, clean(request.path)[:200])
        return json_response(500, {"error": "internal error; the gateway logged it"})
