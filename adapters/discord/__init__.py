"""The Discord adapter: the gateway through discord.py, the interactions endpoint, REST sends."""

import warnings

with warnings.catch_warnings():
    # discord.py imports `audioop` for voice, which botgate does not use; Python 3.11 warns.
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord  # noqa: F401

from adapters.discord.adapter import DiscordAdapter

__all__ = ["DiscordAdapter"]
