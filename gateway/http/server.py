"""The aiohttp application and its listening site."""

from __future__ import annotations

from aiohttp import web

from gateway.console import ConsoleDeps, add_console
from gateway.http import admin, automations, health, schemas
from gateway.http.auth import AUTHENTICATOR
from gateway.http.inbound import errors_middleware
from gateway.http.listen import Listener
from gateway.http.webchat import add_routes as add_webchat_routes
from gateway.http.webhooks import WEBHOOK_DEPS, WebhookDeps, handle_webhook
from gateway.kb import http as kb_http
from gateway.ops.tokens import Authenticator


def build_app(
    webhooks: WebhookDeps,
    health_deps: health.HealthDeps,
    admin_deps: admin.AdminDeps,
    *,
    webhooks_enabled: bool = True,
    kb_deps: kb_http.KbDeps | None = None,
    console_deps: ConsoleDeps | None = None,
) -> web.Application:
    """Health routes always; webhooks and the admin API in the gateway role."""
    # Bodies are bounded by our own reader (413); aiohttp's limit is only a backstop.
    app = web.Application(
        middlewares=[errors_middleware],
        client_max_size=webhooks.settings.server.max_body_bytes * 2,
    )
    app[WEBHOOK_DEPS] = webhooks
    app[health.HEALTH_DEPS] = health_deps
    # On the root app, so that guarded routes of any sub-application find it.
    app[AUTHENTICATOR] = Authenticator(admin_deps.db, admin_deps.settings.security.admin_token)
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/readyz", health.readyz)
    app.router.add_get("/metrics", health.metrics)
    if webhooks_enabled:
        app.router.add_post("/webhooks/{platform}/{bot}", handle_webhook)
        schemas.add_routes(app, webhooks.settings.bus.url)
        add_webchat_routes(app, webhooks, admin_deps.db)
        admin_api = admin.admin_app(admin_deps)
        automations.add_routes(admin_api, admin_deps.db)
        if kb_deps is not None:
            kb_http.add_routes(admin_api, kb_deps)
        app.add_subapp(admin.PREFIX, admin_api)
        if console_deps is not None:
            add_console(app, console_deps)
    return app


class HttpServer:
    """Serves `app` on the sockets of an open `Listener` (see gateway/http/listen.py)."""

    def __init__(self, app: web.Application, listener: Listener) -> None:
        self.app, self.listener = app, listener
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=5)

    async def start(self) -> None:
        await self._runner.setup()
        for sock in self.listener.sockets:
            await web.SockSite(self._runner, sock).start()

    async def stop(self) -> None:
        await self._runner.cleanup()

    @property
    def host(self) -> str:
        return self.listener.host

    @property
    def port(self) -> int:
        return self.listener.port

    @property
    def url(self) -> str:
        return self.listener.url
