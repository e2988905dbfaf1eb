"""Database and bus URLs: checked and normalised when the config loads, and shown without
their passwords (in logs, `botgate check`, error lines and bench reports)."""

from __future__ import annotations

import re
from typing import NamedTuple
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from yarl import URL

DATABASE_EXAMPLES = "postgresql+asyncpg://user:pass@host:5432/db or sqlite+aiosqlite:///botgate.db"
BUS_EXAMPLES = "amqp://user:pass@host:5672/vhost (amqps:// for TLS) or memory://"
# Schemes people write that mean what botgate speaks; each is taken with a note.
_DATABASE_ALIASES = {
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgres+asyncpg": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
}
_DATABASE_SCHEMES = frozenset({"postgresql+asyncpg", "sqlite+aiosqlite"})
_BUS_SCHEMES = frozenset({"memory", "amqp", "amqps"})
_USERINFO_PASSWORD = re.compile(r"(://[^:/@]*:)[^@/]*@")


class Normalised(NamedTuple):
    url: str
    note: str | None  # what was changed, for the log


def hide_password(url: str) -> str:
    """The URL with its password replaced by `***` (database and bus URLs alike)."""
    try:
        parsed = URL(url)
        return str(parsed.with_password("***")) if parsed.password else url
    except (ValueError, TypeError):  # malformed (a bad port): mask what looks like a password
        return _USERINFO_PASSWORD.sub(r"\1***@", url)


def normalise_database_url(url: str) -> Normalised:
    """The SQLAlchemy URL botgate connects with; ValueError says what is wrong and what to write."""
    scheme = _scheme(url)
    if scheme is None:
        raise ValueError(f"not a URL; write it like {DATABASE_EXAMPLES}")
    note = None
    if scheme in _DATABASE_ALIASES:
        target = _DATABASE_ALIASES[scheme]
        url = target + url[len(scheme) :]
        note = f"{scheme}:// is taken as {target}:// (the driver botgate uses)"
    elif scheme not in _DATABASE_SCHEMES:
        raise ValueError(_unsupported_database(scheme))
    try:
        make_url(url).port  # noqa: B018 - parses the port, which may be malformed
    except (ArgumentError, ValueError):
        raise ValueError(f"not a valid URL; write it like {DATABASE_EXAMPLES}") from None
    return Normalised(url, note)


def check_bus_url(url: str) -> str:
    """The bus URL if botgate can use it; ValueError says what is wrong and what to write."""
    scheme = _scheme(url)
    if scheme is None:
        raise ValueError(f"not a URL; write it like {BUS_EXAMPLES}")
    if scheme not in _BUS_SCHEMES:
        raise ValueError(f"unsupported scheme {scheme}://; use {BUS_EXAMPLES}")
    if scheme == "memory":
        return url
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise ValueError(f"the port is not a number; write it like {BUS_EXAMPLES}") from None
    if not parts.hostname:
        raise ValueError(f"no host; write it like {BUS_EXAMPLES}")
    return url


def _scheme(url: str) -> str | None:
    scheme, separator, _ = url.partition("://")
    valid = separator and scheme and scheme[0].isalpha()
    return scheme.lower() if valid and all(c.isalnum() or c in "+-." for c in scheme) else None


def _unsupported_database(scheme: str) -> str:
    backend = scheme.split("+", 1)[0]
    driver = {"postgres": "postgresql+asyncpg", "postgresql": "postgresql+asyncpg"}.get(
        backend, "sqlite+aiosqlite" if backend == "sqlite" else None
    )
    if driver:
        return f"the driver of {scheme}:// is not supported; write {driver}://"
    return f"unsupported database {scheme}://; botgate runs on {DATABASE_EXAMPLES}"
