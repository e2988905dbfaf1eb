"""`/healthz` (the process serves), `/readyz` (database, bus, migrations), `/metrics`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from aiohttp import web

from gateway.bus.base import Bus
from gateway.errors import BotgateError
from gateway.http.inbound import json_response
from gateway.metrics import Metrics, QueueSampler
from store.database import Database


@dataclass
class HealthDeps:
    db: Database
    bus: Bus
    metrics: Metrics
    queues: QueueSampler | None = None  # queue depth and consumers, read at each scrape
    # Parts whose trouble is told but does not make the process unready (bot -> status).
    assistants: Mapping[str, str] = field(default_factory=dict)
    # The leases this process runs pollers under: its name, and which it holds now.
    leases: Callable[[], Mapping[str, object]] = dict


HEALTH_DEPS = web.AppKey("health_deps", HealthDeps)


async def healthz(request: web.Request) -> web.Response:
    body: dict[str, object] = {"status": "ok"}
    if leases := request.app[HEALTH_DEPS].leases():
        body["leases"] = dict(leases)
    return json_response(200, body)


async def readiness(deps: HealthDeps) -> dict[str, str]:
    """Database, migrations and bus: "ok" or what is wrong (also shown by the console)."""
    return {
        "database": await _database(deps.db),
        "migrations": await _migrations(deps.db),
        "bus": "ok" if await deps.bus.healthy() else "not connected",
    }


async def readyz(request: web.Request) -> web.Response:
    deps = request.app[HEALTH_DEPS]
    checks = await readiness(deps)
    ready = all(value == "ok" for value in checks.values())
    body: dict[str, object] = {"ready": ready, "checks": checks}
    if deps.assistants:
        body["details"] = {f"assistant.{bot}": status for bot, status in deps.assistants.items()}
    return json_response(200 if ready else 503, body)


async def metrics(request: web.Request) -> web.Response:
    deps = request.app[HEALTH_DEPS]
    if deps.queues is not None:
        await deps.queues.refresh()
    body = deps.metrics.render()
    return web.Response(body=body, content_type="text/plain", charset="utf-8")


async def _database(db: Database) -> str:
    try:
        await db.ping()
    except BotgateError as exc:
        return str(exc)
    return "ok"


async def _migrations(db: Database) -> str:
    try:
        status = await db.migration_status()
    except Exception as exc:
        return f"unknown: {type(exc).__name__}"
    return "ok" if status.up_to_date else f"pending: {', '.join(status.pending)}"
