"""v0 signatures: accepted when Slack signed the body within the window, refused otherwise."""

from __future__ import annotations

import time

import pytest
from slack_sdk.signature import SignatureVerifier

from adapters.base import InboundRequest
from adapters.slack import SlackAdapter
from adapters.slack.verify import verify_request
from botgate.testing.slack import sign
from gateway.config import SecurityConfig
from gateway.errors import SignatureError
from gateway.events import utcnow
from tests.adapters.slack.support import SIGNING_SECRET, settings_for, signed

BODY = b'{"type":"event_callback","event_id":"Ev1"}'


def test_emulator_signs_as_the_sdk_does() -> None:
    verifier = SignatureVerifier(SIGNING_SECRET)
    assert sign(SIGNING_SECRET, "1531420618", BODY) == verifier.generate_signature(
        timestamp="1531420618", body=BODY
    )


def test_a_fresh_signed_request_passes(offline: SlackAdapter) -> None:
    offline.verify(signed(BODY))
    offline.verify(signed(BODY, age=299))


@pytest.mark.parametrize(
    ("age", "secret", "reason"),
    [
        (301, SIGNING_SECRET, "stale timestamp"),
        (-301, SIGNING_SECRET, "stale timestamp"),
        (0, "another-secret", "does not match"),
    ],
)
def test_refused(offline: SlackAdapter, age: float, secret: str, reason: str) -> None:
    with pytest.raises(SignatureError, match=reason):
        offline.verify(signed(BODY, age=age, secret=secret))


def test_a_changed_body_is_refused(offline: SlackAdapter) -> None:
    good = signed(BODY)
    forged = InboundRequest(**{**good.__dict__, "body": BODY.replace(b"Ev1", b"Ev2")})
    with pytest.raises(SignatureError, match="does not match"):
        offline.verify(forged)


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing"),
        ({"x-slack-request-timestamp": str(int(time.time()))}, "missing"),
        ({"x-slack-request-timestamp": "yesterday", "x-slack-signature": "v0=00"}, "unix seconds"),
        ({"x-slack-request-timestamp": "\uff11\uff12", "x-slack-signature": "v0"}, "unix seconds"),
    ],
)
def test_malformed_headers(offline: SlackAdapter, headers: dict[str, str], reason: str) -> None:
    with pytest.raises(SignatureError, match=reason):
        offline.verify(InboundRequest("slack", "helpdesk", "POST", headers, {}, BODY, utcnow()))


def test_a_non_utf8_body_is_refused_not_crashed() -> None:
    body = b"\xff\xfe"
    with pytest.raises(SignatureError, match="UTF-8"):
        verify_request(SignatureVerifier(SIGNING_SECRET), signed(body), 300)


def test_the_window_comes_from_settings() -> None:
    settings = settings_for("http://127.0.0.1:9/api/")
    narrow = settings.model_copy(update={"security": SecurityConfig(signature_window="60s")})
    adapter = SlackAdapter(narrow.bots[0], narrow)
    adapter.verify(signed(BODY, age=50))
    with pytest.raises(SignatureError, match="stale"):
        adapter.verify(signed(BODY, age=120))


def test_the_reason_never_carries_the_signature(offline: SlackAdapter) -> None:
    request = signed(BODY, secret="wrong")
    with pytest.raises(SignatureError) as caught:
        offline.verify(request)
    assert request.headers["x-slack-signature"] not in str(caught.value)
    assert SIGNING_SECRET not in str(caught.value)
