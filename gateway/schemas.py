"""JSON Schemas (2020-12) of the wire messages, generated from their models in
gateway/events.py, so that what is published and what botgate accepts cannot drift apart.

They describe what botgate accepts (pydantic's validation schema): fields with defaults may be
left out, unknown fields are refused. What botgate publishes always has every field.
"""

from __future__ import annotations

from copy import deepcopy
from functools import cache
from typing import Any

from pydantic import BaseModel

from gateway.events import (
    ACTION_SCHEMA,
    EVENT_SCHEMA,
    TOOL_CALL_SCHEMA,
    Action,
    Event,
    ToolAnswer,
    ToolCall,
)

DIALECT = "https://json-schema.org/draft/2020-12/schema"
MESSAGES: dict[str, tuple[str, type[BaseModel]]] = {
    "event": (EVENT_SCHEMA, Event),
    "action": (ACTION_SCHEMA, Action),
    "tool_call": (TOOL_CALL_SCHEMA, ToolCall),
}


def json_schema(name: str) -> dict[str, Any] | None:
    """The JSON Schema of `event`, `action` or `tool_call`; None for another name."""
    if name not in MESSAGES:
        return None
    return deepcopy(_json_schema(name))


@cache
def _json_schema(name: str) -> dict[str, Any]:
    title, model = MESSAGES[name]
    schema = model.model_json_schema(by_alias=True)
    return {
        "$schema": DIALECT,
        "$id": f"urn:botgate:schema:{name}:1",
        **schema,
        "title": title,
        "description": (model.__doc__ or "").strip() or title,
    }


def component_schemas(ref_prefix: str) -> dict[str, Any]:
    """Every message model and the models they use, by name, with references to
    `<ref_prefix><Model>` (for an AsyncAPI or OpenAPI document's components)."""
    schemas: dict[str, Any] = {}
    for model in [model for _, model in MESSAGES.values()] + [ToolAnswer]:
        schema = model.model_json_schema(by_alias=True, ref_template=ref_prefix + "{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return schemas
