"""The outage lines without a real outage: what is said once, what is kept quiet, and what
still shows (a failure that is not an outage, a library record that is not about a
reconnect)."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from gateway.bus.reconnect_log import ReconnectNoiseFilter
from gateway.outage import Outage

log = logging.getLogger("tests.outage")


def test_an_outage_is_said_once_and_its_end_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    outage = Outage("the database x")
    down = OperationalError("SELECT 1", {}, ConnectionRefusedError("refused"))
    for attempt in range(5):
        outage.failed(log, down, "attempt %d failed", attempt)
    outage.back()
    outage.back()  # a second connection after the end says nothing
    outage.failed(log, IntegrityError("INSERT", {}, ValueError("dup")), "a constraint: %s", "x")
    lines = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert [line for line in lines if line[0] != "DEBUG"] == [
        (
            "WARNING",
            "the database x is unreachable (OperationalError: (builtins.ConnectionRefu"
            "sedError) refused); retrying until it is back",
        ),
        ("INFO", lines[6][1]),
        ("WARNING", "a constraint: x"),  # not an outage: said every time, as before
    ]
    assert lines[6][1].startswith("the database x is reachable again after ")
    assert sum(level == "DEBUG" for level, _ in lines) == 5


@pytest.mark.parametrize(
    ("name", "msg", "args", "shown"),
    [
        ("aiormq.connection", "Cancelling cause reader exited abnormally", (), False),
        ("aio_pika.robust_connection", 'Connection attempt to "%s" failed: %s.', ("u", "e"), False),
        (
            "aio_pika.tools",
            "Callback %r error: %s: %s",
            ("cb", "ChannelInvalidStateError", "x"),
            False,
        ),
        (
            "aio_pika.tools",
            "Callback %r error: %s: %s",
            ("cb", "RuntimeError", "<C> closed"),
            False,
        ),
        ("aio_pika.tools", "Callback %r error: %s: %s", ("cb", "KeyError", "'queue'"), True),
        ("aiormq.connection", "Connection %r was blocked by: %r", ("c", "low disk"), True),
    ],
)
def test_only_reconnect_chatter_is_dropped(
    name: str, msg: str, args: tuple[object, ...], shown: bool
) -> None:
    record = logging.LogRecord(name, logging.ERROR, __file__, 1, msg, args, None)
    assert ReconnectNoiseFilter().filter(record) is shown
