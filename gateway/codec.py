"""The one JSON codec of the hot path (orjson): bytes in, bytes out."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

JSONDecodeError = orjson.JSONDecodeError


def dumps(value: Any, option: int = 0) -> bytes:
    return orjson.dumps(value, default=_other, option=orjson.OPT_NON_STR_KEYS | option)


def _other(value: Any) -> str:
    """UUIDs orjson does not take as its own: asyncpg's subclass of `uuid.UUID`."""
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def loads(data: bytes | str) -> Any:
    return orjson.loads(data)
