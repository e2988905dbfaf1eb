"""The Telegram adapter: webhook or long polling in, Bot API calls out, through
python-telegram-bot."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from datetime import datetime
from typing import Any, ClassVar

from pydantic import ValidationError
from telegram import Bot
from telegram.error import TelegramError

from adapters.base import (
    AdapterContext,
    InboundRequest,
    Parsed,
    SendResult,
    WebhookReply,
    while_held,
)
from adapters.payload import load_object
from adapters.telegram.client import Client, describe, make_client
from adapters.telegram.commands import sync_commands
from adapters.telegram.normalise import DEFAULT_UPDATES, Identity, normalise
from adapters.telegram.polling import Poller
from adapters.telegram.ratelimit import RateLimiter
from adapters.telegram.send import Sender
from adapters.telegram.wire import Update, read_update
from adapters.verify import required, same
from gateway.config import BotConfig, Settings, TelegramConfig
from gateway.errors import PayloadError, SignatureError, TransientError
from gateway.events import Action, Event, describe_errors, utcnow

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)


class TelegramAdapter:
    """One bot on Telegram, in `webhook` or `polling` mode (`[bots.telegram] mode`)."""

    platform: ClassVar[str] = "telegram"

    def __init__(self, bot: BotConfig, settings: Settings) -> None:
        assert bot.telegram is not None
        self.bot = bot
        self.config: TelegramConfig = bot.telegram
        self.settings = settings
        self.allowed_updates = tuple(self.config.allowed_updates or DEFAULT_UPDATES)
        self.identity = self._identity(None, self.config.username)
        self.limiter = RateLimiter(self.config)
        self._client: Client | None = None
        self._sender: Sender | None = None
        self._poller: asyncio.Task[None] | None = None
        self.poll_backoff = (1.0, 30.0)  # seconds: first and longest wait after a polling failure

    def verify(self, request: InboundRequest) -> None:
        expected = self.config.webhook_secret
        if not expected:
            raise SignatureError(
                "no webhook_secret is configured for this bot; webhooks are refused"
            )
        (given,) = required(request, SECRET_HEADER)
        if not same(given, expected):
            raise SignatureError(f"{SECRET_HEADER} does not match the webhook secret")

    def parse(self, request: InboundRequest) -> Parsed:
        raw = _update_json(request.body)
        update, events = self.decode(raw, request.received_at)
        query = update.callback_query
        if query is None:
            return Parsed(tuple(events))
        # Telegram runs a method given in the webhook answer: the button stops spinning at once.
        answer = {"method": "answerCallbackQuery", "callback_query_id": query.id}
        return Parsed(tuple(events), WebhookReply(body=json.dumps(answer).encode()))

    def decode(self, raw: dict[str, Any], received_at: datetime) -> tuple[Update, list[Event]]:
        """A raw update, typed, and as botgate events."""
        update = read_update(raw)
        events = normalise(update, raw, self.identity, received_at)
        if not events:
            log.debug(
                "update %s of %s gives no event; acknowledged", update.update_id, self.bot.name
            )
        return update, events

    async def start(self, context: AdapterContext) -> None:
        self._client = make_client(self.config)
        self._sender = Sender(
            self._client.bot,
            self.limiter,
            self.config.max_retry_wait.total_seconds(),
            drafts=self.config.stream_drafts,
        )
        await self._identify(self._client.bot)
        if not context.receives:
            return
        await sync_commands(self._client.bot, context, self.bot.name)
        if self.config.mode == "polling":
            self._poller = asyncio.create_task(
                self._poll(context), name=f"telegram-poll-{self.bot.name}"
            )
        elif context.settings.server.public_url:
            await self._register_webhook(self._client.bot, context.settings.server.public_url)

    async def _identify(self, bot: Bot) -> None:
        try:
            await bot.initialize()
        except TelegramError as exc:
            log.warning(
                "getMe failed for %s (%s); only unaddressed commands count as ours",
                self.bot.name,
                describe(exc),
            )
            return
        self.identity = self._identity(bot.bot.id, bot.bot.username)

    def _identity(self, user_id: int | None, username: str | None) -> Identity:
        members = "chat_member" in self.allowed_updates
        return Identity(self.bot.name, user_id, username, member_updates=members)

    async def _register_webhook(self, bot: Bot, public_url: str) -> None:
        if not self.config.webhook_secret:
            log.warning("%s has no webhook_secret: the webhook is not registered", self.bot.name)
            return
        url = f"{public_url.rstrip('/')}/webhooks/telegram/{self.bot.name}"
        try:
            await bot.set_webhook(
                url,
                secret_token=self.config.webhook_secret,
                allowed_updates=list(self.allowed_updates),
            )
        except TelegramError as exc:
            log.error("setWebhook failed for %s: %s", self.bot.name, describe(exc))
            return
        log.info("Telegram webhook of %s registered at %s", self.bot.name, url)

    async def _poll(self, context: AdapterContext) -> None:
        assert self._client is not None

        async def handle(raw: dict[str, Any]) -> None:
            await self._deliver(context, raw)

        poller = Poller(
            self._client, self.config, context, self.bot.name, handle, self.allowed_updates
        )
        poller.backoff = self.poll_backoff
        # One process at a time polls a bot: two would make Telegram answer 409 Conflict.
        await while_held(context.lease(f"telegram.poll.{self.bot.name}"), poller.run)

    async def _deliver(self, context: AdapterContext, raw: dict[str, Any]) -> None:
        try:
            update, events = self.decode(raw, utcnow())
        except (PayloadError, ValidationError) as exc:
            reason = describe_errors(exc) if isinstance(exc, ValidationError) else str(exc)
            log.warning("skipping an update of %s that is not valid: %s", self.bot.name, reason)
            return
        for event in events:
            await context.publish_event(event)
        if update.callback_query is not None:
            await self._answer(update.callback_query.id)

    async def _answer(self, query_id: str) -> None:
        assert self._sender is not None
        bot = self._sender.bot
        try:
            await self._sender.call(lambda: bot.answer_callback_query(query_id))
        except Exception as exc:  # the click is recorded; a late answer only leaves a spinner
            log.warning("answerCallbackQuery failed for %s: %s", self.bot.name, exc)

    async def stop(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None
        if self._client is not None:
            await self._client.bot.shutdown()
            self._client = None
            self._sender = None

    async def send(self, action: Action) -> SendResult:
        if self._sender is None:
            raise TransientError("the Telegram adapter is not started")
        return await self._sender.send(action)


def _update_json(body: bytes) -> dict[str, Any]:
    return load_object(body, "not a Telegram update")
