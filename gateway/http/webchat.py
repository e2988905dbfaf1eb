"""`GET /chat/{bot}` (the page), `/chat/{bot}/widget.js` (the embeddable bubble), its assets
and `/chat/{bot}/ws` (the visitor's WebSocket, gateway/http/webchat_socket.py).

Who may embed: the bot's `allowed_origins`, enforced by the browser through
`Content-Security-Policy: frame-ancestors` on the page, and checked again by the widget script
before it shows the bubble. The page runs only its own script (`script-src 'self'`), so even
HTML that slipped into a message could not run.
"""

from __future__ import annotations

import json
import re
import weakref
from dataclasses import dataclass, field
from importlib import resources
from urllib.parse import urlsplit

from aiohttp import web

from adapters.webchat import WebchatAdapter
from adapters.webchat.ratelimit import Limits
from adapters.webchat.render import escape
from gateway.errors import UnknownBot
from gateway.events import clip
from gateway.http.webhooks import WebhookDeps
from store.database import Database

ASSETS = {"chat.js": "text/javascript", "chat.css": "text/css"}
_STATIC = resources.files("adapters.webchat") / "static"


@dataclass
class WebchatDeps:
    webhooks: WebhookDeps
    db: Database
    limits: dict[str, Limits] = field(default_factory=dict)  # per bot
    sockets: weakref.WeakSet[web.WebSocketResponse] = field(default_factory=weakref.WeakSet)


WEBCHAT_DEPS = web.AppKey("webchat_deps", WebchatDeps)


def add_routes(app: web.Application, webhooks: WebhookDeps, db: Database) -> None:
    from gateway.http import webchat_socket  # the socket session imports this module

    app[WEBCHAT_DEPS] = WebchatDeps(webhooks, db)
    app.router.add_get("/chat/{bot}", chat_page)
    app.router.add_get("/chat/{bot}/widget.js", widget_script)
    app.router.add_get("/chat/{bot}/assets/{name}", asset)
    app.router.add_get("/chat/{bot}/ws", webchat_socket.visitor_socket)
    app.on_shutdown.append(_close_sockets)


async def _close_sockets(app: web.Application) -> None:
    """Tell open pages the gateway is going (they reconnect) instead of holding the stop."""
    for ws in list(app[WEBCHAT_DEPS].sockets):
        await ws.close(code=1001, message=b"the gateway is stopping")


def adapter_for(request: web.Request) -> WebchatAdapter:
    """The bot's web chat adapter; 404 for a bot without `[bots.webchat]`."""
    bot = request.match_info["bot"]
    adapter = request.app[WEBCHAT_DEPS].webhooks.adapters.get(("webchat", bot))
    if not isinstance(adapter, WebchatAdapter):
        raise UnknownBot(
            f"no web chat for bot {clip(bot, 64)!r}: give the bot a [bots.webchat] table"
        )
    return adapter


def public_base(request: web.Request) -> str:
    """Where visitors reach botgate: `server.public_url` (behind a TLS proxy the request itself
    says http), else the request's own scheme and host."""
    public = request.app[WEBCHAT_DEPS].webhooks.settings.server.public_url
    return public.rstrip("/") if public else f"{request.scheme}://{request.host}"


def origin_allowed(request: web.Request, adapter: WebchatAdapter, origin: str) -> bool:
    """The page's own host (whatever the scheme a proxy ends), or an allowed origin."""
    origin = origin.lower()
    return (
        urlsplit(origin).netloc == request.host.lower() or origin in adapter.config.allowed_origins
    )


def security_headers(request: web.Request, adapter: WebchatAdapter) -> dict[str, str]:
    host = request.host
    ancestors = " ".join(["'self'", *adapter.config.allowed_origins])
    policy = (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self' ws://{host} wss://{host}; base-uri 'none'; form-action 'none'; "
        f"frame-ancestors {ancestors}"
    )
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }


async def chat_page(request: web.Request) -> web.Response:
    adapter = adapter_for(request)
    embed = request.query.get("embed") == "1"
    html = _page(adapter, embed)
    headers = security_headers(request, adapter)
    return web.Response(text=html, content_type="text/html", charset="utf-8", headers=headers)


_SLOT = re.compile(r"\{\{(title|bot|max|embed)\}\}")


def _page(adapter: WebchatAdapter, embed: bool) -> str:
    """The page with its slots filled in one pass: a title that reads `{{bot}}` stays text."""
    values = {
        "title": escape(adapter.title),
        "bot": adapter.bot.name,  # NAME_PATTERN: letters, digits, - and _
        "max": str(adapter.config.max_message_chars),
        "embed": "embed" if embed else "page",
    }
    template = (_STATIC / "chat.html").read_text(encoding="utf-8")
    return _SLOT.sub(lambda slot: values[slot[1]], template)


async def widget_script(request: web.Request) -> web.Response:
    adapter = adapter_for(request)
    origin = request.headers.get("Origin", "")
    config = {
        "bot": adapter.bot.name,
        "url": f"{public_base(request)}/chat/{adapter.bot.name}",
        "origins": adapter.config.allowed_origins,
        "title": adapter.title,
    }
    code = (_STATIC / "widget.js").read_text(encoding="utf-8")
    body = f"(function (config) {{\n{code}\n}})({json.dumps(config)});\n"
    headers = {
        "Cache-Control": "max-age=300",
        "Vary": "Origin",
        "X-Content-Type-Options": "nosniff",
    }
    if origin and origin.lower() in adapter.config.allowed_origins:
        headers["Access-Control-Allow-Origin"] = origin
    return web.Response(text=body, content_type="text/javascript", headers=headers)


async def asset(request: web.Request) -> web.Response:
    adapter_for(request)
    name = request.match_info["name"]
    if name not in ASSETS:
        raise web.HTTPNotFound()
    text = (_STATIC / name).read_text(encoding="utf-8")
    headers = {"Cache-Control": "max-age=300", "X-Content-Type-Options": "nosniff"}
    return web.Response(text=text, content_type=ASSETS[name], headers=headers)
