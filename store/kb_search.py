"""Keyword search over passages, in the database's own full-text index.

SQLite: FTS5 with the Porter stemmer, ranked by BM25 (`bm25()`, title and heading weighted
above the text). PostgreSQL: the passages' tsvector (built in the collection's language)
matched through its GIN index. `ts_rank` knows no inverse document frequency (a word in
every passage counts as much as a rare one; measured: recall@5 0.54 against FTS5's 0.83 on
the Python docs), so PostgreSQL ranks with BM25 too, computed from the tsvector's positions
over a pool of candidates, with document frequencies counted through the index. In both,
any of the terms may match (OR): passages with more and rarer terms come first.

Terms are words (letters and digits only, see gateway/kb/query.py), so they are quoted into
FTS5's query syntax as they are; every value is a bound parameter.
"""

from __future__ import annotations

import itertools
import math
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Uuid, bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

# Column weights: title, heading, text, and 0 for the collection token (PostgreSQL: setweight
# A, B, D with ts_rank's defaults).
SQLITE_WEIGHTS = (5.0, 3.0, 1.0, 0.0)
POOL = 2000  # passages holding the rarer terms of a question, ranked by BM25 (`pool_groups`)
PAIRED = 4  # when every term is common: passages holding two of the rarest four

# The candidates are the passages holding the question's rarer terms (`pool`, see
# `pool_groups`), ranked by BM25 over all of its terms: the match is `pool AND (any term)`,
# so FTS5 iterates the pool and only seeks in the common terms' lists. (The pool's terms are
# counted twice by bm25(): a mild boost of the rarest words.) The collection is checked on
# the joined passage, and in the MATCH only when it is a small part of the index: its token
# is in every passage of the collection, and intersecting with it tripled the time at
# 50,000 passages. PostgreSQL keeps its own pool (`_pool_terms`, ordered by ts_rank): the
# same pool there read and unnested more tsvectors and was slower, not faster.
_SQLITE = text(
    f"""
    SELECT p.id, p.document_id, f.rank FROM (
        SELECT rowid, bm25(kb_passages_fts, {", ".join(map(str, SQLITE_WEIGHTS))}) AS rank
        FROM kb_passages_fts WHERE kb_passages_fts MATCH :query
    ) AS f JOIN kb_passages p ON p.seq = f.rowid
    WHERE p.collection_id IN :collections
    ORDER BY f.rank LIMIT :limit
    """  # noqa: S608  (constants only)
).bindparams(bindparam("collections", expanding=True, type_=Uuid()))

_SQLITE_COUNT = text("SELECT count(*) FROM kb_passages_fts WHERE kb_passages_fts MATCH :query")

_INDEXED = text("SELECT count(*) FROM kb_passages")

_PASSAGES = text(
    "SELECT count(*) FROM kb_passages p WHERE p.collection_id IN :collections"
).bindparams(bindparam("collections", expanding=True, type_=Uuid()))


def _sqlite_match(collections: Sequence[uuid.UUID], terms: Sequence[str]) -> str:
    """FTS5 query: any of the terms in title, heading or text, within the collections
    (no terms: just the collections)."""
    inside = " OR ".join(f'"c{collection.hex}"' for collection in collections)
    if not terms:
        return f"collection : ({inside})"
    words = " OR ".join(f'"{term}"' for term in terms)
    return f"collection : ({inside}) AND {{title heading text}} : ({words})"


_COUNTS = text(
    """
    SELECT t.term,
        (SELECT min(v.lexeme) FROM unnest(to_tsvector(CAST(:language AS regconfig), t.term)) v)
            AS lexeme,
        (SELECT count(*) FROM kb_passages p WHERE p.collection_id IN :collections
            AND p.search @@ plainto_tsquery(CAST(:language AS regconfig), t.term)) AS passages
    FROM unnest(CAST(:terms AS text[])) AS t(term)
    """
).bindparams(bindparam("collections", expanding=True, type_=Uuid()))

