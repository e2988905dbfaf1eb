"""A question's search terms: its words less stop words, or a QueryError saying why not."""

from __future__ import annotations

from gateway.kb.errors import QueryError

MAX_TERMS = 32  # bounds the cost of one OR query

# Snowball's English stop words, and the words questions are phrased with ("how can I ...").
_STOP = """
    a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing don down during each few for
    from further had has have having he her here hers herself him himself his how i if in into
    is it its itself just me more most my myself no nor not now of off on once only or other
    our ours ourselves out over own same she should so some such than that the their theirs
    them themselves then there these they this those through to too under until up very was we
    were what when where which while who whom why will with would you your yours yourself
    yourselves s t
    please tell want wants need needs know way ways get possible anyone someone something
"""
ENGLISH_STOP_WORDS = frozenset(_STOP.split())


def query_terms(query: str, language: str = "english", max_chars: int = 1000) -> list[str]:
    """Distinct lower-case words of the question, in order, without stop words."""
    if len(query) > max_chars:
        raise QueryError(f"the question is too long ({len(query)} characters; at most {max_chars})")
    if not query.strip():
        raise QueryError("the question is empty")
    stop = ENGLISH_STOP_WORDS if language == "english" else frozenset()
    terms = [word for word in dict.fromkeys(words(query)) if word not in stop]
    if not terms:
        raise QueryError("the question has no words to search for (only stop words or punctuation)")
    return terms[:MAX_TERMS]


def words(text: str) -> list[str]:
    """Runs of letters and digits, lower-cased ("str.split()" -> ["str", "split"])."""
    found: list[str] = []
    current: list[str] = []
    for char in text.lower():
        if char.isalnum():
            current.append(char)
        elif current:
            found.append("".join(current))
            current = []
    if current:
        found.append("".join(current))
    return found
