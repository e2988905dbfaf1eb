"""`botgate export`: JSON Lines of every record kind in `store.history.RECORD_KINDS`, streamed.

Each kind is read through one server-side cursor (asyncpg) or chunked cursor (SQLite), a few
thousand rows at a time, so memory stays flat however many rows there are. Each line is
`{"kind": "<kind>", ...the record}`.
"""

from __future__ import annotations

from typing import BinaryIO

import orjson

from gateway import codec
from store.database import Database
from store.history import RECORD_KINDS, Filters

CHUNK = 2000


async def export(db: Database, filters: Filters, out: BinaryIO) -> dict[str, int]:
    """Write every matching record; returns how many of each kind."""
    counts: dict[str, int] = {}
    async with db.engine.connect() as connection:
        for name, kind in RECORD_KINDS.items():
            query = kind.query(filters).execution_options(yield_per=CHUNK)
            result = await connection.stream(query)
            counts[name] = 0
            async for rows in result.partitions():
                lines = [_line(name, kind.to_json(row)) for row in rows]
                out.write(b"".join(lines))
                counts[name] += len(lines)
            await connection.rollback()  # each kind's read ends; nothing was written
    out.flush()
    return counts


def _line(kind: str, record: dict[str, object]) -> bytes:
    return codec.dumps({"kind": kind, **record}, orjson.OPT_APPEND_NEWLINE)
