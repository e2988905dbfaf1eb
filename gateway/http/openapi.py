"""The admin API's OpenAPI document: `openapi.json` beside this module describes the routes;
the schemas of the wire models (`Action`) are added from the models themselves, so they
never drift. Another module that adds admin routes documents them with `add_paths`."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

from gateway.events import Action

SOURCE = Path(__file__).with_name("openapi.json")
_extra_paths: dict[str, dict[str, Any]] = {}


def add_paths(paths: dict[str, dict[str, Any]]) -> None:
    """Document routes another module registers (e.g. the knowledge base's upload)."""
    _extra_paths.update(paths)
    _base.cache_clear()


def document() -> dict[str, Any]:
    return _base()


@cache
def _base() -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(SOURCE.read_text(encoding="utf-8"))
    spec["components"]["schemas"].update(_model_schemas())
    spec["paths"].update(copy.deepcopy(_extra_paths))
    return spec


def _model_schemas() -> dict[str, Any]:
    schema = Action.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
    return {**schema.pop("$defs", {}), "Action": schema}
