"""The generic webhook adapter: signed JSON messages in, signed callbacks out.

Signature: `X-Botgate-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">` with
`X-Botgate-Timestamp: <unix seconds>`; the same scheme signs callbacks to `callback_url`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from datetime import datetime
from typing import ClassVar

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adapters.base import AdapterContext, InboundRequest, Parsed, SendResult, WebhookReply
from adapters.text import parse_command, strip_leading_mention
from gateway import codec
from gateway.config import BotConfig, GenericConfig, Settings
from gateway.errors import PayloadError, PermanentError, SignatureError, TransientError
from gateway.events import Action, ChannelRef, ChannelType, Event, MessageBody, UserRef
from gateway.events import conversation_key as make_conversation_key
from gateway.ids import new_id
from gateway.tracing import current_traceparent

SIGNATURE_HEADER = "X-Botgate-Signature"
TIMESTAMP_HEADER = "X-Botgate-Timestamp"
DELIVERY_HEADER = "X-Botgate-Delivery"


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The `X-Botgate-Signature` value for a body sent at `timestamp`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def signed_headers(secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    timestamp = int(time.time() if now is None else now)
    return {
        SIGNATURE_HEADER: sign(secret, timestamp, body),
        TIMESTAMP_HEADER: str(timestamp),
        "Content-Type": "application/json",
    }


def verify_signature(
    secret: str, request: InboundRequest, window_seconds: float, now: float | None = None
) -> None:
    timestamp = request.header(TIMESTAMP_HEADER)
    signature = request.header(SIGNATURE_HEADER)
    if not timestamp or not signature:
        raise SignatureError(f"missing {SIGNATURE_HEADER} or {TIMESTAMP_HEADER} header")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise SignatureError(f"{TIMESTAMP_HEADER} is not unix seconds") from None
    if abs((time.time() if now is None else now) - sent_at) > window_seconds:
        raise SignatureError("stale timestamp: outside the signature window")
    if not hmac.compare_digest(sign(secret, timestamp, request.body), signature):
        raise SignatureError("signature does not match the body")


class _User(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str = Field(min_length=1, max_length=256)
    name: str | None = None
    display_name: str | None = None


class _Channel(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str = Field(min_length=1, max_length=256)
    type: ChannelType = "direct"
    name: str | None = None


class GenericMessage(BaseModel):
    """The body of `POST /webhooks/generic/{bot}`."""

    model_config = ConfigDict(extra="ignore")
    event_id: str | None = Field(None, min_length=1, max_length=256)
    user: _User
    channel: _Channel
    text: str = Field(max_length=65536)
    thread_id: str | None = None
    reply_to_id: str | None = None


class GenericAdapter:
    platform: ClassVar[str] = "generic"

    def __init__(self, bot: BotConfig, settings: Settings) -> None:
        assert bot.generic is not None
        self.bot = bot
        self.config: GenericConfig = bot.generic
        self.window = settings.security.signature_window.total_seconds()
        self.backoff_base = 1.0  # seconds; 1, 2, 4, ... between callback attempts
        self._http: aiohttp.ClientSession | None = None

    def verify(self, request: InboundRequest) -> None:
        verify_signature(self.config.secret, request, self.window)

    def parse(self, request: InboundRequest) -> Parsed:
        try:
            inbound = GenericMessage.model_validate_json(request.body)
        except ValidationError as exc:
            raise PayloadError(f"not a generic message: {_summary(exc)}") from None
        event = self.to_event(inbound, request.received_at)
        reply = WebhookReply(202, codec.dumps({"event_id": str(event.id)}))
        return Parsed((event,), reply, wait_for_reply=request.query.get("wait") in {"1", "true"})

    def to_event(self, inbound: GenericMessage, received_at: datetime) -> Event:
        message_id = inbound.event_id or str(new_id())
        text, mentioned = strip_leading_mention(inbound.text, (f"@{self.bot.name}",))
        channel = ChannelRef(
            id=inbound.channel.id, type=inbound.channel.type, name=inbound.channel.name
        )
        return Event(
            type="message.created",
            platform="generic",
            bot=self.bot.name,
            dedupe_key=f"generic:{self.bot.name}:event:{message_id}",
            occurred_at=received_at,
            received_at=received_at,
            conversation_key=make_conversation_key(
                "generic", self.bot.name, channel.id, inbound.thread_id
            ),
            user=UserRef(
                id=inbound.user.id, name=inbound.user.name, display_name=inbound.user.display_name
            ),
            channel=channel,
            thread_id=inbound.thread_id,
            message=MessageBody(
                id=message_id,
                text=inbound.text,
                reply_to_id=inbound.reply_to_id,
                mentions_bot=mentioned,
                command=parse_command(text, self.bot.name),
            ),
            raw=inbound.model_dump(mode="json"),
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
        body = action.model_dump_json(by_alias=True).encode()
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
        headers = {**signed_headers(self.config.secret, body), DELIVERY_HEADER: str(action.id)}
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


def _summary(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error["loc"]) or "body"
    return f"{where}: {error['msg']}"
