"""A discord.py client with slash commands, a button and a modal, tested offline against
botgate's Discord emulator: `route_discord_py()` points discord.py at the emulator (and
restores it after), the client logs in, syncs its commands and holds the gateway, and the
emulator delivers interactions over the gateway as INTERACTION_CREATE, as Discord does."""

import asyncio

import discord
import pytest
from discord import app_commands

# The bot.


class Again(discord.ui.View):
    @discord.ui.button(label="Again", custom_id="again")
    async def again(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await interaction.response.edit_message(content="pong again", view=None)


class Feedback(discord.ui.Modal, title="Feedback"):
    text = discord.ui.TextInput(label="Your feedback", custom_id="feedback_text")

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"Thanks for: {self.text.value}", ephemeral=True)


class Bot(discord.Client):
    def __init__(self) -> None:
        super().__init__(intents=discord.Intents.default())
        self.tree = app_commands.CommandTree(self)

        @self.tree.command(description="Answers pong")
        async def ping(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("pong", view=Again())

        @self.tree.command(description="Roll a die")
        async def roll(interaction: discord.Interaction, sides: int) -> None:
            await interaction.response.defer(thinking=True)  # "Bot is thinking..."
            await interaction.edit_original_response(content=f"You rolled {sides} of {sides}")
            await interaction.followup.send("Roll again any time.")

        @self.tree.command(description="Tell us what you think")
        async def feedback(interaction: discord.Interaction) -> None:
            await interaction.response.send_modal(Feedback())

    async def setup_hook(self) -> None:
        await self.tree.sync()


# The test.


@pytest.mark.asyncio
async def test_slash_commands(discord_emulator):
    guild = discord_emulator.add_guild("Test server")
    channel = discord_emulator.add_channel(guild["id"], "general")
    with discord_emulator.route_discord_py():
        async with Bot() as bot:
            await bot.login(discord_emulator.token)  # setup_hook syncs the commands
            gateway = asyncio.create_task(bot.connect())
            try:
                await discord_emulator.wait_for_session()
                await talk_to(discord_emulator, channel["id"])
            finally:
                await bot.close()
                await gateway


async def talk_to(discord_emulator, channel_id):
    assert {c["name"] for c in discord_emulator.commands} == {"ping", "roll", "feedback"}

    await discord_emulator.inject_command(channel_id, "ping")
    pong = await discord_emulator.wait_for(channel_id, "pong")
    assert pong.buttons == ("Again",)
    await discord_emulator.inject_button(pong, "Again")
    await discord_emulator.wait_for(channel_id, "pong again")

    await discord_emulator.inject_command(channel_id, "roll", {"sides": 6})
    rolled = await discord_emulator.wait_for(channel_id, "You rolled 6 of 6")
    assert rolled.edited  # the deferred response, edited in place
    await discord_emulator.wait_for(channel_id, "Roll again")

    await discord_emulator.inject_command(channel_id, "feedback")
    modal = await discord_emulator.wait_for_modal()
    await discord_emulator.inject_modal_submit(modal, {"feedback_text": "great"})
    thanks = await discord_emulator.wait_for(channel_id, "Thanks for: great")
    assert thanks.ephemeral
