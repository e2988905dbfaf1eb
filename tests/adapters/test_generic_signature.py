"""The generic signature: HMAC-SHA256 of "<timestamp>.<body>", as the standard library's own
HMAC computes it, whatever the secret's type, the body's size or the order of calls (the
keyed HMAC is cached and copied per message)."""

from __future__ import annotations

import hmac

import pytest

from adapters.generic import sign


def reference(secret: bytes, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, f"{timestamp}.".encode() + body, "sha256").hexdigest()


@pytest.mark.parametrize("size", [0, 1, 2047, 2048, 100_000])  # either side of 2 KiB
def test_the_signature_is_the_standard_hmac(size: int) -> None:
    body = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    assert sign("kéy", 1700000000, body) == reference("kéy".encode(), "1700000000", body)
    assert sign("kéy".encode(), "1700000000", body) == reference("kéy".encode(), "1700000000", body)


def test_signing_again_or_with_another_secret_does_not_disturb_the_cached_key() -> None:
    first = sign("secret-a", 1, b"{}")
    other = sign("secret-b", 1, b"{}")
    assert other != first
    assert sign("secret-a", 1, b"{}") == first == reference(b"secret-a", "1", b"{}")
