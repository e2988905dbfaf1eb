"""URLs as they may be shown: in logs, `botgate check` and bench reports."""

from __future__ import annotations

from yarl import URL


def hide_password(url: str) -> str:
    """The URL with its password replaced by `***` (database and bus URLs alike)."""
    parsed = URL(url)
    return str(parsed.with_password("***")) if parsed.password else url
