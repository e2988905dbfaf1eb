"""Console sessions live in an encrypted cookie: forged or altered cookies are refused, a
session ends when idle, at its lifetime and at sign-out, and another process reads it too."""

from __future__ import annotations

from gateway.console import sessions
from gateway.console.sessions import SessionKeeper

KEY = b"k" * 32


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_session_lasts_while_used_up_to_its_lifetime() -> None:
    clock = Clock()
    keeper = SessionKeeper(KEY, clock)
    started = keeper.start("bgt_token")
    cookie = keeper.cookie(started)
    read = keeper.read(cookie)
    assert read is not None
    assert (read.token, read.id, read.csrf) == ("bgt_token", started.id, started.csrf)
    clock.now += sessions.IDLE + 1
    assert keeper.read(cookie) is None  # idle too long
    clock.now -= sessions.IDLE + 1
    for _ in range(sessions.LIFETIME // (sessions.IDLE - 60)):
        clock.now += sessions.IDLE - 60
        session = keeper.read(cookie)
        if session is None:
            break
        assert session.changed  # older than REFRESH: the page writes it again
        cookie = keeper.cookie(session)
    assert clock.now - started.started > sessions.LIFETIME - sessions.IDLE
    clock.now = started.started + sessions.LIFETIME + 1
    assert keeper.read(keeper.cookie(started)) is None  # however fresh the cookie


def test_forged_altered_or_foreign_cookies_are_refused() -> None:
    keeper = SessionKeeper(KEY, Clock())
    cookie = keeper.cookie(keeper.start("bgt_token"))
    altered = cookie[:-5] + ("A" if cookie[-5] != "A" else "B") + cookie[-4:]
    assert keeper.read(altered) is None
    assert keeper.read("not a cookie") is None
    assert keeper.read("") is None
    assert SessionKeeper(b"x" * 32, Clock()).read(cookie) is None  # another secret key


def test_another_process_reads_it_and_sign_out_ends_it_here() -> None:
    clock = Clock()
    here, there = SessionKeeper(KEY, clock), SessionKeeper(KEY, clock)
    session = here.start("bgt_token")
    cookie = here.cookie(session)
    elsewhere = there.read(cookie)
    assert elsewhere is not None
    assert elsewhere.csrf == session.csrf  # the same CSRF token in every process
    here.end(session)
    assert session.ended
    assert here.read(cookie) is None


def test_a_notice_is_shown_once() -> None:
    keeper = SessionKeeper(KEY, Clock())
    session = keeper.start("bgt_token")
    session.tell("x" * 1000)
    read = keeper.read(keeper.cookie(session))
    assert read is not None
    assert read.take_flash() == "x" * sessions.FLASH_LIMIT
    assert read.changed
    again = keeper.read(keeper.cookie(read))
    assert again is not None
    assert again.take_flash() is None
