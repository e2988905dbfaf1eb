"""One log line when a backend goes away, and one when it is back.

When the database or the broker goes away, every loop that uses it fails on its own schedule
(the core, the send ledger, the answer leases, the dead-letter keeper...) and the drivers log
their own reconnect attempts: an outage of a minute printed hundreds of lines, some with
tracebacks. An `Outage` per backend says "unreachable" once, at WARNING, with the reason, and
"reachable again" once, at INFO, with how long it lasted; what fails in between because of it
is logged at DEBUG. A failure that is not an outage (a constraint, a bug) is logged as before.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from gateway.errors import BusUnavailable, StoreUnavailable
from store.bulk import LOST_CONNECTION

log = logging.getLogger(__name__)

DATABASE_OUTAGE_ERRORS = (OperationalError, InterfaceError, StoreUnavailable, OSError)


def is_database_outage(exc: BaseException) -> bool:
    """Whether `exc` says the database cannot be reached (rather than that a statement failed)."""
    if isinstance(exc, DBAPIError) and (exc.connection_invalidated or _lost_under(exc.orig)):
        return True
    return isinstance(exc, DATABASE_OUTAGE_ERRORS)


def _lost_under(error: BaseException | None) -> bool:
    """The driver's error beneath SQLAlchemy's says the connection went, mid-statement, in
    words SQLAlchemy does not take for a disconnect ("connection was closed in the middle of
    operation")."""
    return isinstance(getattr(error, "__cause__", None), (*LOST_CONNECTION, ConnectionError))


def is_bus_outage(exc: BaseException) -> bool:
    return isinstance(exc, BusUnavailable | ConnectionError | TimeoutError)


def reason(exc: BaseException) -> str:
    """The exception's class and the first line of its text, bounded (never a traceback)."""
    text = str(exc).strip().split("\n", 1)[0][:200]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Outage:
    """The state of one backend as this process sees it: up, or down since when."""

    def __init__(self, what: str, *, is_outage: Any = is_database_outage) -> None:
        self.what = what
        self.is_outage = is_outage
        self.down_since: float | None = None

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def lost(self, why: str) -> None:
        """The backend cannot be reached: said once per outage."""
        if self.down_since is None:
            self.down_since = time.monotonic()
            log.warning("%s is unreachable (%s); retrying until it is back", self.what, why)

    def back(self) -> None:
        """The backend answered again: said once, if it was down."""
        if self.down_since is not None:
            lasted = time.monotonic() - self.down_since
            self.down_since = None
            log.info("%s is reachable again after %.1fs", self.what, lasted)

    def failed(
        self,
        logger: logging.Logger,
        exc: BaseException,
        message: str,
        *args: object,
        traceback: bool = False,
    ) -> None:
        """Log a loop's failure: an outage of this backend is said once (by `lost`) and the
        failure itself goes to DEBUG; anything else is a WARNING (with the traceback if asked,
        as an ERROR)."""
        if self.is_outage(exc):
            self.lost(reason(exc))
            logger.debug(message, *args)
        elif traceback:
            logger.error(message, *args, exc_info=exc)
        else:
            logger.warning(message, *args)
