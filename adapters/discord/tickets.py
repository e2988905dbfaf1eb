"""Interaction tickets (application id + token), kept until the bot's reply goes out.

The interaction reaches the webhook in a process of the HTTP role; the reply leaves from the
process consuming the bot's actions, which in a split deployment is another one. A ticket is
therefore kept in memory (enough when one process does both) and written to the adapter's
durable state under the id of the event it became: the reply action's `in_reply_to` names that
event. Tickets expire a little before Discord's 15-minute token lifetime.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from adapters.discord.interactions import Ticket
from adapters.discord.state import AdapterState

log = logging.getLogger(__name__)
TOKEN_LIFETIME = 15 * 60 - 30  # seconds; Discord's is 15 minutes
STATE_KEY = "interactions"


class TicketStore:
    def __init__(
        self, lifetime: float = TOKEN_LIFETIME, clock: Callable[[], float] = time.time
    ) -> None:
        self.lifetime = lifetime
        self.clock = clock
        self._memory: dict[str, tuple[float, Ticket]] = {}
        self._state: AdapterState | None = None
        self._writes: set[asyncio.Task[None]] = set()

    def attach(self, state: AdapterState) -> None:
        """From now on, tickets are also written to the durable state."""
        self._state = state

    def remember(self, event_id: str, ticket: Ticket) -> None:
        expires_at = self.clock() + self.lifetime
        self._prune()
        self._memory[event_id] = (expires_at, ticket)
        if self._state is not None:
            self._write_soon(event_id, expires_at, ticket)

    async def find(self, event_id: str | None) -> Ticket | None:
        if event_id is None:
            return None
        found = self._memory.get(event_id)
        if found is None and self._state is not None:
            stored = (await self._state.read()).get(STATE_KEY, {}).get(event_id)
            found = (stored["expires_at"], Ticket(**stored["ticket"])) if stored else None
        if found is None or found[0] <= self.clock():
            return None
        return found[1]

    async def flush(self) -> None:
        """Wait for pending writes (on stop)."""
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)

    def _prune(self) -> None:
        now = self.clock()
        for key in [k for k, (expires_at, _) in self._memory.items() if expires_at <= now]:
            del self._memory[key]

    def _write_soon(self, event_id: str, expires_at: float, ticket: Ticket) -> None:
        try:
            task = asyncio.get_running_loop().create_task(self._write(event_id, expires_at, ticket))
        except RuntimeError:
            return  # no loop (a synchronous caller): memory only
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _write(self, event_id: str, expires_at: float, ticket: Ticket) -> None:
        assert self._state is not None
        now = self.clock()

        def add(state: dict[str, Any]) -> None:
            live = {k: v for k, v in state.get(STATE_KEY, {}).items() if v["expires_at"] > now}
            live[event_id] = {"expires_at": expires_at, "ticket": asdict(ticket)}
            state[STATE_KEY] = live

        try:
            await self._state.update(add)
        except Exception as exc:  # the reply then goes to the channel instead
            log.warning("could not store the interaction ticket: %s", type(exc).__name__)
