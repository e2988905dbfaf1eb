"""Socket Mode through slack_sdk's aiohttp SocketModeClient against the emulator's websocket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from adapters.slack import SlackAdapter
from botgate.testing.slack import SlackEmulator
from gateway.config import Settings
from gateway.errors import PermanentError
from tests.adapters.slack.support import inner, load, settings_for
from tests.support.fake_context import FakeContext


@pytest.fixture
def socket_settings(slack: SlackEmulator) -> Settings:
    return settings_for(slack.api_url, app_token=slack.app_token)


@pytest.fixture
def receiving(socket_settings: Settings) -> FakeContext:
    return FakeContext(socket_settings, receives=True)


@pytest.fixture
async def socket_adapter(
    socket_settings: Settings, receiving: FakeContext, slack: SlackEmulator
) -> AsyncIterator[SlackAdapter]:
    adapter = SlackAdapter(socket_settings.bots[0], socket_settings)
    await adapter.start(receiving)
    await slack.wait_for_socket()
    yield adapter
    await adapter.stop()


async def test_connects_with_the_app_token(
    socket_adapter: SlackAdapter, slack: SlackEmulator
) -> None:
    (opened,) = slack.calls("apps.connections.open")
    assert opened.token == slack.app_token
    assert slack.socket_connections == 1


async def test_an_event_is_published_then_acknowledged(
    socket_adapter: SlackAdapter, slack: SlackEmulator, receiving: FakeContext
) -> None:
    ack = await slack.socket_event(inner("message"), retry_attempt=1, retry_reason="timeout")
    assert ack is not None
    (event,) = receiving.events
    assert event.type == "message.created"
    assert event.dedupe_key.startswith("slack:helpdesk:event:Ev")
    assert (event.delivery.attempt, event.delivery.retry_reason) == (2, "timeout")
    # Socket Mode waits for names: known before publishing
    assert event.user is not None
    assert (event.user.name, event.user.display_name) == ("alice", "Alice Liddell")
    assert event.channel.name == "support"


async def test_commands_and_clicks_over_the_socket(
    socket_adapter: SlackAdapter, slack: SlackEmulator, receiving: FakeContext
) -> None:
    assert await slack.socket_deliver("slash_commands", load("slash_command")) is not None
    assert await slack.socket_deliver("interactive", load("block_actions")) is not None
    command, click = receiving.events
    assert command.type == "command.invoked"
    assert command.message is not None
    assert command.message.command is not None
    assert command.message.command.name == "kb"
    assert click.type == "interaction.clicked"


async def test_no_ack_while_the_bus_is_down(
    socket_adapter: SlackAdapter, slack: SlackEmulator, receiving: FakeContext
) -> None:
    receiving.bus_down = True
    assert await slack.socket_event(inner("message"), within=0.5) is None
    receiving.bus_down = False
    assert await slack.socket_event(inner("message")) is not None
    assert len(receiving.events) == 1


async def test_a_malformed_envelope_is_acknowledged_and_dropped(
    socket_adapter: SlackAdapter, slack: SlackEmulator, receiving: FakeContext
) -> None:
    broken = {"type": "event_callback", "event": {"type": "message"}}  # no event_id
    assert await slack.socket_deliver("events_api", broken) is not None
    assert receiving.events == []


async def test_reconnects_when_slack_asks(
    socket_adapter: SlackAdapter, slack: SlackEmulator, receiving: FakeContext
) -> None:
    await slack.socket_disconnect("refresh_requested")
    for _ in range(100):
        if slack.socket_connections == 2 and len(slack._sockets) == 1:
            break
        await asyncio.sleep(0.05)
    assert slack.socket_connections == 2
    assert len(slack.calls("apps.connections.open")) == 2
    assert await slack.socket_event(inner("message")) is not None
    assert len(receiving.events) == 1


async def test_only_the_receiving_process_connects(
    socket_settings: Settings, slack: SlackEmulator
) -> None:
    adapter = SlackAdapter(socket_settings.bots[0], socket_settings)
    await adapter.start(FakeContext(socket_settings, receives=False))
    await adapter.stop()
    assert slack.calls("apps.connections.open") == []
    assert slack.socket_connections == 0


async def test_a_refused_app_token_fails_start(slack: SlackEmulator) -> None:
    settings = settings_for(slack.api_url, app_token="xapp-revoked")
    adapter = SlackAdapter(settings.bots[0], settings)
    with pytest.raises(PermanentError, match="invalid_auth"):
        await adapter.start(FakeContext(settings, receives=True))
    assert slack.socket_connections == 0
