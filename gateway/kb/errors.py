"""Knowledge-base errors, under the project's one root (`BotgateError`)."""

from __future__ import annotations

from gateway.errors import BotgateError


class KbError(BotgateError):
    http_status = 400


class CollectionNotFound(KbError):
    http_status = 404


class DocumentNotFound(KbError):
    http_status = 404


class DocumentError(KbError):
    """A file that cannot be imported; the message is the reason, for a person to act on."""

    http_status = 422


class EmptyDocument(DocumentError):
    """The file holds no text to search (an empty file, a page of links only)."""


class QueryError(KbError):
    """A question that cannot be searched (empty, only stop words, too long)."""


class EmbeddingError(KbError):
    """The embeddings API failed or answered something unusable."""

    http_status = 502


class EmptyCollection(KbError):
    """The collections searched hold no passages yet."""

    http_status = 404
