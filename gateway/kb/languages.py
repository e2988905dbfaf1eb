"""Languages of the full-text index: PostgreSQL's built-in text search configurations.

SQLite's FTS5 stems with Porter (English) whatever the language; stop words are removed
from questions in English only.
"""

from __future__ import annotations

LANGUAGES = frozenset(
    {
        "simple", "arabic", "armenian", "basque", "catalan", "danish", "dutch", "english",
        "finnish", "french", "german", "greek", "hindi", "hungarian", "indonesian", "irish",
        "italian", "lithuanian", "nepali", "norwegian", "portuguese", "romanian", "russian",
        "serbian", "spanish", "swedish", "tamil", "turkish", "yiddish",
    }
)  # fmt: skip


def check_language(language: str) -> str:
    """The language itself; ValueError naming the choices otherwise."""
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}; one of: {', '.join(sorted(LANGUAGES))}")
    return language
