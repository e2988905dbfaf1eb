"""Platform name -> adapter class. Imported lazily so that a platform's SDK loads only when a
bot uses that platform."""

from __future__ import annotations

import importlib
from typing import cast

from adapters.base import Adapter
from gateway.config import Settings

ADAPTERS: dict[str, str] = {
    "generic": "adapters.generic:GenericAdapter",
    "console": "adapters.console:ConsoleAdapter",
    "telegram": "adapters.telegram:TelegramAdapter",
    "slack": "adapters.slack:SlackAdapter",
    "discord": "adapters.discord:DiscordAdapter",
    "webchat": "adapters.webchat:WebchatAdapter",
}


def adapter_class(platform: str) -> type[Adapter]:
    module_name, _, class_name = ADAPTERS[platform].partition(":")
    return cast(type[Adapter], getattr(importlib.import_module(module_name), class_name))


def build_adapters(settings: Settings) -> dict[tuple[str, str], Adapter]:
    """One adapter per (platform, bot) the configuration names."""
    adapters: dict[tuple[str, str], Adapter] = {}
    for bot in settings.bots:
        for platform in bot.platforms():
            adapters[(platform, bot.name)] = adapter_class(platform)(bot, settings)  # type: ignore[call-arg]
    return adapters
