"""`GET /chat/{bot}/ws`: one visitor's live conversation.

Frames are JSON. The page opens with `{"type": "hello", "token": <token or null>}`; a good
token resumes its visitor, none starts a new one, and either is answered `welcome` with a
fresh token (the expiry slides), the conversation's history and what was kept while the
visitor was away. A forged or expired token is answered `refused` and the socket closes: the
page offers a new conversation. Then `{"type": "message", "id": ..., "text": ...}` and
`{"type": "click", "button": ..., "message": ...}`, each answered `accepted` or `error`
(too long, too many, not understood); what is refused is neither published nor recorded.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from aiohttp import WSMsgType, web
from pydantic import ValidationError

from adapters.payload import load_object
from adapters.webchat import WebchatAdapter
from adapters.webchat.adapter import Frame, message_frame
from adapters.webchat.ratelimit import Limits
from adapters.webchat.tokens import TokenRefused, Visitor
from gateway.errors import BusUnavailable, PayloadError
from gateway.events import describe_errors
from gateway.http.clients import client_address
from gateway.http.webchat import WEBCHAT_DEPS, adapter_for, origin_allowed
from store.webchat import conversation

log = logging.getLogger(__name__)
HELLO_SECONDS = 10.0
_MESSAGE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class _SocketLink:
    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws

    async def push(self, frame: Frame) -> None:
        if self.ws.closed:
            raise ConnectionError("the visitor's socket is closed")
        await self.ws.send_str(json.dumps(frame))


class _Refusal(Exception):
    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


async def visitor_socket(request: web.Request) -> web.StreamResponse:
    adapter = adapter_for(request)
    origin = request.headers.get("Origin")
    if origin is not None and not origin_allowed(request, adapter, origin):
        raise web.HTTPForbidden(text="this origin may not open the chat")
    ws = web.WebSocketResponse(
        heartbeat=30.0, max_msg_size=adapter.config.max_message_chars * 6 + 4096
    )
    await ws.prepare(request)
    request.app[WEBCHAT_DEPS].sockets.add(ws)
    visitor = await _greet(request, adapter, ws)
    if visitor is None:
        return ws
    link = _SocketLink(ws)
    kept = adapter.attach(visitor.id, link)
    try:
        for frame in kept:
            await link.push(frame)
        await _converse(request, adapter, ws, visitor)
    finally:
        adapter.detach(visitor.id, link)
    return ws


async def _greet(
    request: web.Request, adapter: WebchatAdapter, ws: web.WebSocketResponse
) -> Visitor | None:
    """Read the hello; send welcome (with the history) or refused. None: the socket closed."""
    assert adapter.tokens is not None
    try:
        hello = await ws.receive_json(timeout=HELLO_SECONDS)
        token = (
            hello.get("token") if isinstance(hello, dict) and hello.get("type") == "hello" else 0
        )
    except (TimeoutError, ValueError, TypeError):
        token = 0
    if token == 0 or not (token is None or isinstance(token, str)):
        await ws.close(code=4000, message=b"say hello first")
        return None
    if wait := _limits(request, adapter).connects.take(_address(request)):
        await ws.send_json(_error(None, "rate_limited", _too_fast("connecting", wait)))
        await ws.close(code=4029, message=b"too many connections from this address")
        return None
    if token is None:
        visitor, fresh = adapter.tokens.issue(adapter.bot.name)
    else:
        try:
            visitor, fresh = adapter.tokens.renew(adapter.tokens.check(token, adapter.bot.name))
        except TokenRefused as exc:
            await ws.send_json({"type": "refused", "reason": str(exc)})
            await ws.close(code=4001, message=b"visitor token refused")
            return None
    history = await _history(request, adapter, visitor.id)
    await ws.send_json({"type": "welcome", "token": fresh, "history": history})
    return visitor


async def _history(request: web.Request, adapter: WebchatAdapter, visitor: str) -> list[Frame]:
    db = request.app[WEBCHAT_DEPS].db
    async with db.transaction() as session:
        rows = await conversation(session, adapter.bot.name, visitor, adapter.config.history)
    return [message_frame(row[0], "bot" if row[1] == "out" else "visitor", row[2]) for row in rows]


async def _converse(
    request: web.Request, adapter: WebchatAdapter, ws: web.WebSocketResponse, visitor: Visitor
) -> None:
    async for received in ws:
        if received.type != WSMsgType.TEXT:
            continue
        try:  # the webhooks' parser: depth-bounded, NULs and lone surrogates replaced
            frame = load_object(received.data, "not a chat frame")
        except PayloadError:
            await ws.send_json(_error(None, "bad_frame", "not understood"))
            continue
        await ws.send_json(await _take(request, adapter, visitor, frame))


async def _take(
    request: web.Request, adapter: WebchatAdapter, visitor: Visitor, frame: dict[str, Any]
) -> Frame:
    """Check, limit and publish one frame; the answer for the page."""
    message_id = frame.get("id")
    shown_id = message_id if isinstance(message_id, str) and _MESSAGE_ID.match(message_id) else None
    try:
        if frame.get("type") == "message":
            await _message(request, adapter, visitor, shown_id, frame.get("text"))
        elif frame.get("type") == "click":
            await _click(request, adapter, visitor, frame.get("button"), frame.get("message"))
        else:
            raise _Refusal("bad_frame", "not understood")
    except _Refusal as refusal:
        return _error(shown_id, refusal.code, refusal.reason)
    except ValidationError as exc:  # what the event schema would not take
        return _error(shown_id, "bad_frame", describe_errors(exc))
    except BusUnavailable:
        log.warning("web chat %s: the bus did not take a visitor's message", adapter.bot.name)
        return _error(
            shown_id,
            "unavailable",
            "The chat cannot take messages right now; please try again in a moment.",
        )
    return {"type": "accepted", "id": shown_id}


async def _message(
    request: web.Request,
    adapter: WebchatAdapter,
    visitor: Visitor,
    message_id: str | None,
    text: object,
) -> None:
    checked = _checked_text(adapter, text)
    if message_id is None:
        raise _Refusal("bad_frame", "a message needs an id of letters, digits, - and _")
    _limit(request, adapter, visitor)
    await adapter.say(visitor, message_id, checked)


async def _click(
    request: web.Request, adapter: WebchatAdapter, visitor: Visitor, button: object, target: object
) -> None:
    if not isinstance(button, str) or not 0 < len(button) <= 100:
        raise _Refusal("bad_frame", "a click names its button")
    _limit(request, adapter, visitor)
    known = target if isinstance(target, str) and _MESSAGE_ID.match(target) else None
    await adapter.click(visitor, button, known)


def _checked_text(adapter: WebchatAdapter, text: object) -> str:
    if not isinstance(text, str) or not text.strip():
        raise _Refusal("bad_frame", "a message needs some text")
    limit = adapter.config.max_message_chars
    if len(text) > limit:
        raise _Refusal(
            "too_long",
            f"Your message is {len(text)} characters long; the limit is {limit}. "
            "Please shorten it and send it again.",
        )
    return text


def _limit(request: web.Request, adapter: WebchatAdapter, visitor: Visitor) -> None:
    """Refuse a visitor or an address over its allowance; a refusal spends nothing."""
    limits = _limits(request, adapter)
    wait = limits.visitor.take(visitor.id)
    if not wait:
        wait = limits.ip.take(_address(request))
        if wait:
            limits.visitor.give_back(visitor.id)
    if wait:
        raise _Refusal("rate_limited", _too_fast("sending messages", wait))


def _too_fast(doing: str, wait: float) -> str:
    return (
        f"You are {doing} faster than this chat allows; please wait {wait:.0f} seconds and "
        "try again."
    )


def _address(request: web.Request) -> str:
    """The visitor's address: the peer's, or the one a trusted reverse proxy forwarded."""
    trusted = request.app[WEBCHAT_DEPS].webhooks.settings.server.trusted_proxies
    return client_address(request, trusted)


def _limits(request: web.Request, adapter: WebchatAdapter) -> Limits:
    limits = request.app[WEBCHAT_DEPS].limits
    name = adapter.bot.name
    if name not in limits:
        config = adapter.config
        limits[name] = Limits.per_minute(config.visitor_per_minute, config.ip_per_minute)
    return limits[name]


def _error(message_id: str | None, code: str, reason: str) -> Frame:
    return {"type": "error", "id": message_id, "code": code, "reason": reason}
