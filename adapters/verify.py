"""Checks every platform's verification shares: required headers, the timestamp window, and
secret comparison. Each takes any text a client can send and answers with SignatureError (401,
with the reason) or passes; none raises anything else.

Header values reach adapters already made text (`gateway.http.inbound`): undecodable bytes as
U+FFFD, a repeated header as its values joined by ", " (RFC 9110), so a duplicated signature
or timestamp simply fails to verify.
"""

from __future__ import annotations

import hmac
import re
import time

from adapters.base import InboundRequest
from gateway.errors import SignatureError

# Unix seconds as platforms send them: ASCII digits only, at most 12 of them (year 33658).
# Python's int() would also take "١٢٣", " 12", "1_000" and 4,300 digits, then fail to compare
# a 400-digit number with a float.
_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")


def required(request: InboundRequest, *names: str) -> list[str]:
    """The headers' values, or SignatureError naming them when one is missing or empty."""
    values = [request.header(name) or "" for name in names]
    if not all(values):
        raise SignatureError(f"missing {' or '.join(names)} header")
    return values


def check_window(
    timestamp: str, header: str, window_seconds: float, now: float | None = None
) -> int:
    """The timestamp as unix seconds, if it is within `window_seconds` of `now`."""
    if not _UNIX_SECONDS.fullmatch(timestamp):
        raise SignatureError(f"{header} is not unix seconds")
    sent_at = int(timestamp)
    if abs((time.time() if now is None else now) - sent_at) > window_seconds:
        raise SignatureError("stale timestamp: outside the signature window")
    return sent_at


def same(given: str, expected: str) -> bool:
    """Constant-time equality of two texts, whatever characters they hold."""
    return hmac.compare_digest(_bytes(given), _bytes(expected))


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")
