"""API tokens and their scopes: `read` may GET, `write` may also send actions and change the
knowledge base, `admin` may do everything (tokens, dead letters, erase).

A token is `bgt_` and 43 url-safe characters (32 random bytes); only its SHA-256 is stored.
The hash of a token this strong needs no salt or slow hashing: nothing short enough to guess
goes in. `security.admin_token` keeps working as an admin token named `admin`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, get_args

from pydantic import ValidationError

from gateway.config import parse_duration
from gateway.errors import BotgateError
from gateway.events import utcnow
from store import audit
from store import tokens as stored
from store.database import Database

Scope = Literal["read", "write", "admin"]
SCOPES: tuple[Scope, ...] = get_args(Scope)
PREFIX = "bgt_"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
TOUCH_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often per token


class TokenError(BotgateError):
    http_status = 400


class Unauthorized(BotgateError):
    http_status = 401


class Forbidden(BotgateError):
    http_status = 403


@dataclass(frozen=True)
class Principal:
    """Who is calling: `admin` (security.admin_token) or `token:NAME`, with a scope."""

    actor: str
    scope: Scope

    def allows(self, needed: Scope) -> bool:
        return SCOPES.index(self.scope) >= SCOPES.index(needed)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_scope(value: str) -> Scope:
    if value not in SCOPES:
        raise TokenError(f"scope {value[:40]!r} is not one of read, write, admin")
    return value


def parse_expiry(value: str | None, now: datetime) -> datetime | None:
    if value is None:
        return None
    try:
        span = parse_duration(value)
    except (ValueError, ValidationError):
        raise TokenError(f"--expires {value[:40]!r}: write a duration like 90d or 12h") from None
    if span <= timedelta(0):
        raise TokenError("--expires must be a positive duration, like 90d")
    return now + span


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise TokenError(
            f"token name {name[:70]!r}: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


async def create(
    db: Database, name: str, scope: str, expires: str | None, actor: str
) -> tuple[str, dict[str, Any]]:
    """A new token: (the token, to be shown once; its public description)."""
    check_name(name)
    checked = parse_scope(scope)
    expires_at = parse_expiry(expires, utcnow())
    token = PREFIX + secrets.token_urlsafe(32)
    async with db.transaction() as session:
        if await stored.by_name(session, name) is not None:
            raise TokenError(f"a token named {name!r} exists; revoke it or pick another name")
        row = await stored.create(session, name, hash_token(token), checked, expires_at)
        audit.record(session, actor, "token.create", ("token", name), details={"scope": checked})
        return token, describe(row)


async def revoke(db: Database, name: str, actor: str) -> None:
    async with db.transaction() as session:
        if not await stored.revoke(session, name, utcnow()):
            raise UnknownToken(f"no active token named {name[:70]!r}; see `botgate token list`")
        audit.record(session, actor, "token.revoke", ("token", name))


class UnknownToken(BotgateError):
    http_status = 404


async def listing(db: Database) -> list[dict[str, Any]]:
    async with db.transaction() as session:
        return [describe(row) for row in await stored.all_tokens(session)]


def describe(row: Any) -> dict[str, Any]:
    now = utcnow()
    state = "active"
    if row.revoked_at is not None:
        state = "revoked"
    elif row.expires_at is not None and row.expires_at <= now:
        state = "expired"
    return {
        "name": row.name,
        "scope": (row.scopes or ["read"])[0],
        "state": state,
        "created_at": row.created_at.isoformat() if row.created_at else None,
        "expires_at": row.expires_at.isoformat() if row.expires_at else None,
        "last_used_at": row.last_used_at.isoformat() if row.last_used_at else None,
    }


def bearer(header: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header; anything else is refused."""
    if not header:
        raise Unauthorized("missing Authorization header: send `Authorization: Bearer <token>`")
    if not header.isascii():  # tokens are ASCII; anything else (even undecodable bytes) is not
        raise Unauthorized("the Authorization header holds characters no token has")
    kind, _, token = header.partition(" ")
    if kind.lower() != "bearer" or not token.strip():
        raise Unauthorized("the Authorization header must be `Bearer <token>`")
    return token.strip()


class Authenticator:
    """Finds who a bearer token belongs to: the configured admin token, or a stored one."""

    def __init__(self, db: Database, admin_token: str | None) -> None:
        self.db, self.admin_token = db, admin_token
        self._touched: dict[str, datetime] = {}

    async def principal(self, header: str | None) -> Principal:
        token = bearer(header)
        if self.admin_token and hmac.compare_digest(token.encode(), self.admin_token.encode()):
            return Principal("admin", "admin")
        async with self.db.transaction() as session:
            row = await stored.by_hash(session, hash_token(token))
            now = utcnow()
            if row is None or row.revoked_at is not None:
                raise Unauthorized("unknown or revoked token")
            if row.expires_at is not None and row.expires_at <= now:
                raise Unauthorized(f"token {row.name!r} expired at {row.expires_at.isoformat()}")
            if (
                now - self._touched.get(row.name, datetime.min.replace(tzinfo=now.tzinfo))
                > TOUCH_EVERY
            ):
                await stored.touch(session, row.name, now)
                self._touched[row.name] = now
            return Principal(f"token:{row.name}", parse_scope((row.scopes or ["read"])[0]))
