"""The generic webhook adapter: signed JSON messages in, signed callbacks out.

Signature: `X-Botgate-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">` with
`X-Botgate-Timestamp: <unix seconds>`; the same scheme signs callbacks to `callback_url`.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import re
import time
import uuid
from datetime import datetime
from typing import Any, ClassVar

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adapters.base import AdapterContext, InboundRequest, Parsed, SendResult, WebhookReply
from adapters.payload import load_object, validate
from adapters.text import command_fields, strip_leading_mention
from adapters.verify import check_window, required, same
from gateway.config import BotConfig, GenericConfig, ServerConfig, Settings, parse_duration
from gateway.errors import PayloadError, PermanentError, SignatureError, TransientError
from gateway.events import FIRST_DELIVERY, Action, ChannelType, Event, ExternalId, encode
from gateway.events import conversation_key as make_conversation_key
from gateway.ids import derived_id, new_id
from gateway.tracing import current_traceparent

SIGNATURE_HEADER = "X-Botgate-Signature"
TIMESTAMP_HEADER = "X-Botgate-Timestamp"
DELIVERY_HEADER = "X-Botgate-Delivery"
_SECONDS = re.compile(r"^\d{1,6}(\.\d{1,3})?$")
NOT_GENERIC = "not a generic message"
TEXT_MAX = 65536


def sign(secret: str | bytes, timestamp: int | str, body: bytes) -> str:
    """The `X-Botgate-Signature` value for a body sent at `timestamp`.

    A copy of an HMAC already keyed with the secret: faster than keying one per message, and
    unlike the one-shot `hmac.digest`, which lets go of the GIL for every message however
    short, it keeps the GIL for bodies under 2 KiB. Letting go of it for two microseconds
    cost the event loop up to the interpreter's switch interval (5 ms) whenever another
    thread (the SQLite writer's) took it meanwhile: in a py-spy profile on SQLite, about 6%
    of the loop's samples were this wait.
    """
    mac = _keyed(secret.encode() if isinstance(secret, str) else secret).copy()
    mac.update(f"{timestamp}.".encode())
    mac.update(body)
    return f"sha256={mac.hexdigest()}"


@functools.lru_cache(maxsize=256)  # one per bot secret (and per callback secret)
def _keyed(key: bytes) -> hmac.HMAC:
    return hmac.new(key, digestmod=hashlib.sha256)


def signed_headers(secret: str | bytes, body: bytes, now: float | None = None) -> dict[str, str]:
    timestamp = int(time.time() if now is None else now)
    return {
        SIGNATURE_HEADER: sign(secret, timestamp, body),
        TIMESTAMP_HEADER: str(timestamp),
        "Content-Type": "application/json",
    }


def verify_signature(
    secret: str | bytes, request: InboundRequest, window_seconds: float, now: float | None = None
) -> None:
    signature, timestamp = required(request, SIGNATURE_HEADER, TIMESTAMP_HEADER)
    check_window(timestamp, TIMESTAMP_HEADER, window_seconds, now)
    if not same(sign(secret, timestamp, request.body), signature):
        raise SignatureError("signature does not match the body")


def requested_wait(value: str | None, server: ServerConfig) -> float | None:
    """`?wait`: how many seconds to wait for the bot's replies, or None not to wait.

    `wait=1` and `wait=true` keep their first meaning, "wait": `server.reply_wait`. Any other
    number is seconds (`wait=5`), a duration is itself (`wait=1s` for one second,
    `wait=500ms`); both at most `server.reply_wait_max`. `0`, `false` or no value: no wait.
    """
    text = (value or "").strip().lower()
    if text in {"", "0", "false", "no"}:
        return None
    if text in {"1", "true", "yes"}:
        return server.reply_wait.total_seconds()
    try:
        seconds = float(text) if _SECONDS.match(text) else parse_duration(text).total_seconds()
    except ValueError:
        raise PayloadError(
            f"query parameter wait = {value!r}: not a number of seconds; use wait=1 (the "
            f"default wait, {server.reply_wait.total_seconds():g}s) or wait=N (N seconds, at "
            f"most {server.reply_wait_max.total_seconds():g})"
        ) from None
    return min(seconds, server.reply_wait_max.total_seconds()) if seconds > 0 else None


class _User(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: ExternalId
    name: str | None = None
    display_name: str | None = None


class _Channel(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: ExternalId
    type: ChannelType = "direct"
    name: str | None = None


class GenericMessage(BaseModel):
    """The body of `POST /webhooks/generic/{bot}`. Identifiers longer than the store keeps are
    refused (400); names are cut to fit by the event schema. Requests are read without it when
    they can be (`message_fields`); it stays the schema of record, and names any fault."""

    model_config = ConfigDict(extra="ignore")
    event_id: ExternalId | None = None
    user: _User
    channel: _Channel
    text: str = Field(max_length=TEXT_MAX)
    thread_id: ExternalId | None = None
    reply_to_id: ExternalId | None = None


def message_fields(body: dict[str, Any]) -> dict[str, Any] | None:
    """`GenericMessage.model_validate(body).model_dump(mode="json")` without the model, for a
    body whose fields all have the types the model takes unchanged (text, or None where it is
    optional); None for any other body, which the model then reads or refuses. Identifier
    bounds are left to the event schema, which has the same ones."""
    user, channel, text = body.get("user"), body.get("channel"), body.get("text")
    event_id = body.get("event_id")
    if not (isinstance(user, dict) and isinstance(channel, dict) and isinstance(text, str)):
        return None
    if len(text) > TEXT_MAX or not (event_id is None or isinstance(event_id, str)):
        return None
    return {
        "event_id": event_id,
        "user": {
            "id": user.get("id"),
            "name": user.get("name"),
            "display_name": user.get("display_name"),
        },
        "channel": {
            "id": channel.get("id"),
            "type": channel.get("type", "direct"),
            "name": channel.get("name"),
        },
        "text": text,
        "thread_id": body.get("thread_id"),
        "reply_to_id": body.get("reply_to_id"),
    }


def request_id(request: InboundRequest) -> str:
    """The message id of a request without `event_id`, derived from its signature (over its
    timestamp and body): a client's retry of the same signed request after a 503 or a lost
    answer is the same message, recorded once."""
    return str(derived_id(_REQUEST_IDS, request.header(SIGNATURE_HEADER) or ""))


_REQUEST_IDS = uuid.UUID("6f1d1b1e-6a47-4c5e-9d0c-0b07a7e5b0e1")


class GenericAdapter:
    platform: ClassVar[str] = "generic"

    def __init__(self, bot: BotConfig, settings: Settings) -> None:
        assert bot.generic is not None
        self.bot = bot
        self.config: GenericConfig = bot.generic
        self.window = settings.security.signature_window.total_seconds()
        self.server = settings.server
        self.backoff_base = 1.0  # seconds; 1, 2, 4, ... between callback attempts
        self._http: aiohttp.ClientSession | None = None
        # per-bot constants of every request
        self._secret = self.config.secret.encode()
        self._handles = (f"@{bot.name}",)
        self._dedupe_prefix = f"generic:{bot.name}:event:"

    def verify(self, request: InboundRequest) -> None:
        verify_signature(self._secret, request, self.window)

    def parse(self, request: InboundRequest) -> Parsed:
        body = load_object(request.body, NOT_GENERIC)
        event = self._event(body, request)
        reply = WebhookReply(202, b'{"event_id":"%s"}' % str(event.id).encode())
        wait = requested_wait(request.query.get("wait"), self.server)
        return Parsed((event,), reply, reply_wait=wait)

    def _event(self, body: dict[str, Any], request: InboundRequest) -> Event:
        """The event of the body, validated once: the message is read straight from the body
        when its fields have the types `GenericMessage` takes as they are, and the event
        schema checks the same bounds. Any fault is named as `GenericMessage` names it."""
        message = message_fields(body)
        if message is None:
            message = validate(GenericMessage, body, NOT_GENERIC).model_dump(mode="json")
        # the derived id only when the message has no id of its own (a uuid5 per request)
        derived = None if message["event_id"] is not None else request_id(request)
        try:
            return self.to_event(message, request.received_at, derived)
        except ValidationError:
            validate(GenericMessage, body, NOT_GENERIC)  # the sender's fault, in their terms
            raise  # a message the event schema refuses: the webhook answers 400 with why

    def to_event(
        self, message: dict[str, Any], received_at: datetime, derived_id: str | None = None
    ) -> Event:
        """The event of a message (the fields of `GenericMessage`, as its `model_dump` has
        them), validated once as a whole: nested dicts rather than nested models (one pydantic
        call instead of six; the same validators, clipping and bounds run). The message is
        kept whole as the event's `raw`."""
        event_id, text, thread_id = message["event_id"], message["text"], message["thread_id"]
        message_id = event_id if event_id is not None else derived_id or str(new_id())
        stripped, mentioned = strip_leading_mention(text, self._handles)
        channel = message["channel"]
        return Event.model_validate(
            {
                "type": "message.created",
                "platform": "generic",
                "bot": self.bot.name,
                "dedupe_key": self._dedupe_prefix + message_id,
                "occurred_at": received_at,
                "received_at": received_at,
                "delivery": FIRST_DELIVERY,
                "conversation_key": make_conversation_key(
                    "generic", self.bot.name, channel["id"], thread_id
                ),
                "user": message["user"],
                "channel": channel,
                "thread_id": thread_id,
                "message": {
                    "id": message_id,
                    "text": text,
                    "reply_to_id": message["reply_to_id"],
                    "mentions_bot": mentioned,
                    "command": command_fields(stripped, self.bot.name),
                },
                "raw": message,
            }
        )

    async def start(self, context: AdapterContext) -> None:
        timeout = aiohttp.ClientTimeout(total=self.config.callback_timeout.total_seconds())
        self._http = aiohttp.ClientSession(timeout=timeout)

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def send(self, action: Action) -> SendResult:
        """POST the action to `callback_url`, retrying with back-off; no URL: nothing to send."""
        message_id = action.message_id if action.type != "message.send" else str(action.id)
        if not self.config.callback_url:
            return SendResult(message_id=message_id, text=action.text)
        body = encode(action)
        last_error = "no attempt made"
        for attempt in range(self.config.callback_attempts):
            if attempt:
                await asyncio.sleep(self.backoff_base * 2 ** (attempt - 1))
            last_error = await self._post_callback(action, body)
            if not last_error:
                return SendResult(message_id=message_id, text=action.text)
        raise PermanentError(
            f"callback failed after {self.config.callback_attempts} attempts: {last_error}",
            self.config.callback_attempts,
        )

    async def _post_callback(self, action: Action, body: bytes) -> str:
        """One delivery attempt; the error in words, or '' on a 2xx answer."""
        if self._http is None:
            raise TransientError("the generic adapter is not started")
        headers = signed_headers(self._secret, body)  # a fresh dict: extended in place
        headers[DELIVERY_HEADER] = str(action.id)
        if traceparent := current_traceparent.get():
            headers["traceparent"] = traceparent
        assert self.config.callback_url is not None
        try:
            async with self._http.post(
                self.config.callback_url, data=body, headers=headers
            ) as resp:
                return "" if 200 <= resp.status < 300 else f"callback answered {resp.status}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            return f"callback unreachable: {type(exc).__name__}"
