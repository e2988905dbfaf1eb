"""Helpers of the operations tests: the `botgate` command in a subprocess, the admin API,
and people linked to platform users."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import select, update

from gateway.app import Runtime
from store.models import PlatformUser, User

ADMIN = {"Authorization": "Bearer admin-token-for-tests"}


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str


def config_file(tmp_path: Path, database_url: str, bus_url: str = "memory://") -> Path:
    path = tmp_path / "ops.toml"
    path.write_text(
        f'[database]\nurl = "{database_url}"\n[bus]\nurl = "{bus_url}"\n'
        '[operations]\nredrive_interval = "100ms"\n',
        encoding="utf-8",
    )
    return path


async def botgate(*args: str, config: Path) -> Ran:
    """`botgate ARGS --config FILE` as a user runs it."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("BOTGATE_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", *args, "--config", str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=environment,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return Ran(process.returncode, out.decode(), err.decode())


async def call(
    runtime: Runtime,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: Any = None,
) -> tuple[int, Any]:
    url = f"{runtime.http.url}/api/v1{path}"
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, url, headers=ADMIN if headers is None else headers, json=body) as r,
    ):
        return r.status, await r.json(content_type=None)


async def person_of(runtime: Runtime, platform: str, external_id: str) -> uuid.UUID:
    """The person behind a platform user, made on first call (migration 0002 makes one for
    every platform user; this branch does not have it yet)."""
    async with runtime.db.transaction() as db:
        user = (
            await db.execute(
                select(PlatformUser).where(
                    PlatformUser.platform == platform, PlatformUser.external_id == external_id
                )
            )
        ).scalar_one()
        if user.user_id is not None:
            return user.user_id
        person = User(name=user.name)
        db.add(person)
        await db.flush()
        await db.execute(
            update(PlatformUser).where(PlatformUser.id == user.id).values(user_id=person.id)
        )
        return person.id


async def link(runtime: Runtime, person: uuid.UUID, platform: str, external_id: str) -> None:
    async with runtime.db.transaction() as db:
        await db.execute(
            update(PlatformUser)
            .where(PlatformUser.platform == platform, PlatformUser.external_id == external_id)
            .values(user_id=person)
        )
