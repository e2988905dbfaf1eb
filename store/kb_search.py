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

import sqlite3
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sqlalchemy import Uuid, bindparam, text
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
# Every (term, passage) of the index with its weighted frequency, a row per term. The
# collection is filtered in numpy: joining each posting to its passage tripled the time.
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
    SELECT u.lexeme AS term, array_agg(p.seq) AS seqs, array_agg(coalesce(
        (SELECT sum(CASE w WHEN 'A' THEN {TITLE} WHEN 'B' THEN {HEADING} ELSE {BODY} END)
         FROM unnest(u.weights) AS w), 1)) AS tfs
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
    seqs = np.fromiter((row.seq for row in passages), dtype=np.int64, count=len(passages))
    if session.get_bind().dialect.name == "postgresql":
        found = await session.execute(_POSTGRES_POSTINGS, {"collection": collection})
        lists = [(row.term, np.array(row.seqs, np.int64), np.array(row.tfs, np.float32))
                 for row in found]  # fmt: skip
    else:
        await session.execute(_SQLITE_VOCABULARY)
        found = await session.execute(_SQLITE_POSTINGS)
        lists = [(row.term, _numbers(row.seqs, np.int64), _numbers(row.tfs, np.float32))
                 for row in found]  # fmt: skip
    return _arrays(passages, seqs, lists)


def _numbers(joined: str, dtype: type) -> npt.NDArray:  # type: ignore[type-arg]
    return np.array(joined.split(","), dtype=dtype)


def _arrays(
    passages: Sequence[object],
    seqs: npt.NDArray[np.int64],
    lists: list[tuple[str, npt.NDArray[np.int64], npt.NDArray[np.float32]]],
) -> Postings:
    """Postings with rows for sequence numbers, less those of other collections."""
    terms, offsets, rows, frequencies = [], [0], [], []
    for term, term_seqs, tfs in lists:
        at = np.searchsorted(seqs, term_seqs)
        inside = (at < len(seqs)) & (seqs[np.minimum(at, len(seqs) - 1)] == term_seqs)
        if not inside.any():
            continue
        terms.append(term)
        rows.append(at[inside].astype(np.int32))
        frequencies.append(tfs[inside])
        offsets.append(offsets[-1] + int(inside.sum()))
    return Postings(
        [_uuid(row.id) for row in passages],  # type: ignore[attr-defined]
        [_uuid(row.document_id) for row in passages],  # type: ignore[attr-defined]
        terms,
        np.array(offsets, dtype=np.int64),
        np.concatenate(rows) if rows else np.zeros(0, np.int32),
        np.concatenate(frequencies) if frequencies else np.zeros(0, np.float32),
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
