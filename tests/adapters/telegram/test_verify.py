from __future__ import annotations

import pytest

from adapters.telegram import TelegramAdapter
from gateway.errors import SignatureError
from tests.adapters.telegram.conftest import SettingsFactory
from tests.adapters.telegram.payloads import SECRET, payload, request


def adapter_for(make_settings: SettingsFactory, **table: object) -> TelegramAdapter:
    settings = make_settings(**table)
    return TelegramAdapter(settings.bots[0], settings)


def test_the_right_secret_passes(make_settings: SettingsFactory) -> None:
    adapter_for(make_settings).verify(request(payload("private_text"), secret=SECRET))


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        (None, "missing"),
        ("", "missing"),
        ("s3cret-Token_2", "does not match"),
        (SECRET[:-1], "match"),
    ],
)
def test_a_wrong_or_missing_secret_is_refused(
    make_settings: SettingsFactory, secret: str | None, reason: str
) -> None:
    with pytest.raises(SignatureError, match=reason) as caught:
        adapter_for(make_settings).verify(request(payload("private_text"), secret=secret))
    assert SECRET not in str(caught.value)


def test_without_a_configured_secret_every_webhook_is_refused(
    make_settings: SettingsFactory,
) -> None:
    with pytest.raises(SignatureError, match="no webhook_secret"):
        adapter_for(make_settings, webhook_secret=None).verify(request(payload("private_text")))
