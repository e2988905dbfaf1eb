from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from gateway.bus.memory import MemoryBroker
from tests.support import services

# Page tests in a real browser: the fixtures `browser`, `browser_context`, `screenshots`.
# A test failed by pytest-timeout shows what each asyncio task was waiting for.
pytest_plugins = ["tests.support.browser", "tests.support.hang_dump"]


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """SQLAlchemy URL of a fresh, empty PostgreSQL database, dropped afterwards."""
    admin_dsn, url = await services.create_postgres_database()
    yield url
    await services.drop_postgres_database(admin_dsn, url)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'botgate.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each test using this runs on SQLite and on the real PostgreSQL."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@pytest.fixture
async def amqp_url() -> AsyncIterator[str]:
    """URL of a fresh RabbitMQ vhost, deleted afterwards."""
    url, vhost = await services.create_vhost()
    yield url
    await services.delete_vhost(vhost)


@pytest.fixture
def memory_url() -> Iterator[str]:
    """A private in-process broker for one test."""
    name = f"test-{uuid.uuid4().hex[:8]}"
    yield f"memory://{name}"
    MemoryBroker.forget(name)


@pytest.fixture(params=["memory", pytest.param("rabbitmq", marks=pytest.mark.rabbitmq)])
def bus_url(request: pytest.FixtureRequest) -> str:
    """Each test using this runs on the in-process bus and on the real RabbitMQ."""
    url: str = request.getfixturevalue("memory_url" if request.param == "memory" else "amqp_url")
    return url


@pytest.fixture(
    params=[
        "embedded",
        pytest.param("production", marks=[pytest.mark.postgres, pytest.mark.rabbitmq]),
    ]
)
def backend(request: pytest.FixtureRequest) -> tuple[str, str]:
    """(database URL, bus URL): SQLite + in-process bus, and PostgreSQL + RabbitMQ."""
    names = (
        ("sqlite_url", "memory_url")
        if request.param == "embedded"
        else ("postgres_url", "amqp_url")
    )
    database, bus = (request.getfixturevalue(name) for name in names)
    return database, bus
