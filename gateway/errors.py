"""One exception root for the gateway: `http_status` maps each kind to its HTTP answer and
`exit_code` to the command's exit status (2: the user's configuration or arguments, 1: what
the outside world refused)."""

from __future__ import annotations


class BotgateError(Exception):
    """Base of every error botgate raises on purpose. Messages say what to do next."""

    http_status = 500
    exit_code = 1


class ConfigError(BotgateError):
    """The configuration is invalid; the message names the key and the problem."""

    exit_code = 2


class UnknownBot(BotgateError):
    http_status = 404


class NotFound(BotgateError):
    """What the request names does not exist (an unknown schema, automation, ...)."""

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


class NotRecorded(BotgateError):
    """The core gave up on an event (dead-lettered it): a `?wait=1` caller learns why."""

    http_status = 500


class StoreUnavailable(BotgateError):
    http_status = 503


class DatabaseMissing(StoreUnavailable):
    """A read-only command found no database to read (an embedded file not created yet)."""


class MigrationsPending(StoreUnavailable):
    """The database is behind the code: `botgate migrate up` (or `serve`) brings it up."""


class ListenError(BotgateError):
    """The HTTP port cannot be taken (in use, not permitted, no such address)."""


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
