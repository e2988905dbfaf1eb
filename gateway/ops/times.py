"""Times given on the command line and in query strings: ISO 8601, or a span ago ("7d")."""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.config import parse_duration
from gateway.errors import BotgateError


class BadTime(BotgateError):
    http_status = 400


def parse_time(name: str, value: str, now: datetime) -> datetime:
    """`2026-11-01`, `2026-11-01T09:00:00Z` (no zone: UTC), or `7d`, `12h`: that long ago."""
    try:
        return now - parse_duration(value)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BadTime(
            f"{name} {value[:40]!r}: write an ISO 8601 time (2026-11-01, "
            "2026-11-01T09:00:00Z) or a span ago (7d, 12h)"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def time_range(
    since: str | None,
    until: str | None,
    now: datetime,
    names: tuple[str, str] = ("--since", "--until"),
) -> tuple[datetime | None, datetime | None]:
    start = parse_time(names[0], since, now) if since else None
    end = parse_time(names[1], until, now) if until else None
    if start is not None and end is not None and start >= end:
        raise BadTime(
            f"{names[0]} ({start.isoformat()}) must be before {names[1]} ({end.isoformat()})"
        )
    return start, end
