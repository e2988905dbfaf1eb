"""Erasing a person (`botgate erase --person`, `DELETE /api/v1/people/{id}`): one
transaction, audited with the counts of what went (never the data itself)."""

from __future__ import annotations

import uuid

from gateway.errors import BotgateError
from store import audit
from store import erase as erasure
from store.database import Database


class UnknownPerson(BotgateError):
    http_status = 404


async def erase(db: Database, person: uuid.UUID, actor: str) -> dict[str, int]:
    async with db.transaction() as session:
        if not await erasure.exists(session, person):
            raise UnknownPerson(f"no person with id {person}; nothing erased")
        counts = await erasure.erase_person(session, person)
        audit.record(session, actor, "person.erase", ("person", str(person)), details=counts)
    return counts
