"""The documented interfaces: the AsyncAPI document is valid for the AsyncAPI Initiative's
parser, the JSON Schemas validate the messages that really cross the bus (and refuse what
botgate would refuse), and the OpenAPI document is valid OpenAPI. No token is needed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from gateway import codec, schemas
from gateway.bus.asyncapi import asyncapi_document
from gateway.bus.base import Delivery
from gateway.bus.topology import ACTIONS_EXCHANGE, EVENTS_EXCHANGE, Binding, QueueSpec
from gateway.events import Event, ToolCall
from gateway.http import automations
from gateway.http import schemas as schema_routes
from tests.contracts.inbox import Inbox
from tests.support.interfaces import OPENAPI_FILE, asyncapi_diagnostics, validate_openapi
from tests.support.pipeline import (
    CallbackReceiver,
    GenericClient,
    generic_bot,
    make_settings,
    message,
    running,
)

SPY = "test.spy"


async def get(url: str) -> tuple[int, str, Any]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, response.content_type, await response.json(content_type=None)


def validator(schema: dict[str, Any]) -> Draft202012Validator:
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


@pytest.fixture
async def served(memory_url: str, sqlite_url: str) -> AsyncIterator[str]:
    async with running(make_settings(sqlite_url, memory_url)) as runtime:
        yield runtime.http.url


async def test_the_asyncapi_document_is_valid_for_the_asyncapi_parser(served: str) -> None:
    status, content_type, document = await get(served + "/api/v1/asyncapi.json")

    assert (status, content_type) == (200, "application/json")
    assert document["asyncapi"].startswith("3.")
    verdict = await asyncio.to_thread(asyncapi_diagnostics, document)
    assert verdict["parsed"], verdict
    assert [d for d in verdict["diagnostics"] if d["severity"] <= 1] == []  # no error, no warning
    exchanges = {c["bindings"]["amqp"].get("exchange", {}).get("name") for c in _channels(document)}
    assert {EVENTS_EXCHANGE, ACTIONS_EXCHANGE, "botgate.dead", "botgate.tools"} <= exchanges
    queues = {c["bindings"]["amqp"].get("queue", {}).get("name") for c in _channels(document)}
    assert {"botgate.core.{shard}", "botgate.dead", "botgate.automations"} <= queues


def _channels(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in document["channels"].values() if "bindings" in c]


async def test_the_parser_catches_a_broken_document() -> None:
    """The validation above could fail: a dangling reference is an error."""
    document = asyncapi_document("amqp://guest:secret@broker:5672/prod")
    assert document["servers"]["rabbitmq"]["host"] == "broker:5672"
    assert "secret" not in codec.dumps(document).decode()
    document["channels"]["events"]["messages"]["event"] = {"$ref": "#/components/messages/nope"}

    verdict = await asyncio.to_thread(asyncapi_diagnostics, document)

    assert not verdict["parsed"]
    assert any(d["severity"] == 0 and d["code"] == "invalid-ref" for d in verdict["diagnostics"])


@pytest.mark.parametrize("name", ["event", "action", "tool_call"])
async def test_each_schema_is_json_schema_2020_12(served: str, name: str) -> None:
    status, content_type, schema = await get(f"{served}/api/v1/schemas/{name}.json")

    assert (status, content_type) == (200, "application/schema+json")
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == f"botgate.{name}/1"
    validator(schema)  # check_schema raises on an invalid schema


async def test_an_unknown_schema_is_404_naming_the_known_ones(served: str) -> None:
    status, _, body = await get(f"{served}/api/v1/schemas/nope.json")
    assert status == 404
    assert "event.json, action.json, tool_call.json" in body["error"]


async def test_the_schemas_validate_the_messages_on_the_bus(backend: tuple[str, str]) -> None:
    """Real traffic: an event in, its action, and the `message.sent` that the send made."""
    async with CallbackReceiver() as receiver:
        bots = [generic_bot("helpdesk", callback_url=receiver.url)]
        async with running(make_settings(*backend, bots=bots)) as runtime:
            spy = Inbox()
            bindings = (Binding(EVENTS_EXCHANGE, "#"), Binding(ACTIONS_EXCHANGE, "#"))
            await runtime.bus.declare_queue(QueueSpec(SPY, bindings, quorum=False))
            await runtime.bus.consume(SPY, spy, prefetch=10)
            client = GenericClient(runtime.http.url)
            try:
                assert (await client.post(message("/help")))[0] == 202
            finally:
                await client.close()
            seen = await spy.take(3)  # message.created, its action, message.sent
            url = runtime.http.url + "/api/v1/schemas/{}.json"
            body = {name: (await get(url.format(name)))[2] for name in schemas.MESSAGES}
    by_exchange = _bodies(seen)
    assert [e["type"] for e in by_exchange[EVENTS_EXCHANGE]] == ["message.created", "message.sent"]
    assert len(by_exchange[ACTIONS_EXCHANGE]) == 1
    events, actions, tool_calls = (validator(body[name]) for name in schemas.MESSAGES)
    for event in by_exchange[EVENTS_EXCHANGE]:
        events.validate(event)
    actions.validate(by_exchange[ACTIONS_EXCHANGE][0])
    invoked = Event.model_validate(by_exchange[EVENTS_EXCHANGE][0])
    call = ToolCall.for_event(invoked, "weather", "berlin", session_id=invoked.id)
    tool_calls.validate(codec.loads(call.model_dump_json(by_alias=True)))
    with pytest.raises(ValidationError):  # botgate refuses unknown fields; so do the schemas
        events.validate({**by_exchange[EVENTS_EXCHANGE][0], "surprise": 1})


def _bodies(deliveries: list[Delivery]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {EVENTS_EXCHANGE: [], ACTIONS_EXCHANGE: []}
    for delivery in deliveries:
        found[delivery.message.exchange].append(codec.loads(delivery.message.body))
    return found


async def test_the_contracts_tool_call_example_is_valid() -> None:
    example = {
        "schema": "botgate.tool_call/1",
        "id": "0192f7c2-1b2a-7c3d-8e4f-0123456789ab",
        "tool": "weather",
        "args": "berlin",
        "platform": "telegram",
        "bot": "helpdesk",
        "session_id": "0192f7c2-1b2a-7c3d-8e4f-0123456789ac",
        "user": {"id": "5193846025", "name": "alice"},
        "channel": {"id": "-1001234567890", "type": "direct"},
        "event": None,
    }
    validator(schemas.json_schema("tool_call") or {}).validate(example)
    ToolCall.model_validate(example)  # the model agrees with its schema


async def test_the_openapi_document_is_valid_with_the_routes_of_this_branch(served: str) -> None:
    """The served document, and the same with the paths this branch adds (for the admin API's
    owner to merge)."""
    status, _, document = await get(served + "/api/v1/openapi.json")
    assert status == 200
    validate_openapi(document)
    merged = {
        **document,
        "paths": {**document["paths"], **schema_routes.OPENAPI_PATHS, **automations.OPENAPI_PATHS},
    }
    validate_openapi(merged)
    if OPENAPI_FILE.is_file():
        validate_openapi(codec.loads(OPENAPI_FILE.read_bytes()))
