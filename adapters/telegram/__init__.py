"""Telegram on python-telegram-bot: webhook or long polling in, Bot API calls out."""

from adapters.telegram.adapter import SECRET_HEADER, TelegramAdapter

__all__ = ["SECRET_HEADER", "TelegramAdapter"]
