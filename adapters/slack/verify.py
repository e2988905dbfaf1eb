"""Slack request signatures: v0 HMAC-SHA256 of `v0:{timestamp}:{body}` with the signing secret."""

from __future__ import annotations

from slack_sdk.signature import SignatureVerifier

from adapters.base import InboundRequest
from adapters.verify import check_window, required, same
from gateway.errors import SignatureError

SIGNATURE_HEADER = "X-Slack-Signature"
TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"


def verify_request(
    verifier: SignatureVerifier, request: InboundRequest, window_seconds: float,
    now: float | None = None,
) -> None:
    """Raise SignatureError (with the reason, never the signature) unless Slack signed `request`.

    The SDK's `is_valid` hard-codes a 5-minute window and gives no reason, so the window and the
    constant-time comparison are done here around the SDK's `generate_signature`.
    """
    signature, timestamp = required(request, SIGNATURE_HEADER, TIMESTAMP_HEADER)
    check_window(timestamp, TIMESTAMP_HEADER, window_seconds, now)
    try:
        expected = verifier.generate_signature(timestamp=timestamp, body=request.body)
    except UnicodeDecodeError:
        raise SignatureError("body is not UTF-8, so Slack did not sign it") from None
    if expected is None or not same(expected, signature):
        raise SignatureError("signature does not match the body")
