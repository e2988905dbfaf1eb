"""Time-ordered ids (UUIDv7): index-friendly primary keys and event ids; and ids derived from
what they name (UUIDv5), the same every time."""

from __future__ import annotations

import uuid

from uuid_utils import compat


def new_id() -> uuid.UUID:
    return compat.uuid7()  # a standard-library UUID, made without re-parsing bytes


def derived_id(namespace: uuid.UUID, name: str) -> uuid.UUID:
    """The UUIDv5 of `name` in `namespace` (as `uuid.uuid5`, about four times faster)."""
    return compat.uuid5(namespace, name)
