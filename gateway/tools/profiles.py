"""What the answering path reads about a person and a session, cached in the process: a
person's language and the tools attached to a session. Both change rarely and only through
tools of this process (a conversation is answered by one core at a time), so a short-lived
cache spares every answer its reads; what another process changed is seen after `ttl`."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from store import kb as kb_records
from store import people
from store.database import Database

K = TypeVar("K")
V = TypeVar("V")


class _Expiring(Generic[K, V]):
    def __init__(self, ttl: float, size: int = 50_000) -> None:
        self.ttl, self.size = ttl, size
        self._entries: dict[K, tuple[float, V]] = {}

    def fresh(self, key: K) -> tuple[V] | None:
        """The value, if it is cached and not expired: (value,), else None."""
        entry = self._entries.get(key)
        if entry is not None and entry[0] > time.monotonic():
            return (entry[1],)
        return None

    async def get(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        if (cached := self.fresh(key)) is not None:
            return cached[0]
        value = await load()
        if len(self._entries) >= self.size:
            self._entries.clear()  # rare: a cheap bound instead of an LRU's bookkeeping
        self._entries[key] = (time.monotonic() + self.ttl, value)
        return value

    def forget(self, key: K) -> None:
        self._entries.pop(key, None)


class Profiles:
    def __init__(self, db: Database, ttl: float = 60.0) -> None:
        self.db = db
        self._languages: _Expiring[uuid.UUID, str | None] = _Expiring(ttl)
        self._session_tools: _Expiring[uuid.UUID, tuple[str, ...]] = _Expiring(ttl)
        self._collections: _Expiring[tuple[uuid.UUID, str], tuple[str, ...]] = _Expiring(ttl)

    async def language(self, user_id: uuid.UUID | None) -> str | None:
        """The person's chosen language (`/lang`), or None."""
        if user_id is None:
            return None
        if (cached := self._languages.fresh(user_id)) is not None:
            return cached[0]  # the usual case: no closure to make

        async def load() -> str | None:
            async with self.db.transaction() as session:
                return await people.language(session, user_id)

        return await self._languages.get(user_id, load)

    def language_changed(self, user_id: uuid.UUID) -> None:
        self._languages.forget(user_id)

    async def session_tools(self, session_id: uuid.UUID | None) -> tuple[str, ...]:
        """Tools attached to the session by a tool (beyond the bot's own)."""
        if session_id is None:
            return ()
        if (cached := self._session_tools.fresh(session_id)) is not None:
            return cached[0]

        async def load() -> tuple[str, ...]:
            async with self.db.transaction() as session:
                return tuple(await people.session_tools(session, session_id))

        return await self._session_tools.get(session_id, load)

    def session_tools_changed(self, session_id: uuid.UUID) -> None:
        self._session_tools.forget(session_id)

    async def extra_collections(
        self, user_id: uuid.UUID | None, organization: str
    ) -> tuple[str, ...]:
        """The knowledge-base collections given to this person beyond the bot's."""
        if user_id is None:
            return ()

        async def load() -> tuple[str, ...]:
            async with self.db.transaction() as session:
                return tuple(await kb_records.user_collections(session, user_id, organization))

        return await self._collections.get((user_id, organization), load)
