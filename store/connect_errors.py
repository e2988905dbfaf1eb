"""Why a database connection failed, in words that say what to change."""

from __future__ import annotations

import socket
import sqlite3

import asyncpg  # type: ignore[import-untyped]

FIX_URL = "[database] url (BOTGATE_DATABASE_URL)"


def explain(exc: BaseException, url: str) -> str:
    """One line for a failed connection to `url` (shown without its password)."""
    cause = _root(exc)
    if isinstance(cause, asyncpg.InvalidPasswordError):
        return f"database {url}: the password was refused; check user and password in {FIX_URL}"
    if isinstance(cause, asyncpg.InvalidAuthorizationSpecificationError):
        return f"database {url}: the login was refused ({cause}); check the user in {FIX_URL}"
    if isinstance(cause, asyncpg.InvalidCatalogNameError):
        return (
            f"database {url}: {cause}; create it (createdb, or CREATE DATABASE): botgate "
            "creates its tables, not the database"
        )
    if isinstance(cause, socket.gaierror):
        return f"database {url}: the host does not resolve; check {FIX_URL}"
    if isinstance(cause, ConnectionRefusedError):
        return f"database {url}: connection refused; is PostgreSQL running there? check {FIX_URL}"
    if isinstance(cause, TimeoutError):
        return f"database {url}: no answer in time; is the host reachable? check {FIX_URL}"
    if isinstance(cause, sqlite3.OperationalError) and "unable to open" in str(cause):
        return (
            f"database {url}: cannot open the SQLite file; does its folder exist, and may this "
            f"user write there? check {FIX_URL}"
        )
    if isinstance(cause, ConnectionError):
        return f"database {url}: no PostgreSQL answers there ({cause}); check {FIX_URL}"
    return f"database {url} is unreachable: {cause}"


def _root(exc: BaseException) -> BaseException:
    """The driver's own exception under SQLAlchemy's wrappers."""
    seen: set[int] = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        inner = getattr(exc, "orig", None) or exc.__cause__
        if inner is None:
            return exc
        exc = inner
    return exc
