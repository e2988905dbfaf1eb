"""Discord through the whole pipeline: the emulator's gateway or its signed interactions in, the
bus, the core, SQL rows, and the reply arriving at the emulator."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from sqlalchemy import select

from botgate.testing.discord import DiscordEmulator, RecordedRequest
from gateway.app import Runtime
from store.models import Click, Message, PlatformChannel
from tests.adapters.discord.conftest import World
from tests.support.pipeline import count_rows, eventually, make_settings, running

Json = dict[str, Any]


@asynccontextmanager
async def gateway(
    backend: tuple[str, str], emulator: DiscordEmulator, **config: Any
) -> AsyncIterator[Runtime]:
    bot = {
        "name": "helpdesk",
        "tools": ["help"],
        "discord": {
            "token": emulator.token,
            "public_key": emulator.public_key_hex,
            "api_base_url": emulator.api_url,
            "lock_retry_interval": "50ms",
            **config,
        },
    }
    async with running(make_settings(*backend, bots=[bot])) as runtime:
        if config.get("gateway", True):
            await emulator.wait_for_session()
        yield runtime


def hook(runtime: Runtime) -> str:
    return f"{runtime.http.url}/webhooks/discord/helpdesk"


async def posted(emulator: DiscordEmulator, path: str, count: int = 1) -> list[RecordedRequest]:
    async def arrived() -> bool:
        return len(emulator.requests_to("POST", path)) >= count

    await eventually(arrived)
    return emulator.requests_to("POST", path)


async def rows(runtime: Runtime, count: int) -> list[Message]:
    async def recorded() -> bool:
        return await count_rows(runtime, "messages") >= count

    await eventually(recorded)
    async with runtime.db.transaction() as db:
        return list(
            (
                await db.execute(select(Message).order_by(Message.created_at, Message.direction))
            ).scalars()
        )


async def quiet(seconds: float = 0.4) -> None:
    """Long enough for a wrong answer, if one were coming, to reach the emulator."""
    await asyncio.sleep(seconds)


async def test_a_dm_through_the_gateway_is_answered_in_the_dm(
    backend: tuple[str, str], emulator: DiscordEmulator, world: World
) -> None:
    async with gateway(backend, emulator) as runtime:
        message = await emulator.post_user_message(world.dm["id"], world.alice, "/help")
        [reply] = await posted(emulator, f"/channels/{world.dm['id']}/messages")
        assert "/help" in reply.json["content"]
        assert "message_reference" not in reply.json  # a DM needs no reference
        inbound, outbound = await rows(runtime, 2)
        async with runtime.db.transaction() as db:
            channel = (await db.execute(select(PlatformChannel))).scalar_one()
    assert (inbound.direction, inbound.external_id, inbound.text) == ("in", message["id"], "/help")
    assert outbound.direction == "out"
    assert outbound.external_id in emulator.messages
    assert (channel.external_id, channel.type) == (world.dm["id"], "direct")


async def test_a_mention_in_a_channel_is_answered_with_a_reference(
    backend: tuple[str, str], emulator: DiscordEmulator, world: World
) -> None:
    async with gateway(backend, emulator) as runtime:
        bot_id = emulator.bot_user["id"]
        message = await emulator.post_user_message(
            world.channel["id"], world.alice, f"<@{bot_id}> /help"
        )
        [reply] = await posted(emulator, f"/channels/{world.channel['id']}/messages")
        assert reply.json["message_reference"]["message_id"] == message["id"]
        await rows(runtime, 2)


async def test_chatter_in_a_channel_is_recorded_only(
    backend: tuple[str, str], emulator: DiscordEmulator, world: World
) -> None:
    async with gateway(backend, emulator) as runtime:
        await emulator.post_user_message(world.channel["id"], world.alice, "just chatting")
        await emulator.post_user_message(world.thread["id"], world.alice, "in the thread")
        recorded = await rows(runtime, 2)
        await quiet()
        assert emulator.requests_to("POST", r"/channels/\d+/messages") == []
        async with runtime.db.transaction() as db:
            types = sorted((await db.execute(select(PlatformChannel.type))).scalars())
    assert [m.direction for m in recorded] == ["in", "in"]
    assert types == ["channel", "thread"]


async def test_edits_and_deletes_update_the_row(
    backend: tuple[str, str], emulator: DiscordEmulator, world: World
) -> None:
    async with gateway(backend, emulator) as runtime:
        message = await emulator.post_user_message(world.channel["id"], world.alice, "typo")
        await rows(runtime, 1)
        await emulator.dispatch(
            "MESSAGE_UPDATE",
            {**message, "content": "fixed", "edited_timestamp": "2026-11-22T13:46:10+00:00"},
        )

        async def changed(attribute: str) -> bool:
            [row] = await rows(runtime, 1)
            return getattr(row, attribute) is not None

        await eventually(lambda: changed("edited_at"))
        await emulator.dispatch(
            "MESSAGE_DELETE",
            {"id": message["id"], "channel_id": world.channel["id"], "guild_id": world.guild["id"]},
        )
        await eventually(lambda: changed("deleted_at"))
        [row] = await rows(runtime, 1)
    assert row.text == "fixed"


async def test_a_dropped_gateway_resumes_without_loss_or_duplicates(
    backend: tuple[str, str], emulator: DiscordEmulator, world: World
) -> None:
    async with gateway(backend, emulator) as runtime:
        await emulator.post_user_message(world.channel["id"], world.alice, "before")
        await rows(runtime, 1)
        await emulator.drop_connections()
        await emulator.post_user_message(world.channel["id"], world.alice, "while away")
        await emulator.wait_for_session(2)
        await emulator.post_user_message(world.channel["id"], world.alice, "after")
        await rows(runtime, 3)
        await quiet()
        recorded = await rows(runtime, 3)
    assert [m.text for m in recorded] == ["before", "while away", "after"]


async def post_interaction(
    url: str, emulator: DiscordEmulator, interaction: Json, forge: bool = False
) -> tuple[int, str]:
    body = json.dumps(interaction).encode()
    headers = emulator.signed_headers(body)
    if forge:
        headers["X-Signature-Ed25519"] = DiscordEmulator().signed_headers(body)[
            "X-Signature-Ed25519"
        ]
    emulator.interactions[interaction["token"]] = interaction
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, data=body, headers=headers) as response,
    ):
        return response.status, await response.text()


async def test_ping_gets_pong(
    backend: tuple[str, str], emulator: DiscordEmulator, world: World
) -> None:
    async with gateway(backend, emulator, gateway=False) as runtime:
        answer = await emulator.deliver_interaction(hook(runtime), emulator.ping_interaction())
        assert (answer.status, answer.json()) == (200, {"type": 1})
        assert await count_rows(runtime, "processed_events") == 0


async def test_a_bad_signature_is_401_and_records_nothing(
    backend: tuple[str, str], emulator: DiscordEmulator, world: World
) -> None:
    async with gateway(backend, emulator, gateway=False) as runtime:
        interaction = emulator.command_interaction(world.channel["id"], world.alice, "help")
        status, _ = await post_interaction(hook(runtime), emulator, interaction, forge=True)
        assert status == 401
        await quiet()
        assert await count_rows(runtime, "processed_events") == 0
        assert await count_rows(runtime, "messages") == 0
        assert emulator.requests_to("POST", r"/webhooks/\d+/.+") == []


async def test_a_command_is_deferred_then_answered_by_its_follow_up(
    backend: tuple[str, str], emulator: DiscordEmulator, world: World
) -> None:
    async with gateway(backend, emulator, gateway=False) as runtime:
        interaction = emulator.command_interaction(world.channel["id"], world.alice, "help")
        answer = await emulator.deliver_interaction(hook(runtime), interaction)
        assert (answer.status, answer.json()) == (200, {"type": 5})
        [follow_up] = await posted(emulator, r"/webhooks/\d+/.+")
        assert follow_up.path == f"/webhooks/{emulator.application_id}/{interaction['token']}"
        assert "/help" in follow_up.json["content"]
        inbound, outbound = await rows(runtime, 2)
    assert (inbound.external_id, outbound.direction) == (interaction["id"], "out")
    assert emulator.requests_to("POST", r"/channels/\d+/messages") == []


async def test_a_button_click_is_recorded_and_acknowledged(
    backend: tuple[str, str], emulator: DiscordEmulator, world: World
) -> None:
    async with gateway(backend, emulator, gateway=False) as runtime:
        shown = emulator.message(world.channel["id"], emulator.bot_user, "pick one")
        interaction = emulator.component_interaction(shown, world.alice, "more")
        answer = await emulator.deliver_interaction(hook(runtime), interaction)
        assert (answer.status, answer.json()) == (200, {"type": 6})

        async def clicked() -> bool:
            return await count_rows(runtime, "clicks") >= 1

        await eventually(clicked)
        async with runtime.db.transaction() as db:
            click = (await db.execute(select(Click))).scalar_one()
    assert (click.interaction_id, click.message_external_id) == ("more", shown["id"])


async def test_a_redelivered_interaction_is_recorded_once(
    backend: tuple[str, str], emulator: DiscordEmulator, world: World
) -> None:
    async with gateway(backend, emulator, gateway=False) as runtime:
        interaction = emulator.command_interaction(world.channel["id"], world.alice, "help")
        for _ in range(2):
            answer = await emulator.deliver_interaction(hook(runtime), interaction)
            assert answer.status == 200
        await posted(emulator, r"/webhooks/\d+/.+")
        await quiet()
        assert len(emulator.requests_to("POST", r"/webhooks/\d+/.+")) == 1
        assert len(await rows(runtime, 2)) == 2
