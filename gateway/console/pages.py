"""The console's pages (GET, the `read` scope). Lists are bounded: the newest first."""

from __future__ import annotations

import uuid
from datetime import timedelta

from aiohttp import web

from gateway.console import health
from gateway.console.guard import page
from gateway.console.render import STATIC, STATIC_FILES
from gateway.console.state import console
from gateway.errors import PayloadError
from gateway.events import utcnow
from gateway.kb.errors import KbError
from gateway.kb.names import collection_name
from store import console as records
from store import dead_letters as letters
from store import kb as kb_records

LIST_LIMIT = 50
MESSAGE_LIMIT = 100
WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}


async def overview(request: web.Request) -> web.Response:
    deps = console(request).deps
    return page(request, "health.html", checks=await health.checks(deps), bots=deps.settings.bots)


async def bots(request: web.Request) -> web.Response:
    deps = console(request).deps
    receives = {
        (bot.name, platform): health.receiving(bot, platform)
        for bot in deps.settings.bots
        for platform in bot.platforms()
    }
    return page(request, "bots.html", bots=deps.settings.bots, receives=receives)


def _bot_filter(request: web.Request) -> str | None:
    name = request.query.get("bot") or None
    if name is not None and console(request).deps.settings.bot(name) is None:
        raise PayloadError(f"no bot named {name[:64]!r}")
    return name


async def _active(request: web.Request) -> list[records.Active]:
    async with console(request).deps.db.transaction() as session:
        return await records.active_conversations(session, LIST_LIMIT, _bot_filter(request))


async def conversations(request: web.Request) -> web.Response:
    bot = _bot_filter(request)
    names = [b.name for b in console(request).deps.settings.bots]
    active = await _active(request)
    return page(request, "conversations.html", active=active, bot=bot, bot_names=names)


async def conversation_rows(request: web.Request) -> web.Response:
    """The conversations table's rows, polled by the page for new activity."""
    return page(request, "_conversation_rows.html", active=await _active(request))


def _channel_id(request: web.Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info["id"])
    except ValueError:
        raise web.HTTPNotFound(reason="No such conversation.") from None


async def _messages(request: web.Request) -> tuple[records.Conversation, list[records.Said]]:
    channel_id = _channel_id(request)
    async with console(request).deps.db.transaction() as session:
        found = await records.conversation(session, channel_id)
        if found is None:
            raise web.HTTPNotFound(reason="No such conversation.")
        return found, await records.conversation_messages(session, channel_id, MESSAGE_LIMIT)


async def conversation(request: web.Request) -> web.Response:
    found, said = await _messages(request)
    return page(request, "conversation.html", conversation=found, said=said)


async def conversation_messages(request: web.Request) -> web.Response:
    found, said = await _messages(request)
    return page(request, "_messages.html", conversation=found, said=said)


async def people(request: web.Request) -> web.Response:
    search = request.query.get("q", "").strip()[:200] or None
    async with console(request).deps.db.transaction() as session:
        found = await records.people(session, LIST_LIMIT, search)
    return page(request, "people.html", people=found, search=search or "")


async def knowledge(request: web.Request) -> web.Response:
    deps = console(request).deps
    organization = request.query.get("org", "default")[:128]
    async with deps.db.transaction() as session:
        stats = await kb_records.collection_stats(session)
    query = request.query.get("q", "").strip()[:500]
    chosen = request.query.get("collection", "")
    hits, problem, status = [], None, 200
    if query and chosen:
        try:
            names = [collection_name(chosen)]
            hits = await deps.kb.search(deps.db, organization, names, query, limit=10)
        except KbError as exc:  # said beside the search form, not instead of the page
            problem, status = str(exc), exc.http_status
    return page(
        request, "kb.html", status, stats=stats, query=query, chosen=chosen,
        organization=organization, hits=hits, searched=bool(query and chosen), problem=problem,
    )  # fmt: skip


async def tools(request: web.Request) -> web.Response:
    deps = console(request).deps
    window = request.query.get("window", "7d")
    if window not in WINDOWS:
        raise PayloadError(f"window must be one of {', '.join(WINDOWS)}")
    async with deps.db.transaction() as session:
        uses = await records.tool_use(session, utcnow() - WINDOWS[window])
    rows = [
        uses.get((b.name, t)) or records.ToolUse(b.name, t)
        for b in deps.settings.bots
        for t in b.tools
    ]
    configured = {(r.bot, r.tool) for r in rows}
    rows += [use for key, use in sorted(uses.items()) if key not in configured]  # since removed
    return page(request, "tools.html", rows=rows, window=window, windows=list(WINDOWS))


async def dead_letters(request: web.Request) -> web.Response:
    status = request.query.get("status") or None
    if status is not None and status not in letters.STATUSES:
        raise PayloadError(f"status must be one of {', '.join(letters.STATUSES)}")
    async with console(request).deps.db.transaction() as session:
        rows = await letters.page(session, LIST_LIMIT, None, status)
    return page(request, "dead.html", letters=rows, status=status, statuses=letters.STATUSES)


async def static(request: web.Request) -> web.StreamResponse:
    """The vendored files; a `.gz` twin is sent to browsers that accept gzip."""
    name = request.match_info["name"]
    if name not in STATIC_FILES:
        raise web.HTTPNotFound(reason="No such file.")
    response = web.FileResponse(STATIC / name)
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"  # URLs carry a digest
    response.content_type = STATIC_FILES[name]
    return response
