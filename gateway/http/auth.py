"""Who may call an admin route: `Authorization: Bearer <token>` and the token's scope.

`requires(scope)` guards a handler anywhere (the admin API, the knowledge-base upload, the
console): 401 for a missing, unknown, revoked or expired token, 403 (audited) for a scope too
small. Inside the admin API a handler without it needs `read` for GET and `admin` otherwise.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from gateway.ops.tokens import Authenticator, Forbidden, Principal, Scope
from store import audit

log = logging.getLogger(__name__)
AUTHENTICATOR = web.AppKey("authenticator", Authenticator)
PRINCIPAL = web.RequestKey("principal", Principal)
RouteHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def requires(scope: Scope) -> Callable[[RouteHandler], RouteHandler]:
    """`@requires("write")` on an aiohttp handler. `principal(request)` is then the caller."""

    def decorate(handler: RouteHandler) -> RouteHandler:
        @functools.wraps(handler)
        async def guarded(request: web.Request) -> web.StreamResponse:
            await authorize(request, scope)
            return await handler(request)

        guarded.botgate_scope = scope  # type: ignore[attr-defined]
        return guarded

    return decorate


def scope_of(handler: object, method: str) -> Scope:
    declared: Scope | None = getattr(handler, "botgate_scope", None)
    if declared is not None:
        return declared
    return "read" if method in ("GET", "HEAD") else "admin"


async def authorize(request: web.Request, scope: Scope) -> Principal:
    """The caller, once their token allows `scope`; raises 401 or 403 otherwise."""
    principal = request.get(PRINCIPAL)
    authenticator = request.config_dict[AUTHENTICATOR]
    if principal is None:
        principal = await authenticator.principal(request.headers.get("Authorization"))
        request[PRINCIPAL] = principal
    if not principal.allows(scope):
        async with authenticator.db.transaction() as session:
            details = {"method": request.method, "path": request.path, "needed": scope}
            target = ("route", f"{request.method} {request.path}"[:256])
            audit.record(
                session, principal.actor, "access.denied", target, outcome="denied", details=details
            )
        raise Forbidden(f"{principal.actor} has scope {principal.scope!r}; this needs {scope!r}")
    return principal


def principal(request: web.Request) -> Principal:
    return request[PRINCIPAL]
