"""The interactions endpoint without a network: Ed25519 verification and parsing."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.base import InboundRequest
from adapters.discord import DiscordAdapter
from botgate.testing.discord import DiscordEmulator
from gateway.errors import PayloadError, SignatureError
from tests.adapters.discord.conftest import settings_for
from tests.adapters.discord.payloads import load

Json = dict[str, Any]


@pytest.fixture
def signer() -> DiscordEmulator:
    return DiscordEmulator()  # only its Ed25519 key is used here


@pytest.fixture
def offline(signer: DiscordEmulator) -> DiscordAdapter:
    settings = settings_for(signer)
    return DiscordAdapter(settings.bots[0], settings)


def request(body: bytes, headers: dict[str, str]) -> InboundRequest:
    return InboundRequest(
        platform="discord",
        bot="helpdesk",
        method="POST",
        headers={k.lower(): v for k, v in headers.items()},
        query={},
        body=body,
        received_at=datetime.now(UTC),
    )


def signed(
    signer: DiscordEmulator, payload: Json | bytes, timestamp: str | None = None
) -> InboundRequest:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return request(body, signer.signed_headers(body, timestamp))


# verification


def test_a_signed_interaction_verifies(offline: DiscordAdapter, signer: DiscordEmulator) -> None:
    offline.verify(signed(signer, load("interaction_ping")))


def test_a_tampered_body_is_refused(offline: DiscordAdapter, signer: DiscordEmulator) -> None:
    genuine = signed(signer, load("interaction_ping"))
    tampered = request(genuine.body.replace(b'"type": 1', b'"type": 2'), dict(genuine.headers))
    with pytest.raises(SignatureError, match="does not match"):
        offline.verify(tampered)


def test_another_key_is_refused(offline: DiscordAdapter) -> None:
    with pytest.raises(SignatureError, match="does not match"):
        offline.verify(signed(DiscordEmulator(), load("interaction_ping")))


def test_a_stale_timestamp_is_refused(offline: DiscordAdapter, signer: DiscordEmulator) -> None:
    stale = str(int(time.time()) - 301)
    with pytest.raises(SignatureError, match="stale"):
        offline.verify(signed(signer, load("interaction_ping"), stale))


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Signature-Timestamp": "1700000000"},
        {"X-Signature-Ed25519": "00" * 64, "X-Signature-Timestamp": "yesterday"},
        {"X-Signature-Ed25519": "not hex", "X-Signature-Timestamp": str(int(time.time()))},
    ],
)
def test_missing_or_malformed_headers_are_refused(
    offline: DiscordAdapter, headers: dict[str, str]
) -> None:
    with pytest.raises(SignatureError):
        offline.verify(request(b"{}", headers))


def test_without_a_public_key_nothing_verifies(signer: DiscordEmulator) -> None:
    settings = settings_for(signer, public_key=None)
    adapter = DiscordAdapter(settings.bots[0], settings)
    with pytest.raises(SignatureError, match="no discord public_key"):
        adapter.verify(signed(signer, load("interaction_ping")))


def test_a_malformed_public_key_is_a_configuration_error(signer: DiscordEmulator) -> None:
    settings = settings_for(signer, public_key="abc")
    with pytest.raises(ValueError, match="64-hex-digit"):
        DiscordAdapter(settings.bots[0], settings)


# parsing


def test_ping_gets_pong_and_no_event(offline: DiscordAdapter, signer: DiscordEmulator) -> None:
    parsed = offline.parse(signed(signer, load("interaction_ping")))
    assert parsed.events == ()
    assert parsed.reply is not None
    assert (parsed.reply.status, json.loads(parsed.reply.body)) == (200, {"type": 1})


def test_an_application_command_is_command_invoked(
    offline: DiscordAdapter, signer: DiscordEmulator
) -> None:
    parsed = offline.parse(signed(signer, load("interaction_command")))
    [event] = parsed.events
    assert event.type == "command.invoked"
    assert event.dedupe_key == "discord:helpdesk:interaction:1309512345678901301"
    assert event.message is not None
    assert event.message.command is not None
    assert (event.message.command.name, event.message.command.args) == ("kb", "refund policy")
    assert event.message.text == "/kb refund policy"
    assert event.channel.model_dump() == {
        "id": "1100000000000000100",
        "type": "channel",
        "name": "support",
    }
    assert event.conversation_key == "discord:helpdesk:1100000000000000100"
    assert event.user is not None
    assert (event.user.id, event.user.name, event.user.locale) == (
        "1100000000000000042",
        "alice",
        "en-GB",
    )
    assert "token" not in event.raw
    assert event.raw["id"] == "1309512345678901301"
    assert parsed.reply is not None
    assert json.loads(parsed.reply.body) == {"type": 5}


def test_subcommands_and_options_become_the_args(
    offline: DiscordAdapter, signer: DiscordEmulator
) -> None:
    payload = load("interaction_command")
    payload["data"] = {
        "id": "1",
        "name": "Tag",
        "type": 1,
        "options": [
            {
                "type": 1,
                "name": "add",
                "options": [
                    {"type": 3, "name": "name", "value": "refunds"},
                    {"type": 4, "name": "days", "value": 14},
                ],
            },
        ],
    }
    [event] = offline.parse(signed(signer, payload)).events
    assert event.message is not None
    assert event.message.command is not None
    assert (event.message.command.name, event.message.command.args) == ("tag", "add refunds 14")


def test_a_button_click_is_interaction_clicked(
    offline: DiscordAdapter, signer: DiscordEmulator
) -> None:
    parsed = offline.parse(signed(signer, load("interaction_component")))
    [event] = parsed.events
    assert event.type == "interaction.clicked"
    assert event.interaction is not None
    assert event.interaction.model_dump() == {
        "id": "more",
        "value": None,
        "message_id": "1309512345678901290",
    }
    assert event.channel.type == "direct"  # clicked in a DM: no guild
    assert event.user is not None
    assert event.user.id == "1100000000000000042"
    assert event.dedupe_key == "discord:helpdesk:interaction:1309512345678901302"
    assert parsed.reply is not None
    assert json.loads(parsed.reply.body) == {"type": 6}


def test_a_select_menu_carries_its_values(offline: DiscordAdapter, signer: DiscordEmulator) -> None:
    payload = load("interaction_component")
    payload["data"] = {"custom_id": "topic", "component_type": 3, "values": ["billing", "refunds"]}
    [event] = offline.parse(signed(signer, payload)).events
    assert event.interaction is not None
    assert event.interaction.value == "billing,refunds"


def test_a_command_in_a_thread_is_in_a_thread_channel(
    offline: DiscordAdapter, signer: DiscordEmulator
) -> None:
    payload = load("interaction_command")
    payload["channel"] = {**payload["channel"], "type": 11, "name": "refunds"}
    [event] = offline.parse(signed(signer, payload)).events
    assert (event.channel.type, event.channel.name) == ("thread", "refunds")


def test_autocomplete_is_answered_without_an_event(
    offline: DiscordAdapter, signer: DiscordEmulator
) -> None:
    payload = {**load("interaction_command"), "type": 4}
    parsed = offline.parse(signed(signer, payload))
    assert parsed.events == ()
    assert parsed.reply is not None
    assert json.loads(parsed.reply.body)["type"] == 8


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b'{"id": "1"}', b'{"type": 9, "id": "1"}', b'{"type": 2, "id": "1"}'],
)
def test_what_is_not_an_interaction_is_a_payload_error(
    offline: DiscordAdapter, body: bytes
) -> None:
    with pytest.raises(PayloadError):
        offline.parse(request(body, {}))


async def test_the_ticket_is_kept_for_the_follow_up(
    offline: DiscordAdapter, signer: DiscordEmulator
) -> None:
    payload = load("interaction_command")
    [event] = offline.parse(signed(signer, payload)).events
    ticket = await offline.tickets.find(str(event.id))
    assert ticket is not None
    assert (ticket.application_id, ticket.token) == (payload["application_id"], payload["token"])
