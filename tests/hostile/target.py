"""A gateway with one bot on every platform (emulated platform APIs), and a tap on its events:
what the fuzz tests and `botgate fuzz` aim at."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from benchmarks.hostile import Keys
from botgate.testing.discord import DiscordEmulator
from botgate.testing.slack import SlackEmulator
from botgate.testing.telegram import TelegramEmulator
from gateway.app import Runtime
from gateway.bus.base import Delivery
from gateway.bus.topology import ACTIONS_EXCHANGE, DEAD_QUEUE, EVENTS_EXCHANGE, Binding, QueueSpec
from gateway.events import Action, Event, decode_action, decode_event
from store.models import DeadLetter, ProcessedEvent
from tests.support.pipeline import make_settings, running

BOT = "fuzz"
TELEGRAM_SECRET = "fuzz-telegram-secret"
GENERIC_SECRET = "fuzz-generic-secret"
ADMIN_TOKEN = "admin-token-for-tests"
TAP = "fuzz.tap"
TAP_ACTIONS = "fuzz.tap.actions"


@dataclass
class Target:
    runtime: Runtime
    keys: Keys
    tapped: list[Event] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)  # every action published: the answers

    @property
    def host_port(self) -> tuple[str, int]:
        return self.runtime.http.host, self.runtime.http.port

    async def recorded_keys(self) -> set[str]:
        async with self.runtime.db.transaction() as db:
            return set((await db.execute(select(ProcessedEvent.dedupe_key))).scalars())

    async def dead_message_ids(self) -> set[str]:
        async with self.runtime.db.transaction() as db:
            return set((await db.execute(select(DeadLetter.message_id))).scalars())

    async def dead_events(self) -> int:
        return await self.runtime.bus.queue_depth(DEAD_QUEUE)

    async def _tap(self, delivery: Delivery) -> None:
        self.tapped.append(decode_event(delivery.message.body, delivery.message.model))
        await delivery.ack()

    async def _tap_actions(self, delivery: Delivery) -> None:
        self.actions.append(decode_action(delivery.message.body, delivery.message.model))
        await delivery.ack()


def bot_table(telegram: TelegramEmulator, slack: SlackEmulator, discord: DiscordEmulator) -> Any:
    return {
        "name": BOT,
        "tools": ["help"],
        "generic": {"secret": GENERIC_SECRET},
        "telegram": {
            "token": telegram.token,
            "webhook_secret": TELEGRAM_SECRET,
            "api_base_url": telegram.api_base_url,
            "username": "botgate_test_bot",
            "rate_per_chat": 1000,
            "rate_per_group": 100000,
            "rate_per_bot": 1000,
        },
        "slack": {
            "bot_token": slack.bot_token,
            "signing_secret": slack.signing_secret,
            "api_base_url": slack.api_url,
            "send_interval": "1ms",
        },
        "discord": {
            "token": discord.token,
            "public_key": discord.public_key_hex,
            "api_base_url": discord.api_url,
            "gateway": False,
            "register_commands": False,
        },
    }


@asynccontextmanager
async def fuzz_target(database_url: str, bus_url: str, **sections: Any) -> AsyncIterator[Target]:
    async with AsyncExitStack() as stack:
        telegram = await stack.enter_async_context(TelegramEmulator())
        slack = await stack.enter_async_context(SlackEmulator())
        discord = await stack.enter_async_context(DiscordEmulator())
        bots = [bot_table(telegram, slack, discord)]
        settings = make_settings(database_url, bus_url, bots=bots, **sections)
        runtime = await stack.enter_async_context(running(settings))
        keys = Keys(
            BOT,
            GENERIC_SECRET,
            TELEGRAM_SECRET,
            slack.signing_secret,
            discord.private_key,
            ADMIN_TOKEN,
        )
        target = Target(runtime, keys)
        await runtime.bus.declare_queue(
            QueueSpec(TAP, (Binding(EVENTS_EXCHANGE, "#"),), quorum=False)
        )
        await runtime.bus.declare_queue(
            QueueSpec(TAP_ACTIONS, (Binding(ACTIONS_EXCHANGE, "#"),), quorum=False)
        )
        subscriptions = [
            await runtime.bus.consume(TAP, target._tap, prefetch=100),
            await runtime.bus.consume(TAP_ACTIONS, target._tap_actions, prefetch=100),
        ]
        yield target
        for subscription in subscriptions:
            await subscription.cancel()
