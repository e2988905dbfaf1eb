"""Long polling with `getUpdates`, the offset kept in the database.

The offset is saved only after every event of a batch was published (confirmed by the bus), so
a restart re-reads an unfinished batch (the core de-duplicates it by update id) and never skips
one. `getUpdates` with an offset also confirms the earlier updates to Telegram.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from telegram.error import Conflict, TelegramError
from telegram.request import RequestData

# Not re-exported by telegram.request, but what every Bot method builds its RequestData from.
from telegram.request._requestparameter import RequestParameter

from adapters.base import AdapterContext
from adapters.telegram.client import Client
from gateway.config import TelegramConfig
from gateway.errors import BotgateError

log = logging.getLogger(__name__)
Handler = Callable[[dict[str, Any]], Awaitable[None]]
STATE_PLATFORM = "telegram"


class Poller:
    """Runs `getUpdates` until cancelled, handing each raw update to `handle` in order."""

    def __init__(
        self,
        client: Client,
        config: TelegramConfig,
        context: AdapterContext,
        bot_name: str,
        handle: Handler,
        allowed_updates: Sequence[str],
    ) -> None:
        self.client = client
        self.config = config
        self.context = context
        self.bot_name = bot_name
        self.handle = handle
        self.allowed_updates = list(allowed_updates)
        self.offset: int | None = None
        self.backoff = (1.0, 30.0)  # first and longest wait after a failure, in seconds

    async def run(self) -> None:
        await self._retrying(self._prepare)
        failures = 0
        while True:
            try:
                await self.poll_once()
                failures = 0
            except (TelegramError, BotgateError) as exc:
                failures += 1
                await self._pause(exc, failures)
            except Exception as exc:  # a bug must not stop receiving for good
                log.exception("unexpected error polling Telegram for %s", self.bot_name)
                failures += 1
                await self._pause(exc, failures)

    async def _prepare(self) -> None:
        # getUpdates answers 409 while a webhook is set.
        await self.client.bot.delete_webhook()
        state = await self.context.load_state(STATE_PLATFORM, self.bot_name)
        offset = state.get("offset")
        self.offset = int(offset) if offset is not None else None

    async def poll_once(self) -> int:
        """Fetch one batch, hand it over, then save the next offset; the number of updates."""
        updates = await self.fetch()
        for update in updates:
            await self.handle(update)
        if updates:
            self.offset = int(updates[-1]["update_id"]) + 1
            await self._save()
        return len(updates)

    async def fetch(self) -> list[dict[str, Any]]:
        wait = self.config.poll_timeout.total_seconds()
        parameters = {
            "offset": self.offset,
            "timeout": int(wait),
            "allowed_updates": self.allowed_updates,
        }
        data = RequestData(
            [RequestParameter.from_input(k, v) for k, v in parameters.items() if v is not None]
        )
        result = await self.client.updates.post(
            f"{self.client.bot.base_url}/getUpdates",
            request_data=data,
            read_timeout=wait + self.config.request_timeout.total_seconds(),
        )
        return (
            [update for update in result if isinstance(update, dict)]
            if isinstance(result, list)
            else []
        )

    async def _save(self) -> None:
        try:
            offset = self.offset
            await self.context.update_state(
                STATE_PLATFORM, self.bot_name, lambda state: state.update(offset=offset)
            )
        except BotgateError as exc:
            # Telegram already holds the new offset; at worst a restart re-reads this batch.
            log.warning("could not save the Telegram offset of %s: %s", self.bot_name, exc)

    async def _retrying(self, step: Callable[[], Awaitable[None]]) -> None:
        failures = 0
        while True:
            try:
                return await step()
            except (TelegramError, BotgateError) as exc:
                failures += 1
                await self._pause(exc, failures)

    async def _pause(self, exc: Exception, failures: int) -> None:
        first, longest = self.backoff
        wait = min(longest, first * 2 ** (failures - 1))
        hint = " (another poller, or a webhook is set)" if isinstance(exc, Conflict) else ""
        log.warning(
            "Telegram polling for %s failed%s: %s; retrying in %.1f s",
            self.bot_name,
            hint,
            type(exc).__name__,
            wait,
        )
        await asyncio.sleep(wait)
