"""The admin API under `/api/v1`: `Authorization: Bearer <token>` with a scope (see
`gateway.http.auth`). `/api/v1/openapi.json` documents every route and needs no token.

Every state-changing call is audited with its caller (`admin` or `token:NAME`). Error bodies
are `{"error": reason}`: a reason written for the caller, never an exception's text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adapters.payload import load_json, validate
from gateway import codec
from gateway.bus.base import Bus
from gateway.config import Settings
from gateway.errors import BotgateError, PayloadError, UnknownBot
from gateway.events import Action
from gateway.http.auth import authorize, principal, requires, scope_of
from gateway.http.inbound import Handler, errors_middleware, json_response, read_body
from gateway.http.openapi import document
from gateway.http.params import Query, id_cursor, make_cursor, parse_uuid, time_cursor
from gateway.ops import dead, tokens
from gateway.ops.erase import erase
from gateway.publisher import action_message
from gateway.tracing import new_traceparent
from store import audit
from store import dead_letters as letters
from store.database import Database
from store.history import Filters, messages, newest_first, record

PREFIX = "/api/v1"
log = logging.getLogger(__name__)
MAX_BODY = 64 * 1024


@dataclass
class AdminDeps:
    settings: Settings
    db: Database
    bus: Bus
    # Called after a re-drive was queued: the core in this process publishes it at once.
    redrive_now: Callable[[], None] = field(default=lambda: None)


ADMIN_DEPS = web.AppKey("admin_deps", AdminDeps)


@web.middleware
async def admin_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every route but the OpenAPI document needs a token whose scope allows it."""
    if request.path != f"{PREFIX}/openapi.json":
        await authorize(request, scope_of(handler, request.method))
    return await handler(request)


