"""Console sign-in sessions, held in an encrypted cookie so that any gateway process serves
them (the gateways behind a load balancer share no memory, only `security.secret_key`).

The cookie is Fernet ciphertext (AES + HMAC, under a key derived from the secret key for this
purpose alone) of: the API token signed in with, a random session id, the sign-in time, and a
one-time notice. Every request checks the token again (`Authenticator`), so revoking or
expiring the token ends its sessions at once, everywhere. Fernet's own timestamp is the time
the cookie was last written: older than `IDLE` is refused, and pages re-write it (at most every
`REFRESH`), so a session lasts while it is used, up to `LIFETIME` after sign-in. Sign-out
clears the cookie and refuses its session id in this process from then on.

The CSRF token of a session is an HMAC of its id: the same in every process, never stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.fernet import Fernet, InvalidToken

IDLE = 30 * 60  # seconds without a request
LIFETIME = 12 * 3600  # seconds after sign-in, however busy
REFRESH = 60  # a page re-writes the cookie when it is older than this
FLASH_LIMIT = 300  # characters of a notice
COOKIE = "botgate_console"
SIGN_IN_COOKIE = "botgate_console_signin"  # the sign-in form's CSRF secret, before a session


def new_secret() -> str:
    return secrets.token_urlsafe(32)


@dataclass
class Session:
    token: str  # the API token, checked again on every request; never logged or shown
    id: str
    started: int  # unix seconds
    written: int  # when the cookie was last written (Fernet's timestamp)
    csrf: str = ""
    flash: str | None = None  # a one-time notice for the next page ("imported handbook.md")
    changed: bool = False  # the cookie must be written again
    ended: bool = False

    def tell(self, notice: str) -> None:
        self.flash, self.changed = notice[:FLASH_LIMIT], True

    def take_flash(self) -> str | None:
        flash, self.flash = self.flash, None
        self.changed = self.changed or flash is not None
        return flash


class SessionKeeper:
    def __init__(self, key: bytes, clock: Callable[[], float] = time.time) -> None:
        """`key`: 32 secret bytes for the console alone (`Vault.derive`)."""
        self._fernet = Fernet(base64.urlsafe_b64encode(_derive(key, b"cookie")))
        self._csrf_key = _derive(key, b"csrf")
        self._clock = clock
        self._ended: dict[str, int] = {}  # session id -> its sign-in time, signed out here

    def _now(self) -> int:
        return int(self._clock())

    def start(self, token: str) -> Session:
        now = self._now()
        return self._with_csrf(Session(token, new_secret(), now, now, changed=True))

    def read(self, cookie: str | None) -> Session | None:
        """The session of a cookie; None when it is forged, expired or signed out."""
        if not cookie:
            return None
        now = self._now()
        try:
            data = json.loads(self._fernet.decrypt_at_time(cookie.encode(), IDLE, now))
            written = self._fernet.extract_timestamp(cookie.encode())
            session = Session(data["t"], data["s"], int(data["a"]), written, flash=data.get("f"))
        except (InvalidToken, ValueError, KeyError, TypeError):
            return None
        if now - session.started > LIFETIME or session.id in self._ended:
            return None
        session.changed = now - written > REFRESH
        return self._with_csrf(session)

    def cookie(self, session: Session) -> str:
        data = {"t": session.token, "s": session.id, "a": session.started, "f": session.flash}
        return self._fernet.encrypt_at_time(json.dumps(data).encode(), self._now()).decode()

    def end(self, session: Session) -> None:
        now = self._now()
        for key in [k for k, started in self._ended.items() if now - started > LIFETIME]:
            del self._ended[key]  # expired anyway
        self._ended[session.id] = session.started
        session.ended = True

    def _with_csrf(self, session: Session) -> Session:
        mac = hmac.new(self._csrf_key, session.id.encode(), hashlib.sha256).digest()
        session.csrf = base64.urlsafe_b64encode(mac).decode().rstrip("=")
        return session


def _derive(key: bytes, purpose: bytes) -> bytes:
    return hmac.new(key, purpose, hashlib.sha256).digest()


@dataclass
class SignInLimiter:
    """Refused sign-ins per client address: after `limit` in `window` seconds, wait."""

    limit: int = 10
    window: float = 300.0
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def blocked(self, address: str) -> bool:
        return len(self._recent(address)) >= self.limit

    def failed(self, address: str) -> None:
        if len(self._failures) > 10_000:
            self._failures.clear()  # a flood of addresses: forget rather than grow
        self._recent(address).append(time.monotonic())

    def _recent(self, address: str) -> deque[float]:
        times = self._failures.setdefault(address, deque())
        while times and time.monotonic() - times[0] > self.window:
            times.popleft()
        return times
