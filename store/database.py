"""`Database`: the engine, transactions, health and migration status of one process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from gateway.config import DatabaseConfig
from gateway.errors import StoreUnavailable
from store import migrate
from store.engine import create_engine, display_url, sessionmaker


class Database:
    def __init__(self, config: DatabaseConfig) -> None:
        self.url = config.url
        self.url_for_display = display_url(config.url)
        self.engine = create_engine(config)
        self._sessions = sessionmaker(self.engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One ORM unit of work: committed when the block ends, rolled back if it raises."""
        async with self._sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """A Core transaction, without the ORM's bookkeeping: the core's hot path."""
        async with self.engine.begin() as connection:
            yield connection

    async def ping(self) -> None:
        try:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except (OSError, DBAPIError, OperationalError) as exc:
            raise StoreUnavailable(
                f"database {self.url_for_display} is unreachable: {exc}"
            ) from exc

    async def migration_status(self) -> migrate.MigrationStatus:
        return await migrate.status(self.engine)

    async def migrate(self) -> None:
        await migrate.upgrade(self.engine)

    async def close(self) -> None:
        await self.engine.dispose()
