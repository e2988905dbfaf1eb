"""Application commands from the bot's tools: bulk overwrite on start, only when they changed."""

from __future__ import annotations

from adapters.discord import DiscordAdapter
from adapters.discord.commands import command_payloads
from botgate.testing.discord import DiscordEmulator
from gateway.config import Settings
from gateway.tools.base import CommandSpec
from tests.adapters.discord.conftest import World, settings_for
from tests.support.fake_context import FakeContext

OVERWRITE = r"/applications/\d+/commands"


async def start_and_stop(adapter: DiscordAdapter, context: FakeContext) -> None:
    await adapter.start(context)
    await adapter.stop()


async def test_tools_are_registered_once_then_again_when_they_change(
    emulator: DiscordEmulator, world: World
) -> None:
    settings = _with_tools(settings_for(emulator, gateway=False), ["help", "lang"])
    context = FakeContext(settings, receives=True)
    await start_and_stop(DiscordAdapter(settings.bots[0], settings), context)
    [first] = emulator.requests_to("PUT", OVERWRITE)
    assert [(c["name"], c["description"]) for c in first.json] == [
        ("help", "list what I can do"),  # the registry's descriptions
        ("lang", "choose the language I answer in"),
    ]
    assert [c["name"] for c in emulator.commands] == ["help", "lang"]

    await start_and_stop(DiscordAdapter(settings.bots[0], settings), context)  # a restart
    assert len(emulator.requests_to("PUT", OVERWRITE)) == 1

    changed = _with_tools(settings, ["help", "remember"])
    restarted = FakeContext(changed, receives=True, states=context.states)  # same stored state
    await start_and_stop(DiscordAdapter(changed.bots[0], changed), restarted)
    assert len(emulator.requests_to("PUT", OVERWRITE)) == 2
    assert [c["name"] for c in emulator.commands] == ["forget", "help", "remember"]


def _with_tools(settings: Settings, tools: list[str]) -> Settings:
    bot = settings.bots[0].model_copy(update={"tools": tools})
    return settings.model_copy(update={"bots": [bot]})


async def test_a_guild_gets_its_own_commands(emulator: DiscordEmulator, world: World) -> None:
    settings = settings_for(emulator, gateway=False, guild_id=world.guild["id"])
    await start_and_stop(
        DiscordAdapter(settings.bots[0], settings), FakeContext(settings, receives=True)
    )
    [put] = emulator.requests_to("PUT", r"/applications/\d+/guilds/\d+/commands")
    assert put.path.endswith(f"/guilds/{world.guild['id']}/commands")


async def test_registration_can_be_switched_off(emulator: DiscordEmulator, world: World) -> None:
    settings = settings_for(emulator, gateway=False, register_commands=False)
    await start_and_stop(
        DiscordAdapter(settings.bots[0], settings), FakeContext(settings, receives=True)
    )
    assert emulator.requests_to("PUT", OVERWRITE) == []


def test_only_valid_command_names_become_commands() -> None:
    names = ["help", "KB", "not a name", "x" * 33, "help"]
    payloads = command_payloads([CommandSpec(name, "does it") for name in names])
    assert [p["name"] for p in payloads] == ["help", "kb"]
    assert payloads[0]["options"][0] == {
        "type": 3,
        "name": "text",
        "description": "What to pass to the command",
        "required": False,
    }
