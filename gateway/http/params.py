"""Query parameters of the admin API, checked before anything runs: an unknown parameter, a
repeated one, a NUL character or a bad value is a 400 that names the parameter."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Iterable
from datetime import datetime

from aiohttp import web

from gateway import codec
from gateway.errors import PayloadError
from gateway.events import utcnow
from gateway.ops.times import BadTime, time_range

MAX_LIMIT = 200
MAX_TEXT = 256


class Query:
    def __init__(self, request: web.Request, allowed: Iterable[str]) -> None:
        self._allowed = tuple(allowed)
        self._values: dict[str, str] = {}
        for name, value in request.query.items():
            if name not in self._allowed:
                takes = ", ".join(self._allowed) or "no parameters"
                raise PayloadError(f"unknown parameter {name[:40]!r}; this route takes {takes}")
            if name in self._values:
                raise PayloadError(f"parameter {name!r} is given more than once")
            if "\x00" in value:
                raise PayloadError(f"parameter {name!r}: NUL characters are not allowed")
            self._values[name] = value

    def text(self, name: str) -> str | None:
        value = self._values.get(name)
        if value is not None and not 0 < len(value) <= MAX_TEXT:
            raise PayloadError(f"parameter {name!r} must be 1 to {MAX_TEXT} characters")
        return value

    def choice(self, name: str, options: Iterable[str]) -> str | None:
        value = self._values.get(name)
        if value is not None and value not in options:
            raise PayloadError(f"parameter {name!r} must be one of {', '.join(options)}")
        return value

    def limit(self, default: int = 50) -> int:
        raw = self._values.get("limit")
        if raw is None:
            return default
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
            raise PayloadError(f"parameter 'limit' must be a whole number from 1 to {MAX_LIMIT}")
        return int(raw)

    def uuid(self, name: str) -> uuid.UUID | None:
        raw = self._values.get(name)
        return None if raw is None else parse_uuid(name, raw)

    def times(self) -> tuple[datetime | None, datetime | None]:
        try:
            return time_range(
                self._values.get("since"), self._values.get("until"), utcnow(), ("since", "until")
            )
        except BadTime as exc:
            raise PayloadError(f"parameter {exc}") from None

    def cursor(self) -> list[str] | None:
        """The decoded `cursor`: a list of strings this API gave out as `next_cursor`."""
        raw = self._values.get("cursor")
        if raw is None:
            return None
        try:
            decoded = codec.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        except (ValueError, binascii.Error):
            decoded = None
        if not isinstance(decoded, list) or not all(isinstance(v, str) for v in decoded):
            raise PayloadError("parameter 'cursor' is not a cursor this API gave out")
        return decoded


def parse_uuid(name: str, raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise PayloadError(f"parameter {name!r} must be a UUID") from None


def make_cursor(*parts: str) -> str:
    return base64.urlsafe_b64encode(codec.dumps(list(parts))).decode().rstrip("=")


def id_cursor(query: Query) -> uuid.UUID | None:
    """A cursor holding the last id of the page before (time-ordered ids)."""
    parts = query.cursor()
    if parts is None:
        return None
    if len(parts) != 1:
        raise PayloadError("parameter 'cursor' is not a cursor this API gave out")
    return parse_uuid("cursor", parts[0])


def time_cursor(query: Query) -> tuple[datetime, uuid.UUID] | None:
    parts = query.cursor()
    if parts is None:
        return None
    try:
        at, row_id = parts
        return datetime.fromisoformat(at), uuid.UUID(row_id)
    except ValueError:
        raise PayloadError("parameter 'cursor' is not a cursor this API gave out") from None
