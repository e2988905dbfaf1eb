"""The admin API under `/api/v1`, behind `Authorization: Bearer <security.admin_token>`.

`/api/v1/openapi.json` documents it and needs no token.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web
from sqlalchemy import select

from adapters.payload import clean, load_json, validate
from adapters.verify import same
from gateway.bus.base import Bus
from gateway.config import Settings
from gateway.errors import PayloadError, SignatureError, UnknownBot
from gateway.events import Action, clip
from gateway.http.inbound import Handler, errors_middleware, json_response
from gateway.publisher import action_message
from store.database import Database
from store.models import Message as MessageRow
from store.models import PlatformChannel

PREFIX = "/api/v1"
MAX_LIMIT = 200


@dataclass
class AdminDeps:
    settings: Settings
    db: Database
    bus: Bus


ADMIN_DEPS = web.AppKey("admin_deps", AdminDeps)


@web.middleware
async def admin_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path != f"{PREFIX}/openapi.json":
        expected = request.app[ADMIN_DEPS].settings.security.admin_token
        if not expected:
            raise SignatureError("the admin API is disabled: set security.admin_token")
        given = _bearer(clean(request.headers.get("Authorization", "")))
        if given is None:
            raise SignatureError("send the token as `Authorization: Bearer <token>`")
        if not same(given, expected):
            raise SignatureError("wrong bearer token")
        _check_query(request)
    return await handler(request)


def _bearer(header: str) -> str | None:
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def _check_query(request: web.Request) -> None:
    for name, value in request.query.items():
        if "\x00" in name or "\x00" in value:
            raise PayloadError(f"query parameter {clip(clean(name), 64)!r} holds a NUL character")


async def list_bots(request: web.Request) -> web.Response:
    settings = request.app[ADMIN_DEPS].settings
    bots = [
        {
            "name": b.name,
            "organization": b.organization,
            "platforms": list(b.platforms()),
            "tools": b.tools,
            "kb": b.kb,
        }
        for b in settings.bots
    ]
    return json_response(200, {"bots": bots})


async def list_messages(request: web.Request) -> web.Response:
    deps = request.app[ADMIN_DEPS]
    limit = _limit(request.query.get("limit", "50"))
    query = (
        select(MessageRow, PlatformChannel)
        .join(PlatformChannel, PlatformChannel.id == MessageRow.platform_channel_id)
        .order_by(MessageRow.occurred_at.desc())
        .limit(limit)
    )
    if "channel" in request.query:
        query = query.where(PlatformChannel.external_id == request.query["channel"])
    if "platform" in request.query:
        query = query.where(PlatformChannel.platform == request.query["platform"])
    async with deps.db.transaction() as db:
        rows = (await db.execute(query)).all()
    return json_response(200, {"messages": [_message_json(m, c) for m, c in rows]})


def _limit(value: str) -> int:
    digits = value.isascii() and value.isdigit() and len(value) <= 3
    if not (digits and 1 <= int(value) <= MAX_LIMIT):
        raise PayloadError(f"query parameter 'limit' must be a whole number from 1 to {MAX_LIMIT}")
    return int(value)


def _message_json(message: MessageRow, channel: PlatformChannel) -> dict[str, Any]:
    return {
        "id": str(message.id),
        "direction": message.direction,
        "external_id": message.external_id,
        "platform": channel.platform,
        "channel": channel.external_id,
        "text": message.text,
        "thread_id": message.thread_id,
        "session_id": str(message.session_id) if message.session_id else None,
        "occurred_at": message.occurred_at.isoformat(),
        "edited_at": message.edited_at.isoformat() if message.edited_at else None,
        "deleted_at": message.deleted_at.isoformat() if message.deleted_at else None,
    }


async def post_action(request: web.Request) -> web.Response:
    """Publish an action, as a service on the bus would."""
    deps = request.app[ADMIN_DEPS]
    body = load_json(await request.read(), "not a botgate.action/1")
    action = validate(Action, body, "not a botgate.action/1")
    bot = deps.settings.bot(action.bot)
    if bot is None or action.platform not in bot.platforms():
        raise UnknownBot(f"no bot {action.bot!r} on platform {action.platform!r}")
    await deps.bus.publish(action_message(action))
    return json_response(202, {"action_id": str(action.id)})


async def openapi(_request: web.Request) -> web.Response:
    return json_response(200, OPENAPI)


def admin_app(deps: AdminDeps) -> web.Application:
    """The admin API as a sub-application: its token check never runs on webhooks."""
    app = web.Application(middlewares=[errors_middleware, admin_auth])
    app[ADMIN_DEPS] = deps
    app.router.add_get("/openapi.json", openapi)
    app.router.add_get("/bots", list_bots)
    app.router.add_get("/messages", list_messages)
    app.router.add_post("/actions", post_action)
    return app


def _model_schemas() -> dict[str, Any]:
    schema = Action.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
    return {**schema.pop("$defs", {}), "Action": schema}


_ERROR = {"$ref": "#/components/schemas/Error"}
_UNAUTHORIZED = {
    "description": "missing or wrong bearer token",
    "content": {"application/json": {"schema": _ERROR}},
}
OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "botgate admin API", "version": "1"},
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {
                "type": "object",
                "properties": {"error": {"type": "string"}},
                "required": ["error"],
            },
            **_model_schemas(),
        },
    },
    "security": [{"bearer": []}],
    "paths": {
        f"{PREFIX}/bots": {
            "get": {
                "summary": "The configured bots and their platforms (no credentials)",
                "responses": {"200": {"description": "bots"}, "401": _UNAUTHORIZED},
            }
        },
        f"{PREFIX}/messages": {
            "get": {
                "summary": "Recent messages, newest first",
                "parameters": [
                    {"name": "platform", "in": "query", "schema": {"type": "string"}},
                    {"name": "channel", "in": "query", "schema": {"type": "string"}},
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
                    },
                ],
                "responses": {
                    "200": {"description": "messages"},
                    "400": {"description": "bad limit"},
                    "401": _UNAUTHORIZED,
                },
            }
        },
        f"{PREFIX}/actions": {
            "post": {
                "summary": "Publish an action (botgate.action/1) to botgate.actions",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Action"}}
                    },
                },
                "responses": {
                    "202": {"description": "published"},
                    "400": {"description": "invalid action"},
                    "401": _UNAUTHORIZED,
                    "404": {"description": "unknown bot"},
                    "503": {"description": "bus unavailable"},
                },
            }
        },
    },
}
