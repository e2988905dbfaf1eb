"""Keyword search's data, read from the database's own full-text index.

SQLite: FTS5 with the Porter stemmer (`kb_passages_fts`, columns title, heading, text and
the collection's token). PostgreSQL: the passages' `search` tsvector in the collection's
language, title, heading and text weighted A, B and D. Both are kept by triggers
(migration 0004), and both stem the passages as the database does.

BM25 itself is computed in numpy (gateway/kb/keyword.py) from a collection's *postings*:
for each stemmed term, the passages holding it and its frequency there, a title occurrence
counting 5, a heading 3, the text 1. Reading them is one query per collection revision
(FTS5's `fts5vocab` table; PostgreSQL's `unnest(tsvector)`), and a question's words are
stemmed by the same database: the ranking is the same BM25 on both, and it no longer
reads passages per question (see docs/knowledge-base.md for why and the figures).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Row, Uuid, bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

# Term frequency weights of the title, heading and text (PostgreSQL: weights A, B, D).
TITLE, HEADING, BODY = 5, 3, 1
# The FTS5 tokenizer of kb_passages_fts (migration 0004): questions are stemmed by it too.
SQLITE_TOKENIZER = "porter unicode61 remove_diacritics 2"


@dataclass(frozen=True)
class Postings:
    """A collection's full-text index as arrays: passages by row, terms by posting list."""

    passage_ids: list[uuid.UUID]  # by row
    document_ids: list[uuid.UUID]
    terms: list[str]
    offsets: npt.NDArray[np.int64]  # term i's postings: [offsets[i], offsets[i + 1])
    rows: npt.NDArray[np.int32]  # the passage (row) of each posting
    frequencies: npt.NDArray[np.float32]  # the weighted term frequency of each posting


_SQLITE_VOCABULARY = text(
    "CREATE VIRTUAL TABLE IF NOT EXISTS temp.kb_passages_vocab"
    " USING fts5vocab(main, kb_passages_fts, 'instance')"
)
# Every (term, passage) of the index with its weighted frequency, a row per term (the
# numbers joined by commas). The collection is filtered in numpy: joining each posting to
# its passage tripled the time.
_SQLITE_POSTINGS = text(
    f"""
    SELECT term, group_concat(doc) AS seqs, group_concat(tf) AS tfs FROM (
        SELECT term, doc, sum(CASE col WHEN 'title' THEN {TITLE} WHEN 'heading' THEN {HEADING}
            ELSE {BODY} END) AS tf
        FROM temp.kb_passages_vocab WHERE col IN ('title', 'heading', 'text')
        GROUP BY term, doc
    ) GROUP BY term
    """  # noqa: S608  (constants only)
)
_POSTGRES_POSTINGS = text(
    f"""
    SELECT u.lexeme AS term, string_agg(p.seq::text, ',') AS seqs, string_agg((
        {BODY} * cardinality(u.weights)
        + {TITLE - BODY} * cardinality(array_positions(u.weights, 'A'))
        + {HEADING - BODY} * cardinality(array_positions(u.weights, 'B')))::text, ',') AS tfs
    FROM kb_passages p CROSS JOIN LATERAL unnest(p.search) AS u
    WHERE p.collection_id = :collection
    GROUP BY u.lexeme
    """  # noqa: S608  (constants only)
).bindparams(bindparam("collection", type_=Uuid()))
_PASSAGES = text(
    "SELECT p.seq, p.id, p.document_id FROM kb_passages p"
    " WHERE p.collection_id = :collection ORDER BY p.seq"
).bindparams(bindparam("collection", type_=Uuid()))
_POSTGRES_STEMS = text(
    """
    SELECT t.word,
        (SELECT min(v.lexeme) FROM unnest(to_tsvector(CAST(:language AS regconfig), t.word)) v)
    FROM unnest(CAST(:words AS text[])) AS t(word)
    """
)


