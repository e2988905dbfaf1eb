"""Time-ordered ids (UUIDv7): index-friendly primary keys and event ids; and ids derived from
what they name (UUIDv5), the same every time."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable

import uuid_utils
from uuid_utils import compat

# The number generator under compat.uuid7, which makes its UUID more slowly than uuid_of_int;
# None with a uuid_utils that has no such name (then compat.uuid7 does it all).
_uuid7_int: Callable[[], int] | None = getattr(uuid_utils, "_uuid7_int", None)

_new = object.__new__
_set_int = uuid.UUID.__dict__["int"].__set__  # the slots themselves: UUID refuses setattr
_set_safety = uuid.UUID.__dict__["is_safe"].__set__
_UNKNOWN = uuid.SafeUUID.unknown


def uuid_of_int(number: int) -> uuid.UUID:
    """`uuid.UUID(int=number)` for a 128-bit number, without its checks: a third of the cost."""
    made = _new(uuid.UUID)
    _set_int(made, number)
    _set_safety(made, _UNKNOWN)
    return made


_V5_CLEAR = ~(0xF000 << 64 | 0xC000 << 48)  # the version and variant bits
_V5_SET = 5 << 76 | 0x8000 << 48  # version 5, RFC 4122 variant


def new_id() -> uuid.UUID:
    """A standard-library UUIDv7."""
    if _uuid7_int is None:
        return compat.uuid7()
    return uuid_of_int(_uuid7_int())


def derived_id(namespace: uuid.UUID, name: str) -> uuid.UUID:
    """The UUIDv5 of `name` in `namespace`, as `uuid.uuid5` makes it: SHA-1 here too, with the
    standard-library UUID made directly from its number (half the time of
    `uuid_utils.compat.uuid5`, which converts the namespace and the result)."""
    digest = hashlib.sha1(namespace.bytes + name.encode(), usedforsecurity=False).digest()
    return uuid_of_int(int.from_bytes(digest[:16]) & _V5_CLEAR | _V5_SET)
