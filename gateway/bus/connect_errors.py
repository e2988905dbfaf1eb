"""Why the first connection to RabbitMQ failed, in words that say what to change."""

from __future__ import annotations

import errno
import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import unquote, urlsplit

import aiormq.exceptions

FIX_URL = "[bus] url (BOTGATE_BUS_URL)"


def explain(exc: BaseException, url: str, shown: str) -> str:
    """One line for a failed connection to `url`; `shown` is the URL without its password."""
    parts = urlsplit(url)
    user, vhost = unquote(parts.username or "guest"), unquote(parts.path[1:]) or "/"
    where = f"RabbitMQ at {shown}"
    if isinstance(exc, aiormq.exceptions.ProbableAuthenticationError | aiormq.AuthenticationError):
        return f"{where} refused user {user!r}: wrong user name or password; check {FIX_URL}"
    if isinstance(exc, aiormq.exceptions.InvalidFrameError) and "Connection.Close" in str(exc):
        return (
            f"{where} refused virtual host {vhost!r} to user {user!r}: it does not exist or the "
            f"user has no permission on it; create it (rabbitmqctl add_vhost {vhost}; "
            f"rabbitmqctl set_permissions -p {vhost} {user} '.*' '.*' '.*') or fix the vhost "
            f"at the end of {FIX_URL}"
        )
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    if isinstance(exc, socket.gaierror) or code in (socket.EAI_NONAME, socket.EAI_AGAIN):
        return f"{where}: the host does not resolve; check {FIX_URL}"
    if isinstance(exc, ConnectionRefusedError) or code == errno.ECONNREFUSED:
        return f"{where}: connection refused; is RabbitMQ running there? check {FIX_URL}"
    if isinstance(exc, TimeoutError):
        return f"{where}: no answer in time; is the host reachable? check {FIX_URL}"
    if "unexpectedly closed" in str(exc):
        return f"{where}: what answers there is not RabbitMQ (it listens on 5672); check {FIX_URL}"
    return f"cannot connect to {where} ({exc!r}); check {FIX_URL} and that the broker is running"


class _DropTransportErrors(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("error when creating transport")


@contextmanager
def quiet_first_connect() -> Iterator[None]:
    """aiormq logs a failed connect at ERROR before raising; the caller explains it instead."""
    logger, drop = logging.getLogger("aiormq.connection"), _DropTransportErrors()
    logger.addFilter(drop)
    try:
        yield
    finally:
        logger.removeFilter(drop)
