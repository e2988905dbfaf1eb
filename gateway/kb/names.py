"""Names of collections and paths of documents, as people and the admin API give them."""

from __future__ import annotations

import re

from gateway.kb.errors import KbError

_COLLECTION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def collection_name(name: str) -> str:
    if not _COLLECTION.match(name):
        raise KbError(
            f"{name!r} is not a collection name: use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def document_path(path: str) -> str:
    """A relative path with "/" between folders, none of them empty, "." or ".."."""
    parts = path.split("/")
    if not path or len(path) > 1024 or any(part in {"", ".", ".."} for part in parts):
        raise KbError(
            f"{path!r} is not a document path: give a relative path like "
            "'policies/refunds.md' (no empty, '.' or '..' parts; at most 1024 characters)"
        )
    return path