async def postings(session: AsyncSession, collection: uuid.UUID) -> Postings:
    """The collection's postings (every passage and term of its full-text index)."""
    passages = (await session.execute(_PASSAGES, {"collection": collection})).all()
    if session.get_bind().dialect.name == "postgresql":
        found = await session.execute(_POSTGRES_POSTINGS, {"collection": collection})
    else:
        await _sqlite_vocabulary(session)
        found = await session.execute(_SQLITE_POSTINGS)
    # numbers as text, parsed by numpy: int arrays decoded into Python ints took 100 MB more
    rows = found.all()
    terms = [row.term for row in rows]
    seqs, tfs = [row.seqs for row in rows], [row.tfs for row in rows]
    # parsing millions of numbers takes a second or two: not on the event loop
    return await asyncio.to_thread(_arrays, passages, terms, seqs, tfs)


async def _sqlite_vocabulary(session: AsyncSession) -> None:
    """The connection's fts5vocab table over the index. It lives in the connection's temp
    schema and holds nothing, so a read-only command's `query_only` (store/engine.py) is
    lifted for its creation alone."""
    query_only = (await session.execute(text("PRAGMA query_only"))).scalar_one()
    if query_only:
        await session.execute(text("PRAGMA query_only = OFF"))
    try:
        await session.execute(_SQLITE_VOCABULARY)
    finally:
        if query_only:
            await session.execute(text("PRAGMA query_only = ON"))


def _arrays(
    passages: Sequence[Row[Any]], terms: list[str], seqs: list[str], tfs: list[str]
) -> Postings:
    """Postings by row (a passage's place in `passages`, which are sorted by sequence
    number) rather than sequence number, less those of other collections."""
    known = np.fromiter((row.seq for row in passages), dtype=np.int64, count=len(passages))
    held = np.fromiter((text.count(",") + 1 for text in seqs), dtype=np.int64, count=len(seqs))
    term_of = np.repeat(np.arange(len(terms)), held)
    all_seqs = np.fromstring(",".join(seqs), dtype=np.int64, sep=",")
    all_tfs = np.fromstring(",".join(tfs), dtype=np.float32, sep=",")
    rows = np.searchsorted(known, all_seqs)
    inside = rows < len(known)
    inside[inside] = known[rows[inside]] == all_seqs[inside]
    counts = np.bincount(term_of[inside], minlength=len(terms))
    kept = np.flatnonzero(counts)
    return Postings(
        [_uuid(row.id) for row in passages],
        [_uuid(row.document_id) for row in passages],
        [terms[term] for term in kept],
        np.concatenate(([0], np.cumsum(counts[kept]))).astype(np.int64),
        rows[inside].astype(np.int32),
        all_tfs[inside].astype(np.float32),
    )


async def stems(session: AsyncSession, language: str, words: Sequence[str]) -> dict[str, str]:
    """Each word's stem as the full-text index stores it (a stop word gets none)."""
    if session.get_bind().dialect.name == "postgresql":
        params = {"language": language, "words": list(words)}
        rows = await session.execute(_POSTGRES_STEMS, params)
        return {word: stem for word, stem in rows if stem}
    return _sqlite_stems(words)


_stemmer_lock = threading.Lock()
_stemmer: sqlite3.Connection | None = None


def _sqlite_stems(words: Sequence[str]) -> dict[str, str]:
    """FTS5's own stems: the words go through a private in-memory FTS5 table with the
    index's tokenizer (Python has no Porter stemmer of its own, and any other would
    stem a little differently)."""
    global _stemmer
    with _stemmer_lock:
        if _stemmer is None:
            _stemmer = sqlite3.connect(":memory:", check_same_thread=False)
            tokenizer = f"tokenize='{SQLITE_TOKENIZER}'"
            _stemmer.execute(f"CREATE VIRTUAL TABLE w USING fts5(word, {tokenizer})")
            _stemmer.execute("CREATE VIRTUAL TABLE v USING fts5vocab(w, 'instance')")
        _stemmer.executemany("INSERT INTO w(rowid, word) VALUES (?, ?)", list(enumerate(words)))
        found = _stemmer.execute("SELECT doc, min(term) FROM v GROUP BY doc").fetchall()
        _stemmer.execute("DELETE FROM w")
    return {words[row]: term for row, term in found}


def _uuid(value: object) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