_SIZE = text(
    "SELECT count(*), coalesce(avg(length(p.search)), 1) FROM kb_passages p"
    " WHERE p.collection_id IN :collections"
).bindparams(bindparam("collections", expanding=True, type_=Uuid()))


@dataclass(frozen=True)
class TermStats:
    """PostgreSQL: what BM25 needs to know about the collections and the question's terms."""

    passages: int
    average_length: float  # lexemes per passage
    lexemes: dict[str, tuple[str, int]]  # term -> (lexeme, passages holding it)
    indexed: int = 0  # SQLite: passages in the full-text index, of every collection

    def count(self, term: str) -> int:
        """How many passages hold the term (0 for a term not counted)."""
        return self.lexemes.get(term, ("", 0))[1]

    def idf(self, term: str) -> float:
        """BM25's inverse document frequency of a term."""
        matching = self.lexemes[term][1]
        return math.log((self.passages - matching + 0.5) / (matching + 0.5) + 1.0)


async def term_stats(
    session: AsyncSession, collections: Sequence[uuid.UUID], language: str, terms: Sequence[str]
) -> TermStats:
    """The collections' passage count (and average length on PostgreSQL), and for each term
    its lexeme and how many passages hold it (stop words get none)."""
    ids = list(collections)
    if session.get_bind().dialect.name != "postgresql":
        total = (await session.execute(_PASSAGES, {"collections": ids})).scalar_one()
        lexemes = {}
        for term in terms:
            query = {"query": _sqlite_match(ids, [term])}
            lexemes[term] = (term, (await session.execute(_SQLITE_COUNT, query)).scalar_one())
        indexed = (await session.execute(_INDEXED)).scalar_one()
        return TermStats(int(total), 0.0, lexemes, int(indexed))
    size = (await session.execute(_SIZE, {"collections": ids})).one()
    params = {"collections": ids, "language": language, "terms": list(terms)}
    rows = (await session.execute(_COUNTS, params)).all()
    found = {term: (lexeme, int(count)) for term, lexeme, count in rows if lexeme}
    return TermStats(int(size[0]), float(size[1]), found)


async def keyword_search(
    session: AsyncSession,
    collections: Sequence[uuid.UUID],
    language: str,
    terms: Sequence[str],
    limit: int,
    stats: TermStats | None = None,
) -> list[tuple[uuid.UUID, uuid.UUID, float]]:
    """Passages matching any of `terms`, best first: (id, document id, score), higher scores
    better. PostgreSQL needs the terms' `stats` (`term_stats`)."""
    if not collections or not terms:
        return []
    if session.get_bind().dialect.name == "postgresql":
        assert stats is not None, "PostgreSQL ranks with the terms' statistics"
        return await _postgres(session, collections, language, terms, limit, stats)
    assert stats is not None, "the pool of candidates is chosen from the terms' statistics"
    groups = pool_groups(terms, stats)
    query = _fts_any(_quoted(terms))
    if {group for group in groups if len(group) == 1} != {(term,) for term in terms}:
        pool = _fts_any(f"({' AND '.join(_quoted(group))})" for group in groups)
        query = f"({pool}) AND ({query})"  # (else the pool is every term: match them once)
    if stats.passages * 2 < stats.indexed:  # a small part of the index: its token is selective
        query = f"{_sqlite_match(collections, [])} AND {query}"
    params = {
        "query": query,
        "collections": list(collections),
        "limit": limit,
    }
    rows = await session.execute(_SQLITE, params)
    # bm25() is lower for better matches: negate it so that every score grows with relevance.
    return [(_uuid(row.id), _uuid(row.document_id), -float(row.rank)) for row in rows]


