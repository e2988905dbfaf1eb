"""Admin API: `GET /api/v1/automations` (the automations the core mirrored from the
configuration, when each fires next, and its last run) and
`GET /api/v1/automations/{name}/runs` (its runs, newest first)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from gateway.automations.schedule import next_time
from gateway.errors import NotFound, PayloadError
from gateway.events import utcnow
from gateway.http.inbound import json_response
from store import automations as records
from store.database import Database
from store.models import AutomationRun, SystemAutomation

DATABASE = web.AppKey("automations_database", Database)
MAX_LIMIT = 500


async def list_automations(request: web.Request) -> web.Response:
    async with request.app[DATABASE].transaction() as session:
        found = await records.automations(session)
        latest = await records.latest_runs(session, [row.id for row, _ in found])
    now = utcnow()
    automations = [_automation(row, bot, latest.get(row.id), now) for row, bot in found]
    return json_response(200, {"automations": automations})


async def list_runs(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    limit = _limit(request.query.get("limit", "50"))
    before = _time("before", request.query.get("before"))
    async with request.app[DATABASE].transaction() as session:
        automation_id = await records.automation_id(session, name)
        if automation_id is None:
            raise NotFound(f"no automation {name!r}; GET /api/v1/automations lists them")
        found = await records.runs(session, [automation_id], limit=limit, before=before)
    page: dict[str, Any] = {"automation": name, "runs": [_run(run) for run in found]}
    if len(found) == limit:  # there may be more: ask again with ?before=<this>
        page["next_before"] = found[-1].scheduled_at.isoformat()
    return json_response(200, page)


def add_routes(admin: web.Application, db: Database) -> None:
    """On the admin API's sub-application: its token check applies."""
    admin[DATABASE] = db
    admin.router.add_get("/automations", list_automations)
    admin.router.add_get("/automations/{name}/runs", list_runs)


def _automation(
    row: SystemAutomation, bot: str, last: AutomationRun | None, now: datetime
) -> dict[str, Any]:
    scheduled = row.kind == "schedule" and row.schedule is not None
    next_run = (
        next_time(row.schedule, row.timezone or "UTC", now)
        if scheduled and row.is_active and row.schedule is not None
        else None
    )
    return {
        "name": row.name,
        "bot": bot,
        "active": row.is_active,
        "cron": row.schedule,
        "timezone": row.timezone,
        "event": row.trigger,
        **row.params,
        "next_run_at": next_run.isoformat() if next_run else None,
        "last_run": _run(last) if last else None,
    }


def _run(run: AutomationRun) -> dict[str, Any]:
    return {
        "id": str(run.id),
        "firing": run.firing,
        "scheduled_at": run.scheduled_at.isoformat(),
        "event_id": str(run.event_id) if run.event_id else None,
        "status": run.status,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "error": run.error,
        "result": run.result,
        "runner": run.runner,
    }


def _limit(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= MAX_LIMIT:
        raise PayloadError(f"limit must be a whole number from 1 to {MAX_LIMIT}")
    return int(value)


def _time(name: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise PayloadError(f"{name} must be an ISO 8601 time with a zone, e.g. 2026-11-22T09:00Z")
    return parsed


ERROR = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
OPENAPI_PATHS: dict[str, Any] = {
    "/api/v1/automations": {
        "get": {
            "summary": "The automations, when each fires next, and its last run",
            "responses": {
                "200": {"description": "automations"},
                "401": {"description": "missing or wrong bearer token", **ERROR},
            },
        }
    },
    "/api/v1/automations/{name}/runs": {
        "get": {
            "summary": "An automation's runs, newest first",
            "parameters": [
                {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
                },
                {
                    "name": "before",
                    "in": "query",
                    "description": "only runs scheduled before this time (the `next_before` "
                    "of the previous page)",
                    "schema": {"type": "string", "format": "date-time"},
                },
            ],
            "responses": {
                "200": {"description": "runs"},
                "400": {"description": "bad limit or before", **ERROR},
                "401": {"description": "missing or wrong bearer token", **ERROR},
                "404": {"description": "no such automation", **ERROR},
            },
        }
    },
}
