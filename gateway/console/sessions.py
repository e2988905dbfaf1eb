"""Console sign-in sessions, kept in the serving process.

The cookie holds only a random session id (32 bytes); the process keeps, under the id's hash,
the API token the operator signed in with, the session's CSRF token and its times. Every
request checks the token again (`Authenticator`), so revoking or expiring a token ends its
console sessions at once. A session ends after `IDLE` without a request, after `LIFETIME` in
any case, at sign-out, and when the process restarts.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

IDLE = 30 * 60.0  # seconds without a request
LIFETIME = 12 * 3600.0  # seconds after sign-in, however busy
MAX_SESSIONS = 10_000  # the oldest go first when more sign in
COOKIE = "botgate_console"
SIGN_IN_COOKIE = "botgate_console_signin"  # the sign-in form's CSRF secret, before a session


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def _key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


@dataclass
class Session:
    token: str  # the API token, checked again on every request; never logged or shown
    csrf: str
    started: float
    seen: float
    flash: str | None = None  # a one-time notice for the next page ("imported handbook.md")

    def expired(self, now: float) -> bool:
        return now - self.seen > IDLE or now - self.started > LIFETIME

    def take_flash(self) -> str | None:
        flash, self.flash = self.flash, None
        return flash


class SessionStore:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._sessions: dict[str, Session] = {}

    def _now(self) -> float:
        return self._clock()

    def start(self, token: str) -> tuple[str, Session]:
        """A new session for `token`: (the cookie's session id, the session)."""
        self._prune()
        now = self._now()
        session_id = new_secret()
        session = Session(token=token, csrf=new_secret(), started=now, seen=now)
        self._sessions[_key(session_id)] = session
        return session_id, session

    def get(self, session_id: str | None) -> Session | None:
        """The live session of a cookie's id, touched; None when unknown or expired."""
        if not session_id:
            return None
        key = _key(session_id)
        session = self._sessions.get(key)
        now = self._now()
        if session is None:
            return None
        if session.expired(now):
            del self._sessions[key]
            return None
        session.seen = now
        return session

    def end(self, session_id: str | None) -> None:
        if session_id:
            self._sessions.pop(_key(session_id), None)

    def __len__(self) -> int:
        return len(self._sessions)

    def _prune(self) -> None:
        now = self._now()
        for key in [k for k, s in self._sessions.items() if s.expired(now)]:
            del self._sessions[key]
        while len(self._sessions) >= MAX_SESSIONS:  # dicts keep insertion order: oldest first
            del self._sessions[next(iter(self._sessions))]


@dataclass
class SignInLimiter:
    """Refused sign-ins per client address: after `limit` in `window` seconds, wait."""

    limit: int = 10
    window: float = 300.0
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def blocked(self, address: str) -> bool:
        return len(self._recent(address)) >= self.limit

    def failed(self, address: str) -> None:
        if len(self._failures) > MAX_SESSIONS:
            self._failures.clear()  # a flood of addresses: forget rather than grow
        self._recent(address).append(time.monotonic())

    def _recent(self, address: str) -> deque[float]:
        times = self._failures.setdefault(address, deque())
        while times and time.monotonic() - times[0] > self.window:
            times.popleft()
        return times
