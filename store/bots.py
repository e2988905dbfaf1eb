"""Configured bots in the database: organizations, bots, their settings and platform
credentials (encrypted) and adapter state."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import codec
from gateway.config import BotConfig, Settings
from gateway.crypto import Vault
from gateway.events import utcnow
from store.models import BasicTool, Bot, BotConfiguration, Organization, PlatformBot
from store.upsert import upsert

# Platform config fields that are credentials: stored encrypted, never in `settings`.
SECRET_FIELDS = frozenset(
    {"token", "webhook_secret", "bot_token", "signing_secret", "app_token", "secret", "api_key"}
)


async def sync_bots(
    session: AsyncSession, settings: Settings, vault: Vault
) -> dict[str, uuid.UUID]:
    """Make the database agree with the configured bots; returns bot name -> bot id. A bot no
    longer configured keeps its rows and is marked inactive; configured again, it is active
    again with its history."""
    bot_ids = {}
    for bot in settings.bots:
        organization_id = await _upsert_id(
            session, Organization, {"name": bot.organization}, ["name"]
        )
        values = {
            "name": bot.name,
            "organization_id": organization_id,
            "description": bot.description,
            "is_active": True,
        }
        bot_ids[bot.name] = await _upsert_id(session, Bot, values, ["name"])
        await _sync_configuration(session, bot_ids[bot.name], bot, vault)
        await _sync_platforms(session, bot_ids[bot.name], bot, vault)
    await session.execute(
        update(Bot)
        .where(Bot.name.not_in(list(bot_ids)), Bot.is_active.is_(True))
        .values(is_active=False, updated_at=utcnow())
    )
    return bot_ids


async def _upsert_id(
    session: AsyncSession, model: Any, values: dict[str, Any], conflict: list[str]
) -> uuid.UUID:
    now = utcnow()
    row = {"id": uuid.uuid4(), "created_at": now, "updated_at": now, **values}
    changed = [key for key in values if key not in conflict] + ["updated_at"]
    statement = upsert(session, model, conflict, changed).values(**row).returning(model.id)
    return (await session.execute(statement)).scalar_one()  # type: ignore[no-any-return]


async def _sync_configuration(
    session: AsyncSession, bot_id: uuid.UUID, bot: BotConfig, vault: Vault
) -> None:
    configuration: dict[str, Any] = {
        "kb": bot.kb,
        "tools": bot.tools,
        "fallback_reply": bot.fallback_reply,
        "assistant": _split_secrets(bot.assistant.model_dump(mode="json"), vault)
        if bot.assistant
        else None,
    }
    for key, value in configuration.items():
        values = {"bot_id": bot_id, "key": key, "value": value}
        await _upsert_id(session, BotConfiguration, values, ["bot_id", "key"])


async def _sync_platforms(
    session: AsyncSession, bot_id: uuid.UUID, bot: BotConfig, vault: Vault
) -> None:
    for platform, section in bot.platforms().items():
        public = _split_secrets(section.model_dump(mode="json"), vault)
        values = {
            "bot_id": bot_id,
            "platform": platform,
            "credentials": public.pop("credentials"),
            "settings": public,
            "is_active": True,
        }
        await _upsert_id(session, PlatformBot, values, ["bot_id", "platform"])
    await session.execute(
        update(PlatformBot)
        .where(PlatformBot.bot_id == bot_id, PlatformBot.platform.not_in(list(bot.platforms())))
        .values(is_active=False, updated_at=utcnow())
    )


def _split_secrets(fields: dict[str, Any], vault: Vault) -> dict[str, Any]:
    """The fields that are not secrets, and the secrets encrypted under `credentials`."""
    secrets = {k: v for k, v in fields.items() if k in SECRET_FIELDS}
    public = {k: v for k, v in fields.items() if k not in SECRET_FIELDS}
    return {**public, "credentials": vault.encrypt(codec.dumps(secrets).decode())}


class ToolCatalogue(Protocol):
    """What the tool mirror reads of the registry (gateway.tools.registry)."""

    def names(self) -> list[str]: ...

    def get(self, name: str) -> Any: ...

    def tools_for(self, bot: Any) -> list[Any]: ...


async def sync_tools(
    session: AsyncSession, bot_ids: Mapping[str, uuid.UUID], bots: list[Any], tools: ToolCatalogue
) -> None:
    """Mirror the registry into `basic_tools`: every tool for every bot, active where the bot
    lists it (a tool may still attach the others to one session)."""
    for bot in bots:
        listed = {tool.name for tool in tools.tools_for(bot)}
        for name in tools.names():
            tool = tools.get(name)
            values = {
                "bot_id": bot_ids[bot.name],
                "name": name,
                "kind": type(tool).__name__.removesuffix("Tool").lower() or "tool",
                "description": tool.description,
                "source": str(getattr(tool, "url", "")),
                "parameters": dict(tool.parameters or {}),
                "is_active": name in listed,
            }
            await _upsert_id(session, BasicTool, values, ["bot_id", "name"])


async def organization_of(session: AsyncSession, bot_id: uuid.UUID) -> uuid.UUID:
    query = select(Bot.organization_id).where(Bot.id == bot_id)
    return (await session.execute(query)).scalar_one()


async def credentials(
    session: AsyncSession, vault: Vault, bot_id: uuid.UUID, platform: str
) -> dict[str, Any]:
    query = select(PlatformBot.credentials).where(
        PlatformBot.bot_id == bot_id, PlatformBot.platform == platform
    )
    token = (await session.execute(query)).scalar_one()
    return codec.loads(vault.decrypt(token))  # type: ignore[no-any-return]


async def load_state(
    session: AsyncSession, platform: str, bot: str, *, for_update: bool = False
) -> dict[str, Any]:
    """`for_update`: lock the row until the transaction ends (PostgreSQL; SQLite has one
    writer at a time anyway), so that a read-change-write cannot lose another's write."""
    query = (
        select(PlatformBot.state)
        .join(Bot, Bot.id == PlatformBot.bot_id)
        .where(Bot.name == bot, PlatformBot.platform == platform)
    )
    if for_update:
        query = query.with_for_update(of=PlatformBot)
    return dict((await session.execute(query)).scalar_one_or_none() or {})


async def save_state(
    session: AsyncSession, platform: str, bot: str, state: Mapping[str, Any]
) -> None:
    bot_id = select(Bot.id).where(Bot.name == bot).scalar_subquery()
    await session.execute(
        update(PlatformBot)
        .where(PlatformBot.bot_id == bot_id, PlatformBot.platform == platform)
        .values(state=dict(state), updated_at=utcnow())
    )
