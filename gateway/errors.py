"""One exception root for the gateway; `http_status` maps each kind to its HTTP answer."""

from __future__ import annotations


class BotgateError(Exception):
    """Base of every error botgate raises on purpose. Messages say what to do next."""

    http_status = 500


class ConfigError(BotgateError):
    """The configuration is invalid; the message names the key and the problem."""


class UnknownBot(BotgateError):
    http_status = 404


class PayloadTooLarge(BotgateError):
    http_status = 413


class SignatureError(BotgateError):
    """A bad or missing signature or a stale timestamp. Never carries the signature."""

    http_status = 401


class PayloadError(BotgateError):
    """The body is not what the route takes."""

    http_status = 400


class BusUnavailable(BotgateError):
    """The bus could not take (confirm) a message; callers should retry later."""

    http_status = 503


class StoreUnavailable(BotgateError):
    http_status = 503


class PermanentError(BotgateError):
    """Processing can never succeed (invalid message, refused by the platform): dead-letter it.

    `attempts`: how many tries it took to know, when the raiser retried on its own."""

    def __init__(self, message: str, attempts: int | None = None) -> None:
        super().__init__(message)
        self.attempts = attempts


class TransientError(BotgateError):
    """Processing may succeed later (outage, rate limit): retry it."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
