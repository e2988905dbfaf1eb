"""The parsing edge every adapter shares: bounded JSON, clean text, typed validation.

What a client can send and the rest of botgate cannot carry is settled here, once:
- JSON: orjson (rejects invalid UTF-8 and lone-surrogate escapes, nests at most 1024 deep),
  and then at most MAX_DEPTH levels, so nothing downstream recurses without bound.
- NUL characters (`\\u0000`; PostgreSQL text cannot hold them) become U+FFFD, in keys and
  values alike; so do lone surrogates in text that did not come through orjson (form bodies,
  headers). Replaced rather than refused: a platform retries a refused event for hours, and
  the one character carries no meaning.
- Typed models: `validate` turns a pydantic ValidationError into a PayloadError (400) that
  names the field and what is wrong with it, never the value.
"""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from gateway.errors import PayloadError
from gateway.events import describe_errors

MAX_DEPTH = 64  # platform payloads nest about 10 deep
LATEST_TIME = 253402300799  # 9999-12-31T23:59:59Z, the last second a datetime holds
REPLACEMENT = "\ufffd"
M = TypeVar("M", bound=BaseModel)


def load_json(body: bytes | str, what: str) -> Any:
    """The JSON value of `body`, bounded in depth, NUL-free; PayloadError otherwise."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise PayloadError(f"{what}: not valid JSON ({exc})") from None
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH and _depth(value) > MAX_DEPTH:
        raise PayloadError(f"{what}: JSON nested deeper than {MAX_DEPTH} levels")
    if b"\\u0000" in raw:  # in JSON, a NUL can only be written as this escape
        value = _without_nul(value)
    return value


def load_object(body: bytes | str, what: str) -> dict[str, Any]:
    value = load_json(body, what)
    if not isinstance(value, dict):
        raise PayloadError(f"{what}: a JSON object is expected")
    return value


def validate(model: type[M], data: Any, what: str) -> M:
    """`data` as `model`, or a PayloadError naming the first fields at fault."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise PayloadError(f"{what}: {describe_errors(exc)}") from None


def clean(text: str) -> str:
    """`text` without NUL characters or lone surrogates (both become U+FFFD)."""
    if "\x00" in text:
        text = text.replace("\x00", REPLACEMENT)
    if text.isascii():
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _depth(value: Any) -> int:
    """Nesting depth of containers, iteratively (a recursive walk is what is bounded here)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = item.values()
        elif not isinstance(item, list):
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, depth + 1) for child in item if isinstance(child, dict | list))
    return deepest


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", REPLACEMENT)
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    if isinstance(value, dict):
        return {_without_nul(key): _without_nul(item) for key, item in value.items()}
    return value
