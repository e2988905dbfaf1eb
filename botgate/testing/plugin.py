"""botgate's pytest plugin, registered through the `pytest11` entry point when botgate is
installed: the fixtures `telegram_emulator`, `slack_emulator`, `discord_emulator` and
`openai_emulator` (a model behind an OpenAI-compatible API), each an emulator started on an
ephemeral 127.0.0.1 port for one test and stopped after it.

Their constructor arguments come from the fixtures `telegram_emulator_options`,
`slack_emulator_options`, `discord_emulator_options` and `openai_emulator_options` (empty by
default); override one in a
`conftest.py` to change tokens, names or the clock::

    @pytest.fixture
    def slack_emulator_options() -> dict[str, object]:
        return {"signing_secret": "my-test-secret"}

The fixtures are async (pytest-asyncio, which `botgate[testing]` installs); they work in its
strict and auto modes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

import pytest

if TYPE_CHECKING:
    from botgate.testing.discord import DiscordEmulator
    from botgate.testing.openai import OpenAIEmulator
    from botgate.testing.slack import SlackEmulator
    from botgate.testing.telegram import TelegramEmulator

Options = dict[str, Any]
Fixture = TypeVar("Fixture", bound=Callable[..., Any])


def _needs_pytest_asyncio(function: Callable[..., Any]) -> Any:
    """Stands in for the async fixture when pytest-asyncio is missing: one clear line."""

    @pytest.fixture(name=function.__name__)
    def missing() -> None:
        pytest.fail(
            f"{function.__name__} needs pytest-asyncio: pip install 'botgate[testing]'",
            pytrace=False,
        )

    return missing


def async_fixture(function: Fixture) -> Fixture:
    """pytest-asyncio's fixture decorator (strict and auto modes), or a clear failure."""
    try:
        import pytest_asyncio
    except ImportError:
        return cast(Fixture, _needs_pytest_asyncio(function))
    return cast(Fixture, pytest_asyncio.fixture(function))


@pytest.fixture
def telegram_emulator_options() -> Options:
    """Keyword arguments for `TelegramEmulator` (token, username, first_name, clock)."""
    return {}


@pytest.fixture
def slack_emulator_options() -> Options:
    """Keyword arguments for `SlackEmulator` (signing_secret, bot_token, app_token, ...)."""
    return {}


@pytest.fixture
def discord_emulator_options() -> Options:
    """Keyword arguments for `DiscordEmulator` (token, bot_name, heartbeat_interval, clock)."""
    return {}


@pytest.fixture
def openai_emulator_options() -> Options:
    """Keyword arguments for `OpenAIEmulator` (api_key, model, per_token, first_token)."""
    return {}


@async_fixture
async def telegram_emulator(telegram_emulator_options: Options) -> AsyncIterator[TelegramEmulator]:
    """A Telegram Bot API: point the bot at `api_base_url` with `token`."""
    from botgate.testing.telegram import TelegramEmulator

    async with TelegramEmulator(**telegram_emulator_options) as emulator:
        yield emulator


@async_fixture
async def slack_emulator(slack_emulator_options: Options) -> AsyncIterator[SlackEmulator]:
    """A Slack workspace: Web API at `api_url`; deliveries over Socket Mode or to
    `request_url`."""
    from botgate.testing.slack import SlackEmulator

    async with SlackEmulator(**slack_emulator_options) as emulator:
        yield emulator


@async_fixture
async def discord_emulator(discord_emulator_options: Options) -> AsyncIterator[DiscordEmulator]:
    """A Discord REST API and gateway: run discord.py inside `route_discord_py()`."""
    from botgate.testing.discord import DiscordEmulator

    async with DiscordEmulator(**discord_emulator_options) as emulator:
        yield emulator


@async_fixture
async def openai_emulator(openai_emulator_options: Options) -> AsyncIterator[OpenAIEmulator]:
    """A model behind an OpenAI-compatible API: `base_url`, `api_key`, `model`; script its
    answers with `reply`, `call_tool`, `fail`, `garbage`, `stall`."""
    from botgate.testing.openai import OpenAIEmulator

    async with OpenAIEmulator(**openai_emulator_options) as emulator:
        yield emulator