@web.middleware
async def unexpected(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A failure nobody foresaw is logged with its traceback; the caller gets a reason, not
    the exception's text (which may hold SQL or data)."""
    try:
        return await handler(request)
    except (web.HTTPException, BotgateError):
        raise
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return json_response(500, {"error": "internal error; the server log has the details"})


def _deps(request: web.Request) -> AdminDeps:
    return request.app[ADMIN_DEPS]


def _actor(request: web.Request) -> str:
    return principal(request).actor


async def _body(request: web.Request, model: type[BaseModel]) -> Any:
    raw = await read_body(request, MAX_BODY)
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "body"
        raise PayloadError(f"body {where}: {error['msg']}") from None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# bots and messages


async def list_bots(request: web.Request) -> web.Response:
    Query(request, ())
    bots = [
        {
            "name": b.name,
            "organization": b.organization,
            "platforms": list(b.platforms()),
            "tools": b.tools,
            "kb": b.kb,
        }
        for b in _deps(request).settings.bots
    ]
    return json_response(200, {"bots": bots})


MESSAGE_PARAMS = ("bot", "platform", "channel", "person", "since", "until", "limit", "cursor")


async def list_messages(request: web.Request) -> web.Response:
    query = Query(request, MESSAGE_PARAMS)
    since, until = query.times()
    filters = Filters(
        bot=query.text("bot"),
        platform=query.text("platform"),
        channel=query.text("channel"),
        person=query.uuid("person"),
        since=since,
        until=until,
    )
    limit = query.limit()
    statement = newest_first(messages(filters), time_cursor(query)).limit(limit + 1)
    async with _deps(request).db.transaction() as db:
        rows = (await db.execute(statement)).all()
    page = [record(row) for row in rows[:limit]]
    cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        cursor = make_cursor(last.occurred_at.isoformat(), str(last.id))
    return json_response(200, {"messages": page, "next_cursor": cursor})


@requires("write")
async def post_action(request: web.Request) -> web.Response:
    """Publish an action, as a service on the bus would."""
    deps = _deps(request)
    # the edge's parser (depth-bounded, NULs replaced), then the model naming the field
    body = load_json(await read_body(request, MAX_BODY), "not a botgate.action/1")
    action = validate(Action, body, "not a botgate.action/1")
    bot = deps.settings.bot(action.bot)
    if bot is None or action.platform not in bot.platforms():
        raise UnknownBot(f"no bot {action.bot!r} on platform {action.platform!r}")
    await deps.bus.publish(action_message(action, new_traceparent()))
    async with deps.db.transaction() as session:
        details = {"type": action.type, "platform": action.platform, "bot": action.bot}
        audit.record(
            session, _actor(request), "action.send", ("action", str(action.id)), details=details
        )
    return json_response(202, {"action_id": str(action.id)})


# audit


async def list_audit(request: web.Request) -> web.Response:
    query = Query(request, ("action", "actor", "limit", "cursor"))
    limit, before = query.limit(), id_cursor(query)
    async with _deps(request).db.transaction() as db:
        rows = await audit.page(
            db, limit + 1, before, action=query.text("action"), actor=query.text("actor")
        )
    return _id_page("entries", [audit.as_json(r) for r in rows], limit)


def _id_page(name: str, rows: list[dict[str, Any]], limit: int) -> web.Response:
    cursor = make_cursor(rows[limit - 1]["id"]) if len(rows) > limit else None
    return json_response(200, {name: rows[:limit], "next_cursor": cursor})


# dead letters


async def list_dead_letters(request: web.Request) -> web.Response:
    query = Query(request, ("status", "limit", "cursor"))
    status = query.choice("status", letters.STATUSES)
    limit, before = query.limit(), id_cursor(query)
    async with _deps(request).db.transaction() as db:
        rows = await letters.page(db, limit + 1, before, status)
    return _id_page("dead_letters", [letters.as_json(r) for r in rows], limit)


async def show_dead_letter(request: web.Request) -> web.Response:
    Query(request, ())
    letter_id = parse_uuid("id", request.match_info["id"])
    async with _deps(request).db.transaction() as db:
        row = await letters.get(db, letter_id)
        if row is None:
            raise dead.UnknownDeadLetter(f"no dead letter {letter_id}")
        return json_response(200, letters.as_json(row, body=True))


class RedriveRequest(_Strict):
    ids: list[str] | None = Field(None, min_length=1, max_length=10_000)
    all: bool = False
    max: int | None = Field(None, ge=1)


async def redrive(request: web.Request) -> web.Response:
    deps = _deps(request)
    body: RedriveRequest = await _body(request, RedriveRequest)
    if (body.ids is None) == (not body.all):
        raise PayloadError("body: give either `ids` (a list of dead-letter ids) or `all: true`")
    limit = min(
        body.max or deps.settings.operations.redrive_limit, deps.settings.operations.redrive_limit
    )
    asked = await dead.request_redrive(deps.db, body.ids, limit, _actor(request))
    if asked.queued:
        deps.redrive_now()
    return json_response(202, {"queued": asked.queued, "skipped": asked.skipped})


# tokens


async def list_tokens(request: web.Request) -> web.Response:
    Query(request, ())
    return json_response(200, {"tokens": await tokens.listing(_deps(request).db)})


class TokenRequest(_Strict):
    name: str = Field(min_length=1, max_length=64)
    scope: str
    expires: str | None = None


async def create_token(request: web.Request) -> web.Response:
    body: TokenRequest = await _body(request, TokenRequest)
    token, described = await tokens.create(
        _deps(request).db, body.name, body.scope, body.expires, _actor(request)
    )
    return json_response(201, {**described, "token": token})


async def revoke_token(request: web.Request) -> web.Response:
    name = tokens.check_name(request.match_info["name"])
    await tokens.revoke(_deps(request).db, name, _actor(request))
    return json_response(200, {"revoked": name})


# people


async def erase_person(request: web.Request) -> web.Response:
    person = parse_uuid("id", request.match_info["id"])
    counts = await erase(_deps(request).db, person, _actor(request))
    return json_response(200, {"erased": str(person), "counts": counts})


async def openapi(request: web.Request) -> web.Response:
    return web.Response(body=codec.dumps(document()), content_type="application/json")


def admin_app(deps: AdminDeps) -> web.Application:
    """The admin API as a sub-application: its token check never runs on webhooks."""
    app = web.Application(middlewares=[errors_middleware, admin_auth, unexpected])
    app[ADMIN_DEPS] = deps
    routes = app.router
    routes.add_get("/openapi.json", openapi)
    routes.add_get("/bots", list_bots)
    routes.add_get("/messages", list_messages)
    routes.add_post("/actions", post_action)
    routes.add_get("/audit", list_audit)
    routes.add_get("/dead-letters", list_dead_letters)
    routes.add_get("/dead-letters/{id}", show_dead_letter)
    routes.add_post("/dead-letters/redrive", redrive)
    routes.add_get("/tokens", list_tokens)
    routes.add_post("/tokens", create_token)
    routes.add_delete("/tokens/{name}", revoke_token)
    routes.add_delete("/people/{id}", erase_person)
    return app
