"""Visitor tokens: who a web chat visitor is, signed by the gateway and expiring.

A token is `<payload>.<mac>`, both url-safe base64: the payload is `bot`, `visitor` (a random
id, the visitor's channel and user id) and `exp` (unix seconds); the mac is HMAC-SHA256 of the
payload under a key derived from `security.secret_key`. The page keeps it in localStorage and
sends it as the first frame of its WebSocket (never in a URL, so no access log holds it).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from gateway.errors import BotgateError

_MAX_TOKEN = 512


class TokenRefused(BotgateError):
    """A visitor token that is forged, expired or for another bot."""

    http_status = 401


@dataclass(frozen=True)
class Visitor:
    bot: str
    id: str
    expires: int  # unix seconds


class VisitorTokens:
    def __init__(self, key: bytes, ttl_seconds: float) -> None:
        self._key, self.ttl = key, ttl_seconds

    def issue(self, bot: str, now: float | None = None) -> tuple[Visitor, str]:
        """A new visitor and its token."""
        return self.renew(Visitor(bot, "v-" + secrets.token_urlsafe(16), 0), now)

    def renew(self, visitor: Visitor, now: float | None = None) -> tuple[Visitor, str]:
        """The same visitor with a full lifetime again, and its token."""
        expires = int((time.time() if now is None else now) + self.ttl)
        renewed = Visitor(visitor.bot, visitor.id, expires)
        return renewed, self.sign(renewed)

    def sign(self, visitor: Visitor) -> str:
        payload = {"bot": visitor.bot, "visitor": visitor.id, "exp": visitor.expires}
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        return f"{body}.{_b64(self._mac(body))}"

    def check(self, token: str, bot: str, now: float | None = None) -> Visitor:
        """The visitor a token names; TokenRefused (saying why) when it is not genuine, is for
        another bot or has expired."""
        body, _, mac = token.partition(".")
        if len(token) > _MAX_TOKEN or not mac:
            raise TokenRefused("not a visitor token")
        # as bytes: compare_digest raises TypeError on a str that is not ASCII
        if not hmac.compare_digest(_b64(self._mac(body)).encode(), mac.encode()):
            raise TokenRefused("the visitor token's signature does not match")
        visitor = _visitor(body)
        if visitor.bot != bot:
            raise TokenRefused("the visitor token is for another bot")
        if visitor.expires <= (time.time() if now is None else now):
            raise TokenRefused("the visitor token has expired")
        return visitor

    def _mac(self, body: str) -> bytes:
        return hmac.new(self._key, body.encode(), hashlib.sha256).digest()


def _visitor(body: str) -> Visitor:
    try:
        payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        return Visitor(str(payload["bot"]), str(payload["visitor"]), int(payload["exp"]))
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise TokenRefused("not a visitor token") from None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
