"""Console sessions end when idle, at their lifetime, at sign-out, and the oldest make room."""

from __future__ import annotations

import pytest

from gateway.console import sessions
from gateway.console.sessions import SessionStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_session_ends_when_idle_and_at_its_lifetime() -> None:
    clock = Clock()
    store = SessionStore(clock)
    session_id, session = store.start("bgt_token")
    assert store.get(session_id) is session
    assert store.get(session_id + "x") is None
    clock.now += sessions.IDLE - 1
    assert store.get(session_id) is session  # a request keeps it alive ...
    for _ in range(int(sessions.LIFETIME // (sessions.IDLE - 1))):
        clock.now += sessions.IDLE - 1
        store.get(session_id)
    assert store.get(session_id) is None  # ... up to its lifetime
    other, _ = store.start("bgt_token")
    clock.now += sessions.IDLE + 1
    assert store.get(other) is None
    assert len(store) == 0


def test_sign_out_ends_the_session_and_a_full_store_drops_the_oldest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sessions, "MAX_SESSIONS", 3)
    store = SessionStore(Clock())
    first, _ = store.start("a")
    second, _ = store.start("b")
    store.end(second)
    assert store.get(second) is None
    ids = [store.start(token)[0] for token in ("c", "d", "e")]
    assert store.get(first) is None  # the oldest went
    assert all(store.get(i) is not None for i in ids)
    assert len(store) == 3
