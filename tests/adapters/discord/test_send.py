"""Actions through real discord.py's HTTP client against the emulator."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from adapters.base import InboundRequest
from adapters.discord import DiscordAdapter
from adapters.discord.send import split_text
from botgate.testing.discord import DiscordEmulator
from gateway.config import Settings
from gateway.errors import PermanentError
from gateway.events import Action, Button
from gateway.ids import new_id
from tests.adapters.discord.conftest import World
from tests.adapters.discord.test_interactions import request
from tests.support.fake_context import FakeContext

MESSAGES = r"/channels/\d+/messages"
MESSAGES_ROUTE = "POST /channels/{channel_id}/messages"


def action(channel_id: str, **fields: Any) -> Action:
    return Action(
        type=fields.pop("type", "message.send"),
        platform="discord",
        bot="helpdesk",
        channel_id=channel_id,
        **fields,
    )


async def test_a_message_goes_to_its_channel(
    adapter: DiscordAdapter, emulator: DiscordEmulator, world: World
) -> None:
    result = await adapter.send(action(world.channel["id"], text="Refunds take **14 days**."))
    [sent] = emulator.requests_to("POST", MESSAGES)
    assert sent.path == f"/channels/{world.channel['id']}/messages"
    assert sent.json["content"] == "Refunds take **14 days**."
    assert sent.json["allowed_mentions"]["parse"] == ["users"]
    assert "message_reference" not in sent.json
    assert result.message_id in emulator.messages
    assert sent.headers["Authorization"] == f"Bot {emulator.token}"


async def test_a_reply_references_the_message(
    adapter: DiscordAdapter, emulator: DiscordEmulator, world: World
) -> None:
    question = await emulator.post_user_message(world.channel["id"], world.alice, "refunds?")
    result = await adapter.send(
        action(world.channel["id"], text="14 days", reply_to_id=question["id"])
    )
    [sent] = emulator.requests_to("POST", MESSAGES)
    assert sent.json["message_reference"] == {
        "message_id": question["id"],
        "fail_if_not_exists": False,
    }
    assert emulator.messages[str(result.message_id)]["referenced_message"]["id"] == question["id"]


async def test_a_thread_reply_goes_to_the_thread(
    adapter: DiscordAdapter, emulator: DiscordEmulator, world: World
) -> None:
    await adapter.send(action(world.thread["id"], text="in the thread"))
    [sent] = emulator.requests_to("POST", MESSAGES)
    assert sent.path == f"/channels/{world.thread['id']}/messages"


async def test_a_long_text_is_split_reference_first_buttons_last(
    adapter: DiscordAdapter, emulator: DiscordEmulator, world: World
) -> None:
    question = await emulator.post_user_message(
        world.channel["id"], world.alice, "tell me everything"
    )
    text = "\n".join(f"line {i:04d} " + "x" * 60 for i in range(70))  # about 4,800 characters
    buttons = [Button(id=f"b{i}", label=f"Option {i}") for i in range(6)] + [
        Button(id="docs", label="Docs", url="https://example.com/docs")
    ]
    result = await adapter.send(
        action(world.channel["id"], text=text, reply_to_id=question["id"], buttons=buttons)
    )
    sent = emulator.requests_to("POST", MESSAGES)
    assert len(sent) == 3
    assert all(len(r.json["content"]) <= 2000 for r in sent)
    assert "\n".join(r.json["content"] for r in sent) == text  # cut at line breaks, nothing lost
    assert "message_reference" in sent[0].json
    assert "message_reference" not in sent[1].json
    assert "components" not in sent[0].json
    rows = sent[-1].json["components"]
    assert [len(row["components"]) for row in rows] == [5, 2]
    assert rows[0]["components"][0] == {
        "type": 2,
        "style": 1,
        "label": "Option 0",
        "custom_id": "b0",
    }
    assert rows[1]["components"][1] == {
        "type": 2,
        "style": 5,
        "label": "Docs",
        "url": "https://example.com/docs",
    }
    assert result.message_id is not None
    assert len(result.extra_message_ids) == 2


def test_split_text_cuts_at_spaces_and_anywhere_when_it_must() -> None:
    assert split_text("a" * 4500) == ["a" * 2000, "a" * 2000, "a" * 500]
    words = split_text(("word " * 500).strip())
    assert all(len(part) <= 2000 for part in words)
    assert all(not p.startswith(" ") for p in words)
    assert " ".join(words) == ("word " * 500).strip()
    assert split_text("short") == ["short"]


async def test_plain_text_is_escaped(
    adapter: DiscordAdapter, emulator: DiscordEmulator, world: World
) -> None:
    await adapter.send(action(world.channel["id"], text="2*3*4 = 24", format="plain"))
    [sent] = emulator.requests_to("POST", MESSAGES)
    assert sent.json["content"] == "2\\*3\\*4 = 24"


async def test_edit_delete_reaction_and_typing(
    adapter: DiscordAdapter, emulator: DiscordEmulator, world: World
) -> None:
    channel = world.channel["id"]
    sent = await adapter.send(action(channel, text="draft"))
    edited = await adapter.send(
        action(channel, type="message.edit", message_id=sent.message_id, text="final")
    )
    await adapter.send(action(channel, type="reaction.add", message_id=sent.message_id, emoji="👍"))
    await adapter.send(action(channel, type="typing"))
    assert edited.message_id == sent.message_id
    assert emulator.messages[str(sent.message_id)]["content"] == "final"
    assert emulator.messages[str(sent.message_id)]["reactions"][0]["emoji"]["name"] == "👍"
    [reaction] = emulator.requests_to("PUT", r"/channels/\d+/messages/\d+/reactions/.+/@me")
    assert reaction.path == f"/channels/{channel}/messages/{sent.message_id}/reactions/👍/@me"
    assert emulator.requests_to("POST", r"/channels/\d+/typing")
    await adapter.send(action(channel, type="message.delete", message_id=sent.message_id))
    assert sent.message_id not in emulator.messages


async def test_a_429_is_honoured(
    adapter: DiscordAdapter, emulator: DiscordEmulator, world: World
) -> None:
    emulator.rate_limit(MESSAGES_ROUTE, retry_after=0.4)
    started = time.monotonic()
    result = await adapter.send(action(world.channel["id"], text="eventually"))
    elapsed = time.monotonic() - started
    attempts = emulator.requests_to("POST", MESSAGES)
    assert len(attempts) == 2
    assert elapsed >= 0.4
    assert result.message_id in emulator.messages


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        (404, 10003, "Unknown Channel"),
        (403, 50001, "Missing Access"),
        (403, 50013, "Missing Permissions"),
    ],
)
async def test_refusals_are_permanent(
    adapter: DiscordAdapter,
    emulator: DiscordEmulator,
    world: World,
    status: int,
    code: int,
    message: str,
) -> None:
    emulator.fail(MESSAGES_ROUTE, status=status, code=code, message=message)
    with pytest.raises(PermanentError, match=str(code)):
        await adapter.send(action(world.channel["id"], text="hello"))


async def test_unknown_channel_and_missing_access_from_the_emulators_world(
    adapter: DiscordAdapter, emulator: DiscordEmulator, world: World
) -> None:
    with pytest.raises(PermanentError, match="10003"):
        await adapter.send(action("4242", text="nobody there"))
    emulator.forbidden_channels.add(world.channel["id"])
    with pytest.raises(PermanentError, match="50001"):
        await adapter.send(action(world.channel["id"], text="not allowed"))


async def test_actions_missing_what_they_need_are_permanent(
    adapter: DiscordAdapter, world: World
) -> None:
    for bad in (
        action(world.channel["id"]),
        action(world.channel["id"], type="message.edit", text="x"),
        action(world.channel["id"], type="reaction.add", message_id="1"),
    ):
        with pytest.raises(PermanentError):
            await adapter.send(bad)


def _interaction_request(emulator: DiscordEmulator, interaction: dict[str, Any]) -> InboundRequest:
    emulator.interactions[interaction["token"]] = interaction  # as if the emulator had sent it
    body = json.dumps(interaction).encode()
    return request(body, emulator.signed_headers(body))


async def test_a_reply_to_a_command_is_its_follow_up(
    adapter: DiscordAdapter, emulator: DiscordEmulator, world: World
) -> None:
    interaction = emulator.command_interaction(
        world.channel["id"], world.alice, "kb", [{"type": 3, "name": "text", "value": "refunds"}]
    )
    inbound = _interaction_request(emulator, interaction)
    adapter.verify(inbound)
    [event] = adapter.parse(inbound).events
    result = await adapter.send(
        action(
            world.channel["id"],
            text="14 days",
            in_reply_to=event.id,
            reply_to_id=event.message.id if event.message else None,
        )
    )
    [follow_up] = emulator.requests_to("POST", r"/webhooks/\d+/.+")
    assert follow_up.path == f"/webhooks/{emulator.application_id}/{interaction['token']}"
    assert follow_up.json["content"] == "14 days"
    assert "message_reference" not in follow_up.json
    assert emulator.requests_to("POST", MESSAGES) == []
    assert emulator.messages[str(result.message_id)]["channel_id"] == world.channel["id"]


async def test_a_split_deployment_finds_the_ticket_in_the_state(
    settings: Settings, emulator: DiscordEmulator, world: World
) -> None:
    """The webhook process parses; another process sends: the ticket travels through the state."""
    web, sender = (
        DiscordAdapter(settings.bots[0], settings),
        DiscordAdapter(settings.bots[0], settings),
    )
    shared = FakeContext(settings, receives=False)
    await web.start(shared)
    await sender.start(shared)
    try:
        interaction = emulator.component_interaction(
            emulator.message(world.channel["id"], emulator.bot_user, "pick"), world.alice, "more"
        )
        [event] = web.parse(_interaction_request(emulator, interaction)).events
        await web.tickets.flush()
        assert "interactions" in shared.states[("discord", "helpdesk")]
        await sender.send(action(world.channel["id"], text="more", in_reply_to=event.id))
        assert len(emulator.requests_to("POST", r"/webhooks/\d+/.+")) == 1
    finally:
        await web.stop()
        await sender.stop()


async def test_an_expired_interaction_is_answered_in_the_channel(
    adapter: DiscordAdapter, emulator: DiscordEmulator, world: World
) -> None:
    interaction = emulator.command_interaction(world.channel["id"], world.alice, "help")
    [event] = adapter.parse(_interaction_request(emulator, interaction)).events
    emulator.fail(
        "POST /webhooks/{application_id}/{token}",
        status=401,
        code=50027,
        message="Invalid Webhook Token",
    )
    result = await adapter.send(action(world.channel["id"], text="late", in_reply_to=event.id))
    [fallback] = emulator.requests_to("POST", MESSAGES)
    assert fallback.json["content"] == "late"
    assert result.message_id in emulator.messages


async def test_sending_before_start_is_transient(settings: Settings) -> None:
    from gateway.errors import TransientError

    with pytest.raises(TransientError):
        await DiscordAdapter(settings.bots[0], settings).send(action("1", text="x"))


async def test_a_message_sent_again_after_a_crash_is_not_posted_twice(
    adapter: DiscordAdapter, emulator: DiscordEmulator, world: World
) -> None:
    """Each part carries a nonce with enforce_nonce: a create sent again (its ledger entry was
    lost in a crash) answers the first message instead of posting a second."""
    long = action(world.channel["id"], text=("word " * 900).strip())  # three parts
    first = await adapter.send(long)
    again = await adapter.send(long)
    other = await adapter.send(long.model_copy(update={"id": new_id()}))
    posts = emulator.requests_to("POST", MESSAGES)
    nonces = [post.json["nonce"] for post in posts]
    assert all(post.json["enforce_nonce"] is True for post in posts)
    assert len(set(nonces[:3])) == 3
    assert nonces[3:6] == nonces[:3]
    assert again.message_id == first.message_id
    assert again.extra_message_ids == first.extra_message_ids
    assert other.message_id != first.message_id  # another action: other nonces
    assert len({m["id"] for m in emulator.messages.values() if m.get("nonce")}) == 6