async def _postgres(
    session: AsyncSession,
    collections: Sequence[uuid.UUID],
    language: str,
    terms: Sequence[str],
    limit: int,
    stats: TermStats,
) -> list[tuple[uuid.UUID, uuid.UUID, float]]:
    known = [term for term in terms if term in stats.lexemes]
    if not known:
        return []
    params = {
        "collections": list(collections),
        "query": " | ".join(
            stats.lexemes[term][0].replace("'", "") for term in _pool_terms(known, stats, limit)
        ),
        "lexemes": [stats.lexemes[term][0] for term in known],
        "idfs": [stats.idf(term) for term in known],
        "average": stats.average_length,
        "pool": _pool_size(limit),
        "limit": limit,
    }
    rows = await session.execute(_BM25, params)
    return [(row.id, row.document_id, float(row.rank)) for row in rows]


def _pool_terms(terms: Sequence[str], stats: TermStats, limit: int) -> list[str]:
    """The rarest terms, until the passages holding them are enough to fill the pool: a
    passage that holds none of them scores low, and ranking every passage holding a common
    word is what makes a search slow (its tsvector is read for each)."""
    chosen: list[str] = []
    held = 0
    for term in sorted(terms, key=lambda term: stats.lexemes[term][1]):
        chosen.append(term)
        held += stats.lexemes[term][1]
        if held >= _pool_size(limit):
            break
    return chosen


def _pool_size(limit: int) -> int:
    return max(limit * 10, 500)


# PostgreSQL: BM25 over a pool of the passages `ts_rank` likes best among those holding the rarest
# terms: term frequency counts a title occurrence 5, a heading 3, the text 1 (as SQLite's
# column weights), and the length is the passage's number of lexemes.
_BM25 = text(
    """
    WITH q AS (
        SELECT lexeme, idf FROM unnest(CAST(:lexemes AS text[]), CAST(:idfs AS float8[]))
            AS t(lexeme, idf)
    ), pool AS (
        SELECT p.id, p.document_id, p.search FROM kb_passages p
        WHERE p.collection_id IN :collections AND p.search @@ CAST(:query AS tsquery)
        ORDER BY ts_rank(p.search, CAST(:query AS tsquery), 1) DESC LIMIT :pool
    )
    SELECT pool.id, pool.document_id, sum(
        q.idf * f.tf * 2.2 / (f.tf + 1.2 * (0.25 + 0.75 * length(pool.search) / :average))
    ) AS rank
    FROM pool
    CROSS JOIN LATERAL unnest(pool.search) AS u
    JOIN q ON q.lexeme = u.lexeme
    CROSS JOIN LATERAL (
        SELECT sum(CASE w WHEN 'A' THEN 5 WHEN 'B' THEN 3 ELSE 1 END) AS tf FROM unnest(u.weights) w
    ) f
    GROUP BY pool.id, pool.document_id
    ORDER BY rank DESC LIMIT :limit
    """
).bindparams(bindparam("collections", expanding=True, type_=Uuid()))


def pool_groups(terms: Sequence[str], stats: TermStats) -> list[tuple[str, ...]]:
    """Which passages to rank: those holding any of these groups of terms (all of a group).

    The rarest terms alone, while the passages holding them add up to at most POOL; when
    even the rarest is more common than that, passages holding two of the PAIRED rarest
    (a passage with one common word is unlikely to be among the best anyway). Ranking every
    passage that holds a common word is what made a search slow: at 50,000 passages an OR
    of a question's words matched 10,000-30,000 of them, each scored.
    """
    held = sorted((term for term in terms if stats.count(term) > 0), key=stats.count)
    chosen: list[str] = []
    total = 0
    for term in held:
        if total + stats.count(term) > POOL:
            break
        chosen.append(term)
        total += stats.count(term)
    if chosen:
        return [(term,) for term in chosen]
    if len(held) == 1:
        return [(held[0],)]
    return list(itertools.combinations(held[:PAIRED], 2))


def _quoted(terms: Iterable[str]) -> list[str]:
    return [f'"{term}"' for term in terms]


def _fts_any(alternatives: Iterable[str]) -> str:
    return "{title heading text} : (" + " OR ".join(alternatives) + ")"


def _uuid(value: object) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
