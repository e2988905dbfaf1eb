"""The console as an aiohttp sub-application mounted at `/console`."""

from __future__ import annotations

from aiohttp import web

from gateway.console import forms, pages
from gateway.console.guard import pages as pages_middleware
from gateway.console.guard import signed_in
from gateway.console.state import CONSOLE, Console, ConsoleDeps

PREFIX = "/console"


def console_app(deps: ConsoleDeps) -> web.Application:
    app = web.Application(middlewares=[pages_middleware, signed_in])
    app[CONSOLE] = Console(deps)
    get, post = app.router.add_get, app.router.add_post
    get("", pages.overview)
    get("/", pages.overview)
    get("/bots", pages.bots)
    get("/conversations", pages.conversations)
    get("/conversations/rows", pages.conversation_rows)
    get("/conversations/{id}", pages.conversation)
    get("/conversations/{id}/messages", pages.conversation_messages)
    get("/people", pages.people)
    get("/kb", pages.knowledge)
    get("/tools", pages.tools)
    get("/dead", pages.dead_letters)
    get("/static/{name}", pages.static)
    post("/sign-in", forms.sign_in)
    post("/sign-out", forms.sign_out)
    post("/kb/upload", forms.upload)
    post("/dead/redrive", forms.redrive)
    return app


def add_console(app: web.Application, deps: ConsoleDeps) -> None:
    app.add_subapp(PREFIX, console_app(deps))
