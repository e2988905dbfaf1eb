"""The python-telegram-bot client for one bot: kept-alive HTTP connections, one pool for sends
and one for long polling, pointed at `api_base_url` (Telegram, a local Bot API server, or the
emulator)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from telegram import Bot
from telegram.error import InvalidToken, TelegramError
from telegram.request import HTTPXRequest

from gateway.config import TelegramConfig

DEFAULT_FILE_URL = "https://api.telegram.org/file/bot"


@dataclass(frozen=True)
class Client:
    bot: Bot
    updates: HTTPXRequest  # the long-polling connection, separate from the sending pool


def file_url(config: TelegramConfig) -> str:
    """`api_file_url`, else the file URL beside a `.../bot` `api_base_url`."""
    if config.api_file_url:
        return config.api_file_url
    if config.api_base_url.endswith("/bot"):
        return config.api_base_url.removesuffix("bot") + "file/bot"
    return DEFAULT_FILE_URL


def make_client(config: TelegramConfig, pool_size: int = 64) -> Client:
    # Opt in to python-telegram-bot's timedelta periods now: without it, every 429 (RetryAfter)
    # emits a deprecation warning from inside the library.
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    timeout = config.request_timeout.total_seconds()
    sending = HTTPXRequest(
        connection_pool_size=pool_size,
        read_timeout=timeout,
        write_timeout=timeout,
        connect_timeout=timeout,
        pool_timeout=timeout,
    )
    updates = HTTPXRequest(connection_pool_size=1, read_timeout=timeout, connect_timeout=timeout)
    bot = Bot(
        config.token,
        base_url=config.api_base_url,
        base_file_url=file_url(config),
        request=sending,
        get_updates_request=updates,
    )
    return Client(bot, updates)


def describe(error: TelegramError) -> str:
    """An error for the log. A rejected token's message quotes the token: name the kind only."""
    if isinstance(error, InvalidToken):
        return "the token was rejected (InvalidToken)"
    return f"{type(error).__name__}: {error.message}"
