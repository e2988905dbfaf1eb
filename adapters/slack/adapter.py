"""The Slack adapter: Events API, slash commands and interactivity over HTTP or Socket Mode in,
the Web API out, through slack_sdk."""

from __future__ import annotations

import asyncio
import json
import logging
from contextlib import suppress
from typing import Any, ClassVar
from urllib.parse import parse_qsl

import aiohttp
from pydantic import ValidationError
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.web.async_client import AsyncWebClient

from adapters.base import AdapterContext, InboundRequest, Parsed, SendResult, WebhookReply
from adapters.payload import clean, load_object
from adapters.slack.names import NameCache
from adapters.slack.normalise import (
    Source,
    event_from_command,
    events_from_block_actions,
    events_from_callback,
)
from adapters.slack.send import Pacer, Sender
from adapters.slack.socket_mode import SocketModeReceiver
from adapters.slack.verify import verify_request
from gateway.config import BotConfig, Settings, SlackConfig
from gateway.errors import ConfigError, PayloadError, TransientError
from gateway.events import Action, Delivery, Event, describe_errors, utcnow

log = logging.getLogger(__name__)
EMPTY_ACK = WebhookReply(200, b"", "text/plain")  # what Slack wants for commands and actions
REFUSED_TOKEN = frozenset({"invalid_auth", "not_authed", "account_inactive", "token_revoked"})
Json = dict[str, Any]


