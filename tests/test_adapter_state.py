"""Adapter state read-change-write is one step: processes updating at once lose nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gateway.adapter_host import AdapterHost
from gateway.bus.memory import MemoryBus
from gateway.config import DatabaseConfig
from gateway.crypto import vault_for
from gateway.tools.registry import ToolRegistry
from store import bots as bot_records
from store.database import Database
from tests.support.pipeline import make_settings


@pytest.mark.postgres
async def test_concurrent_updates_from_two_processes_lose_no_write(postgres_url: str) -> None:
    bots = [{"name": "helpdesk", "discord": {"token": "t", "public_key": "00" * 32}}]
    settings = make_settings(postgres_url, "memory://", bots=bots)
    first, second = (
        Database(DatabaseConfig(url=postgres_url)),
        Database(DatabaseConfig(url=postgres_url)),
    )
    await first.migrate()
    async with first.transaction() as session:
        await bot_records.sync_bots(session, settings, vault_for(settings))
    bus = MemoryBus()
    tools = ToolRegistry(settings, bus)
    hosts = [AdapterHost(settings, bus, db, tools, receives=True) for db in (first, second)]

    def adding(key: str) -> Any:
        return lambda state: state.__setitem__(key, True)

    await asyncio.gather(
        *(hosts[n % 2].update_state("discord", "helpdesk", adding(f"k{n}")) for n in range(40))
    )
    state = await hosts[0].load_state("discord", "helpdesk")
    await first.close()
    await second.close()
    assert sorted(state) == sorted(f"k{n}" for n in range(40))
