"""The documented interfaces of the bus, served without a token: `/api/v1/asyncapi.json`
(AsyncAPI 3) and `/api/v1/schemas/{event,action,tool_call}.json` (JSON Schema 2020-12)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway import codec
from gateway.bus.asyncapi import asyncapi_document
from gateway.errors import NotFound
from gateway.http.inbound import json_response
from gateway.schemas import MESSAGES, json_schema

PREFIX = "/api/v1"
ASYNCAPI = web.AppKey("asyncapi", dict[str, Any])


async def asyncapi(request: web.Request) -> web.Response:
    return json_response(200, request.app[ASYNCAPI])


async def schema(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    found = json_schema(name)
    if found is None:
        known = ", ".join(f"{known}.json" for known in MESSAGES)
        raise NotFound(f"no schema {name!r}; there are {known}")
    return web.Response(body=codec.dumps(found), content_type="application/schema+json")


def add_routes(app: web.Application, bus_url: str) -> None:
    """On the main application, ahead of the admin API's sub-application (no token)."""
    app[ASYNCAPI] = asyncapi_document(bus_url)
    app.router.add_get(f"{PREFIX}/asyncapi.json", asyncapi)
    app.router.add_get(PREFIX + "/schemas/{name}.json", schema)


OPENAPI_PATHS: dict[str, Any] = {
    f"{PREFIX}/asyncapi.json": {
        "get": {
            "summary": "The bus as an AsyncAPI 3 document (no token)",
            "security": [],
            "responses": {
                "200": {
                    "description": "the AsyncAPI document",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
    },
    PREFIX + "/schemas/{name}.json": {
        "get": {
            "summary": "JSON Schema (2020-12) of a bus message (no token)",
            "security": [],
            "parameters": [
                {
                    "name": "name",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "enum": list(MESSAGES)},
                }
            ],
            "responses": {
                "200": {
                    "description": "the JSON Schema",
                    "content": {"application/schema+json": {"schema": {"type": "object"}}},
                },
                "404": {
                    "description": "no such schema",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                },
            },
        }
    },
}