class SlackAdapter:
    platform: ClassVar[str] = "slack"

    def __init__(self, bot: BotConfig, settings: Settings) -> None:
        assert bot.slack is not None
        self.bot = bot
        self.config: SlackConfig = bot.slack
        self.window = settings.security.signature_window.total_seconds()
        self.verifier = SignatureVerifier(self.config.signing_secret)
        self.names = NameCache(self.config.names_ttl.total_seconds())
        self.bot_user_id: str | None = None
        self.name_wait = 2.0  # seconds Socket Mode waits for users.info / conversations.info
        self.client: AsyncWebClient | None = None
        self.context: AdapterContext | None = None
        self._http: aiohttp.ClientSession | None = None
        self._sender: Sender | None = None
        self._socket: SocketModeReceiver | None = None

    # receiving over HTTP

    def verify(self, request: InboundRequest) -> None:
        verify_request(self.verifier, request, self.window)

    def parse(self, request: InboundRequest) -> Parsed:
        source = Source(self.bot.name, self.bot_user_id, request.received_at, _delivery(request))
        content_type = (request.header("Content-Type") or "").split(";")[0].strip().lower()
        events: list[Event]
        reply: WebhookReply | None
        if content_type == "application/x-www-form-urlencoded":
            events, reply = self._parse_form(request.body, source)
        else:
            events, reply = self._parse_json(request.body, source)
        self.names.warm(events)
        return Parsed(tuple(self.names.apply(e) for e in events), reply)

    def _parse_json(self, body: bytes, source: Source) -> tuple[list[Event], WebhookReply | None]:
        payload = load_object(body, "slack request")
        kind = payload.get("type")
        if kind == "url_verification":
            challenge = json.dumps({"challenge": str(payload.get("challenge", ""))}).encode()
            return [], WebhookReply(200, challenge)
        if kind == "event_callback":
            return events_from_callback(payload, source), None
        return [], None  # app_rate_limited and kinds botgate does not map

    def _parse_form(self, body: bytes, source: Source) -> tuple[list[Event], WebhookReply]:
        try:
            text = body.decode("utf-8")
            pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            raise PayloadError("not a form-encoded Slack request") from None
        form = {clean(name): clean(value) for name, value in pairs}
        if "payload" in form:
            payload = load_object(form["payload"], "slack interaction payload")
            return _interaction_events(payload, source), EMPTY_ACK
        if "command" in form:
            return [event_from_command(form, source)], EMPTY_ACK
        if "ssl_check" in form:
            return [], EMPTY_ACK
        raise PayloadError("form body is neither a slash command nor an interaction payload")

    # lifecycle

    async def start(self, context: AdapterContext) -> None:
        """Open the Web API client, learn the bot's user id, and connect Socket Mode when this
        process receives and an app-level token is configured."""
        self.context = context
        try:
            self._open_client()
            await self._identify()
            if context.receives and self.config.app_token:
                await self._start_socket(self.config.app_token)
        except BaseException:
            await self.stop()
            raise

    def _open_client(self) -> None:
        self._http = aiohttp.ClientSession()
        self.client = AsyncWebClient(
            token=self.config.bot_token, base_url=self.config.api_base_url, session=self._http,
            retry_handlers=[AsyncConnectionErrorRetryHandler(),
                            AsyncRateLimitErrorRetryHandler(max_retry_count=1)],
        )
        self.names.client = self.client
        self._sender = Sender(self.client, Pacer(self.config.send_interval.total_seconds()))

    async def _identify(self) -> None:
        assert self.client is not None
        try:
            self.bot_user_id = str((await self.client.auth_test())["user_id"])
        except SlackApiError as exc:
            error = exc.response.get("error")
            if error in REFUSED_TOKEN:
                raise ConfigError(
                    f"bot {self.bot.name}: Slack refused [bots.slack] bot_token ({error}); "
                    "set a valid xoxb- token"
                ) from None
            log.warning("slack auth.test failed (%s); the bot id comes from events instead", error)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("slack auth.test unreachable (%s); will learn the bot id from events",
                        type(exc).__name__)

    async def _start_socket(self, app_token: str) -> None:
        assert self.client is not None
        self._socket = SocketModeReceiver(
            app_token, self.client, self._on_envelope,
            ping_interval=self.config.socket_ping_interval.total_seconds(),
        )
        await self._socket.start()

    async def stop(self) -> None:
        if self._socket is not None:
            await self._socket.stop()
            self._socket = None
        await self.names.close()
        self.names.client = self.client = self._sender = None
        if self._http is not None:
            await self._http.close()
            self._http = None

    # receiving over Socket Mode

    async def _on_envelope(self, request: SocketModeRequest) -> None:
        """Publish an envelope's events (raising leaves it unacknowledged, so Slack retries)."""
        attempt = (request.retry_attempt or 0) + 1
        source = Source(self.bot.name, self.bot_user_id, utcnow(),
                        Delivery(attempt=attempt, retry_reason=request.retry_reason or None))
        try:
            events = _envelope_events(request.type, request.payload, source)
        except (PayloadError, ValidationError) as exc:
            log.warning("slack socket envelope %s dropped: %s", request.type, _reason(exc))
            return
        with suppress(TimeoutError):
            await asyncio.wait_for(self.names.resolve(*self.names.missing(events)), self.name_wait)
        assert self.context is not None
        for event in events:
            await self.context.publish_event(self.names.apply(event))

    # sending

    async def send(self, action: Action) -> SendResult:
        if self._sender is None:
            raise TransientError("the slack adapter is not started")
        return await self._sender.send(action)


def _envelope_events(kind: str, payload: Json, source: Source) -> list[Event]:
    if kind == "events_api":
        return events_from_callback(payload, source)
    if kind == "slash_commands":
        return [event_from_command({k: str(v) for k, v in payload.items()}, source)]
    if kind == "interactive":
        return _interaction_events(payload, source)
    return []


def _interaction_events(payload: Json, source: Source) -> list[Event]:
    if payload.get("type") != "block_actions":
        return []  # view submissions, shortcuts: acknowledged, not mapped
    return events_from_block_actions(payload, source)


def _reason(exc: Exception) -> str:
    return describe_errors(exc) if isinstance(exc, ValidationError) else str(exc)


def _delivery(request: InboundRequest) -> Delivery:
    """Slack's retry headers; they describe the delivery and never enter the dedupe key."""
    retry = request.header("X-Slack-Retry-Num") or ""
    if not retry.isdigit():
        return Delivery()
    return Delivery(attempt=int(retry) + 1, retry_reason=request.header("X-Slack-Retry-Reason"))
