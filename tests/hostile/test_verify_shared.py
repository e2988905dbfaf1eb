"""The shared verification checks: any header text is a pass or a 401 with a reason."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict

from adapters.verify import check_window, same
from gateway.errors import SignatureError
from gateway.http.inbound import header_texts

NOW = 1_800_000_000.0


@pytest.mark.parametrize("skew", [0, 299, -299, 300, -300])
def test_a_timestamp_within_the_window_passes(skew: int) -> None:
    assert check_window(str(int(NOW) + skew), "X-Ts", 300, NOW) == int(NOW) + skew


@pytest.mark.parametrize("skew", [301, -301, 10**6])
def test_a_timestamp_outside_the_window_is_stale(skew: int) -> None:
    with pytest.raises(SignatureError, match="stale timestamp"):
        check_window(str(int(NOW) + skew), "X-Ts", 300, NOW)


@pytest.mark.parametrize(
    "timestamp",
    [
        "",
        " 1800000000",
        "1800000000 ",
        "+1800000000",
        "-1",
        "1_800_000_000",
        "1.5e9",
        "١٨٠٠٠٠٠٠٠٠",
        "9" * 13,
        "9" * 400,
        "9" * 5000,
        "0x6B49D200",
        "1800000000, 1800000000",
        "\ufffd",
        "NaN",
    ],
)
def test_anything_but_a_dozen_ascii_digits_is_not_unix_seconds(timestamp: str) -> None:
    with pytest.raises(SignatureError, match="X-Ts is not unix seconds"):
        check_window(timestamp, "X-Ts", 300, NOW)


@pytest.mark.parametrize(
    ("given", "expected", "equal"),
    [
        ("abc", "abc", True),
        ("abc", "abd", False),
        ("\udcff", "abc", False),
        ("é", "é", True),
        ("", "abc", False),
        ("a" * 10_000, "a", False),
    ],
)
def test_secrets_compare_whatever_they_hold(given: str, expected: str, equal: bool) -> None:
    assert same(given, expected) is equal


def test_headers_become_text_and_repeats_are_joined() -> None:
    headers = CIMultiDict(
        [("X-Sig", "a"), ("x-sig", "b"), ("X-Raw", "\udcff\udcfeok"), ("X-Nul", "a\x00b")]
    )
    texts = header_texts(headers)
    assert texts == {"x-sig": "a, b", "x-raw": "\ufffd\ufffdok", "x-nul": "a\ufffdb"}
    for value in texts.values():
        value.encode()  # every value encodes: nothing downstream can fail on it


def test_a_malformed_http_request_is_one_warning_line() -> None:
    import logging

    from aiohttp.http_exceptions import InvalidURLError

    from gateway.logs import MalformedHttpFilter

    try:
        raise InvalidURLError("Invalid char in url path:\n\n  b'POST /\\xc3'")
    except InvalidURLError:
        import sys

        record = logging.LogRecord(
            "aiohttp.server",
            logging.ERROR,
            __file__,
            1,
            "Error handling request from %s",
            ("127.0.0.1",),
            sys.exc_info(),
        )
    assert MalformedHttpFilter().filter(record)
    assert (record.levelname, record.exc_info) == ("WARNING", None)
    assert record.getMessage() == "refused a malformed HTTP request (400): Invalid char in url path"
