"""Real PostgreSQL and RabbitMQ for tests, each test in its own database / vhost.

URLs come from BOTGATE_TEST_POSTGRES_URL and BOTGATE_TEST_AMQP_URL. Without them (or when the
server does not answer) the tests skip with the reason; with BOTGATE_REQUIRE_SERVICES=1 (CI)
such a skip is a failure instead.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from urllib.parse import quote, urlsplit

import pytest

from benchmarks.service import rabbitmqctl, with_path

POSTGRES_ENV = "BOTGATE_TEST_POSTGRES_URL"
AMQP_ENV = "BOTGATE_TEST_AMQP_URL"
REQUIRE_ENV = "BOTGATE_REQUIRE_SERVICES"


def unavailable(reason: str) -> None:
    """Skip, or fail when the run requires the services."""
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1 makes this a failure)", pytrace=False)
    pytest.skip(reason)


async def create_postgres_database() -> tuple[str, str]:
    """Create a fresh database; returns (asyncpg admin DSN, SQLAlchemy URL of the new one)."""
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        unavailable(
            f"PostgreSQL tests need {POSTGRES_ENV}, e.g. postgresql://postgres@127.0.0.1/test"
        )
    import asyncpg

    admin_dsn = base.replace("postgresql+asyncpg://", "postgresql://")  # type: ignore[union-attr]
    name = f"botgate_test_{uuid.uuid4().hex[:12]}"
    try:
        conn = await asyncpg.connect(admin_dsn, timeout=5)
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        unavailable(f"PostgreSQL at {POSTGRES_ENV} is not reachable: {exc}")
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = with_path(admin_dsn, f"/{name}").replace("postgresql://", "postgresql+asyncpg://", 1)
    return admin_dsn, url


async def drop_postgres_database(admin_dsn: str, url: str) -> None:
    import asyncpg

    name = urlsplit(url).path.lstrip("/")
    conn = await asyncpg.connect(admin_dsn, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def create_vhost() -> tuple[str, str | None]:
    """A fresh vhost (via rabbitmqctl) when possible; returns (amqp URL, vhost to delete)."""
    base = os.environ.get(AMQP_ENV)
    if not base:
        unavailable(f"RabbitMQ tests need {AMQP_ENV}, e.g. amqp://guest:guest@127.0.0.1:5672/")
    assert base is not None
    import aio_pika

    try:
        probe = await asyncio.wait_for(aio_pika.connect(base), 10)
        await probe.close()
    except Exception as exc:
        unavailable(f"RabbitMQ at {AMQP_ENV} is not reachable: {exc}")
    if shutil.which("rabbitmqctl") is None:
        return base, None  # a remote broker: tests share its vhost
    vhost = f"botgate-test-{uuid.uuid4().hex[:12]}"
    user = urlsplit(base).username or "guest"
    await asyncio.to_thread(rabbitmqctl, "add_vhost", vhost)
    await asyncio.to_thread(rabbitmqctl, "set_permissions", "-p", vhost, user, ".*", ".*", ".*")
    return with_path(base, "/" + quote(vhost, safe="")), vhost


async def delete_vhost(vhost: str | None) -> None:
    if vhost:
        await asyncio.to_thread(rabbitmqctl, "delete_vhost", vhost)
