"""Keyword search's data: the postings of a collection, as the full-text index stems them.

SQLite: FTS5 with the Porter stemmer (`kb_passages_fts`, columns title, heading, text and
the collection's token). PostgreSQL: the passages' `search` tsvector in the collection's
language, title, heading and text weighted A, B and D. Both are kept by triggers
(migration 0004), and both stem the passages as the database does.

BM25 itself is computed in numpy (gateway/kb/keyword.py) from a collection's *postings*:
for each stemmed term, the passages holding it and how often in their title, heading and
text (BM25F's fields, weighted 5, 3 and 1 in gateway/kb/keyword.py). They are read once
per collection revision: on PostgreSQL from the tsvectors (`unnest(tsvector)` grouped by
lexeme), on SQLite by passing the collection's passages through a private in-memory FTS5
table with the index's tokenizer (its `fts5vocab` table lists the occurrences). A
question's words are stemmed the same way (PostgreSQL's `to_tsvector`; that private FTS5
tokenizer): the ranking is the same BM25F on both databases, and no passage is read per
question (docs/knowledge-base.md has why and the figures).
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

# Term frequency weights of the title, heading and text fields (PostgreSQL: weights A, B, D),
# applied by gateway/kb/keyword.py after each field's length normalisation (BM25F).
TITLE, HEADING, BODY = 5, 3, 1
FIELDS = 3  # title, heading, text: the columns of `Postings.fields`
_BASE = 512  # PostgreSQL sends a posting's three counts as one number (a count is <= 256)
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
    fields: npt.NDArray[np.uint16]  # each posting's occurrences in the title, heading, text


# SQLite: the collection's passages go through a private in-memory FTS5 table with the
# index's tokenizer, and its fts5vocab table lists every (term, passage, column) occurrence.
# (An fts5vocab table over kb_passages_fts itself walks the whole index, every collection's
# passages, and needs a table created in a connection that may be read-only.)
_SQLITE_TEXTS = text(
    "SELECT p.seq, p.id, p.document_id, p.title, p.heading, p.text FROM kb_passages p"
    " WHERE p.collection_id = :collection ORDER BY p.seq"
).bindparams(bindparam("collection", type_=Uuid()))
_SQLITE_OCCURRENCES = """
    SELECT term, group_concat(doc), group_concat(CASE col WHEN 'title' THEN 0
        WHEN 'heading' THEN 1 ELSE 2 END)
    FROM v GROUP BY term
"""
_POSTGRES_POSTINGS = text(
    f"""
    SELECT u.lexeme AS term, string_agg(p.seq::text, ',') AS seqs, string_agg((
        {_BASE * _BASE} * cardinality(array_positions(u.weights, 'A'))
        + {_BASE} * cardinality(array_positions(u.weights, 'B'))
        + cardinality(u.weights) - cardinality(array_positions(u.weights, 'A'))
        - cardinality(array_positions(u.weights, 'B')))::text, ',') AS tfs
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
    if session.get_bind().dialect.name != "postgresql":
        texts = (await session.execute(_SQLITE_TEXTS, {"collection": collection})).all()
        return await asyncio.to_thread(_sqlite_postings, texts)
    passages = (await session.execute(_PASSAGES, {"collection": collection})).all()
    found = await session.execute(_POSTGRES_POSTINGS, {"collection": collection})
    # numbers as text, parsed by numpy: int arrays decoded into Python ints took 100 MB more
    rows = found.all()
    terms = [row.term for row in rows]
    seqs, tfs = [row.seqs for row in rows], [row.tfs for row in rows]
    # parsing millions of numbers takes a second or two: not on the event loop
    return await asyncio.to_thread(_arrays, passages, terms, seqs, tfs)


def _sqlite_postings(texts: Sequence[Row[Any]]) -> Postings:
    """Postings of these passages, tokenized by FTS5 as kb_passages_fts tokenizes them."""
    private = sqlite3.connect(":memory:")
    try:
        tokenizer = f"tokenize='{SQLITE_TOKENIZER}'"
        private.execute(
            f"CREATE VIRTUAL TABLE f USING fts5(title, heading, text, content='', {tokenizer})"
        )
        private.execute("CREATE VIRTUAL TABLE v USING fts5vocab(f, 'instance')")
        private.executemany(
            "INSERT INTO f(rowid, title, heading, text) VALUES (?, ?, ?, ?)",
            ((row, p.title, p.heading, p.text) for row, p in enumerate(texts)),
        )
        occurrences = private.execute(_SQLITE_OCCURRENCES).fetchall()
    finally:
        private.close()
    terms = [term for term, _, _ in occurrences]
    rows = [np.fromstring(joined, dtype=np.int32, sep=",") for _, joined, _ in occurrences]
    columns = [np.fromstring(joined, dtype=np.int8, sep=",") for _, _, joined in occurrences]
    del occurrences
    held = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
    term_of = np.repeat(np.arange(len(terms), dtype=np.int32), held)
    row_of = np.concatenate(rows or [np.zeros(0, np.int32)])
    column = np.concatenate(columns or [np.zeros(0, np.int8)]).astype(np.intp)
    del rows, columns
    # fts5vocab lists a term's occurrences passage by passage: each run of one (term,
    # passage) is one posting, its occurrences counted by column
    if len(row_of) > 1 and not _grouped(term_of, row_of):
        order = np.lexsort((row_of, term_of))
        term_of, row_of, column = term_of[order], row_of[order], column[order]
    new = np.concatenate(([True], (np.diff(term_of) != 0) | (np.diff(row_of) != 0)))
    starts = np.flatnonzero(new) if len(row_of) else np.zeros(0, np.intp)
    posting_of = np.cumsum(new) - 1 if len(row_of) else np.zeros(0, np.intp)
    fields = np.bincount(posting_of * FIELDS + column, minlength=len(starts) * FIELDS)
    counts = np.bincount(term_of[starts], minlength=len(terms))
    return Postings(
        [_uuid(p.id) for p in texts],
        [_uuid(p.document_id) for p in texts],
        terms,
        np.concatenate(([0], np.cumsum(counts))).astype(np.int64),
        row_of[starts],
        fields.reshape(-1, FIELDS).astype(np.uint16),
    )


def _grouped(term_of: npt.NDArray[np.int32], row_of: npt.NDArray[np.int32]) -> bool:
    """Whether each term's occurrences come passage by passage (ascending)."""
    same_term = np.diff(term_of) == 0
    return bool(np.all(np.diff(row_of)[same_term] >= 0))


def _arrays(
    passages: Sequence[Row[Any]], terms: list[str], seqs: list[str], tfs: list[str]
) -> Postings:
    """Postings by row (a passage's place in `passages`, which are sorted by sequence
    number) rather than sequence number, less those of other collections."""
    known = np.fromiter((row.seq for row in passages), dtype=np.int64, count=len(passages))
    held = np.fromiter((text.count(",") + 1 for text in seqs), dtype=np.int64, count=len(seqs))
    term_of = np.repeat(np.arange(len(terms)), held)
    all_seqs = np.fromstring(",".join(seqs), dtype=np.int64, sep=",")
    packed = np.fromstring(",".join(tfs), dtype=np.int64, sep=",")
    all_fields = np.stack((packed // (_BASE * _BASE), packed // _BASE % _BASE, packed % _BASE), 1)
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
        all_fields[inside].astype(np.uint16),
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
