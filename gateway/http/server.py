"""The aiohttp application and its listening site."""

from __future__ import annotations

from aiohttp import web

from gateway.http import admin, health
from gateway.http.inbound import errors_middleware
from gateway.http.webhooks import WEBHOOK_DEPS, WebhookDeps, handle_webhook
from gateway.kb import http as kb_http


def build_app(
    webhooks: WebhookDeps,
    health_deps: health.HealthDeps,
    admin_deps: admin.AdminDeps,
    *,
    webhooks_enabled: bool = True,
    kb_deps: kb_http.KbDeps | None = None,
) -> web.Application:
    """Health routes always; webhooks and the admin API in the gateway role."""
    # Bodies are bounded by our own reader (413); aiohttp's limit is only a backstop.
    app = web.Application(
        middlewares=[errors_middleware],
        client_max_size=webhooks.settings.server.max_body_bytes * 2,
    )
    app[WEBHOOK_DEPS] = webhooks
    app[health.HEALTH_DEPS] = health_deps
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/readyz", health.readyz)
    app.router.add_get("/metrics", health.metrics)
    if webhooks_enabled:
        app.router.add_post("/webhooks/{platform}/{bot}", handle_webhook)
        admin_routes = admin.admin_app(admin_deps)
        if kb_deps is not None:
            kb_http.add_routes(admin_routes, kb_deps)
        app.add_subapp(admin.PREFIX, admin_routes)
    return app


class HttpServer:
    """Serves `app` on host:port; port 0 picks a free one (see `port` after start)."""

    def __init__(self, app: web.Application, host: str, port: int) -> None:
        self.app, self.host, self.port = app, host, port
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=5)

    async def start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self.port == 0:
            self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        await self._runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"
