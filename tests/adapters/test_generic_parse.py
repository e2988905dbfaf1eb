"""The generic adapter reads a message without its `GenericMessage` model when it can: for every
body, valid or not, the answer is the model's own (the same event, or the same 400 naming the
same fields)."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from adapters.base import InboundRequest
from adapters.generic import NOT_GENERIC, GenericAdapter, GenericMessage, request_id
from adapters.payload import load_object, validate
from adapters.registry import build_adapters
from gateway.errors import BotgateError
from gateway.events import Event, describe_errors, encode
from gateway.http.webhooks import _parse
from tests.support.pipeline import make_settings

RECEIVED = datetime(2026, 12, 7, 8, 0, 0, 123456, tzinfo=UTC)
BASE: dict[str, Any] = {
    "event_id": "e-1",
    "user": {"id": "u-1", "name": "Ann", "display_name": "Ann B", "is_bot": True},
    "channel": {"id": "c-1", "type": "group", "name": "room"},
    "text": "/help 7",
    "thread_id": "t-1",
    "reply_to_id": "r-1",
    "unknown": {"x": 1},
}
FIELDS = [
    ("event_id",),
    ("user",),
    ("channel",),
    ("text",),
    ("thread_id",),
    ("reply_to_id",),
    ("user", "id"),
    ("user", "name"),
    ("user", "display_name"),
    ("channel", "id"),
    ("channel", "type"),
    ("channel", "name"),
]
MISSING = object()
VALUES: list[object] = [
    MISSING,
    None,
    "",
    "x",
    "a" * 256,
    "a" * 257,
    "n" * 300,
    5,
    0,
    1.5,
    True,
    False,
    [],
    ["x"],
    {},
    {"id": "x"},
    "é\ufffdü",
    "direct",
    "thread",
    "forum",
    "@helpdesk /help now",
    "/help@helpdesk x",
    "/help@other x",
]


def _with(body: dict[str, Any], path: tuple[str, ...], value: object) -> dict[str, Any]:
    body = copy.deepcopy(body)
    target = body
    for key in path[:-1]:
        target = target[key] if isinstance(target.get(key), dict) else target.setdefault(key, {})
    if value is MISSING:
        target.pop(path[-1], None)
    else:
        target[path[-1]] = value
    return body


def _bodies() -> list[object]:
    bodies: list[object] = [BASE, {}, [], "text", None, {"user": {"id": "u"}, "channel": {}}]
    bodies += [_with(BASE, path, value) for path in FIELDS for value in VALUES]
    bodies += [_with(BASE, ("text",), "x" * n) for n in (65536, 65537)]
    bodies += [  # two faults: the model names them in its own order
        _with(_with(BASE, a, 5), b, None)
        for a, b in itertools.permutations(FIELDS, 2)
        if a[0] != b[0]
    ]
    return bodies


def _adapter() -> GenericAdapter:
    settings = make_settings("sqlite+aiosqlite:///:memory:", "memory://unused")
    found = build_adapters(settings)[("generic", "helpdesk")]
    assert isinstance(found, GenericAdapter)
    return found


ADAPTER = _adapter()


def _request(body: bytes) -> InboundRequest:
    headers = {"x-botgate-signature": "sha256=00"}
    return InboundRequest("generic", "helpdesk", "POST", headers, {}, body, RECEIVED)


def _through_the_model(adapter: GenericAdapter, request: InboundRequest) -> Event:
    """The reading of record: the body validated as `GenericMessage`, its dump the message."""
    body = load_object(request.body, NOT_GENERIC)
    message = validate(GenericMessage, body, NOT_GENERIC).model_dump(mode="json")
    derived = None if message["event_id"] else request_id(request)
    return adapter.to_event(message, request.received_at, derived)


def _parsed(adapter: GenericAdapter, request: InboundRequest) -> Event:
    (event,) = adapter.parse(request).events
    return event


def _outcome(read: Callable[[GenericAdapter, InboundRequest], Event], body: bytes) -> str:
    """The event's JSON (its random id blanked), or the error, as text to compare."""
    try:
        event = read(ADAPTER, _request(body))
    except BotgateError as exc:
        return f"{exc.http_status} {exc}"
    except ValidationError as exc:  # the webhook answers it 400 "not a valid generic event"
        return f"event refused: {describe_errors(exc)}"
    return encode(event).decode().replace(str(event.id), "<id>")


@pytest.mark.parametrize("body", _bodies())
def test_parse_answers_as_the_message_model_does(body: object) -> None:
    raw = orjson.dumps(body)
    assert _outcome(_parsed, raw) == _outcome(_through_the_model, raw)


def test_the_event_keeps_the_message_as_the_model_dumps_it() -> None:
    body = _with(_with(BASE, ("channel", "type"), MISSING), ("thread_id",), MISSING)
    (event,) = ADAPTER.parse(_request(orjson.dumps(body))).events
    assert event.raw == GenericMessage.model_validate(body).model_dump(mode="json")
    assert list(event.raw) == list(GenericMessage.model_fields)
    assert event.channel.type == "direct"


def test_a_refused_body_is_a_400_naming_the_field() -> None:
    body = _with(BASE, ("user", "id"), "")
    with pytest.raises(BotgateError) as refused:
        _parse(ADAPTER, _request(orjson.dumps(body)))
    assert refused.value.http_status == 400
    assert str(refused.value) == (
        "not a generic message: user.id: String should have at least 1 character"
    )
