"""Keyword search over passages, in the database's own full-text index.

SQLite: FTS5 with the Porter stemmer, ranked by BM25 (`bm25()`, title and heading weighted
above the text). PostgreSQL: the passages' tsvector (built in the collection's language)
matched with `websearch_to_tsquery` and ranked by `ts_rank_cd`. In both, any of the terms
may match (OR): BM25 and cover density rank passages with more and rarer terms first.

Terms are words (letters and digits only, see gateway/kb/query.py), so they are quoted into
the query syntax as they are; every value is a bound parameter.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import Uuid, bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

# Column weights: title, heading, text.
SQLITE_WEIGHTS = (5.0, 3.0, 1.0)

_SQLITE = text(
    f"""
    SELECT p.id, p.document_id, bm25(kb_passages_fts, {", ".join(map(str, SQLITE_WEIGHTS))}) AS rank
    FROM kb_passages_fts JOIN kb_passages p ON p.seq = kb_passages_fts.rowid
    WHERE kb_passages_fts MATCH :query AND p.collection_id IN :collections
    ORDER BY rank LIMIT :limit
    """  # noqa: S608  (constants only)
).bindparams(bindparam("collections", expanding=True, type_=Uuid()))

# ts_rank_cd normalisation 1: divided by 1 + log(length), so long passages do not win on
# length alone.
_POSTGRES = text(
    """
    SELECT p.id, p.document_id, ts_rank_cd(p.search, q, 1) AS rank
    FROM kb_passages p, websearch_to_tsquery(CAST(:language AS regconfig), :query) AS q
    WHERE p.collection_id IN :collections AND p.search @@ q
    ORDER BY rank DESC LIMIT :limit
    """
).bindparams(bindparam("collections", expanding=True, type_=Uuid()))


async def keyword_search(
    session: AsyncSession,
    collections: Sequence[uuid.UUID],
    language: str,
    terms: Sequence[str],
    limit: int,
) -> list[tuple[uuid.UUID, uuid.UUID, float]]:
    """Passages matching any of `terms`, best first: (id, document id, score), higher scores
    better."""
    if not collections or not terms:
        return []
    if session.get_bind().dialect.name == "postgresql":
        query = " or ".join(terms)
        params = {"language": language, "query": query, "collections": list(collections)}
        rows = await session.execute(_POSTGRES, {**params, "limit": limit})
        return [(row.id, row.document_id, float(row.rank)) for row in rows]
    match = " OR ".join(f'"{term}"' for term in terms)
    params2 = {"query": match, "collections": list(collections), "limit": limit}
    rows = await session.execute(_SQLITE, params2)
    # bm25() is lower for better matches: negate it so that every score grows with relevance.
    return [(_uuid(row.id), _uuid(row.document_id), -float(row.rank)) for row in rows]


def _uuid(value: object) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
