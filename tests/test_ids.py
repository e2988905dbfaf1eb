"""Ids made without the standard library's constructor are still its UUIDs, equal to what it
makes: UUIDv5 as `uuid.uuid5`, UUIDv7 time-ordered."""

from __future__ import annotations

import pickle
import uuid

import pytest

from gateway import ids


@pytest.mark.parametrize("name", ["", "a", "generic:bench:event:42", "ü" * 300, "\x00\U0001d11e"])
def test_derived_ids_are_the_standard_uuid5(name: str) -> None:
    namespace = uuid.uuid4()
    made = ids.derived_id(namespace, name)
    assert made == uuid.uuid5(namespace, name)
    assert type(made) is uuid.UUID
    assert made.version == 5
    assert uuid.UUID(str(made)) == made
    assert hash(made) == hash(uuid.uuid5(namespace, name))


def test_new_ids_are_time_ordered_standard_uuid7s() -> None:
    made = [ids.new_id() for _ in range(2000)]
    assert all(type(u) is uuid.UUID and u.version == 7 for u in made)
    assert made == sorted(made)
    assert len(set(made)) == len(made)
    assert pickle.loads(pickle.dumps(made[0])) == made[0]  # noqa: S301 (our own bytes)
    assert uuid.UUID(made[0].hex) == made[0]


def test_without_the_fast_generator_compat_makes_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ids, "_uuid7_int", None)
    made = ids.new_id()
    assert type(made) is uuid.UUID
    assert made.version == 7
