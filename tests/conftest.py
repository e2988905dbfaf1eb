from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from gateway.bus.memory import MemoryBroker
from tests.support import services


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
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Each test using this runs on SQLite and on the real PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'botgate.db'}"
        return
    admin_dsn, url = await services.create_postgres_database()
    yield url
    await services.drop_postgres_database(admin_dsn, url)


@pytest.fixture
async def amqp_url() -> AsyncIterator[str]:
    """URL of a fresh RabbitMQ vhost, deleted afterwards."""
    url, vhost = await services.create_vhost()
    yield url
    await services.delete_vhost(vhost)


@pytest.fixture
def memory_url() -> Iterator[str]:
    """A private in-process broker for one test."""
    import uuid

    name = f"test-{uuid.uuid4().hex[:8]}"
    yield f"memory://{name}"
    MemoryBroker.forget(name)


@pytest.fixture(params=["memory", pytest.param("rabbitmq", marks=pytest.mark.rabbitmq)])
async def bus_url(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """Each test using this runs on the in-process bus and on the real RabbitMQ."""
    if request.param == "memory":
        import uuid

        name = f"test-{uuid.uuid4().hex[:8]}"
        yield f"memory://{name}"
        MemoryBroker.forget(name)
        return
    url, vhost = await services.create_vhost()
    yield url
    await services.delete_vhost(vhost)


@pytest.fixture(
    params=[
        "embedded",
        pytest.param("production", marks=[pytest.mark.postgres, pytest.mark.rabbitmq]),
    ]
)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[str, str]]:
    """(database URL, bus URL): SQLite + in-process bus, and PostgreSQL + RabbitMQ."""
    if request.param == "embedded":
        import uuid

        name = f"test-{uuid.uuid4().hex[:8]}"
        yield f"sqlite+aiosqlite:///{tmp_path / 'botgate.db'}", f"memory://{name}"
        MemoryBroker.forget(name)
        return
    admin_dsn, db_url = await services.create_postgres_database()
    try:
        bus_url, vhost = await services.create_vhost()
    except BaseException:
        await services.drop_postgres_database(admin_dsn, db_url)
        raise
    yield db_url, bus_url
    await services.delete_vhost(vhost)
    await services.drop_postgres_database(admin_dsn, db_url)
