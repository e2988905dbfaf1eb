"""Time-ordered ids (UUIDv7): index-friendly primary keys and event ids."""

from __future__ import annotations

import uuid

import uuid_utils


def new_id() -> uuid.UUID:
    return uuid.UUID(bytes=uuid_utils.uuid7().bytes)
