"""Who may see and change what in the console, checked on the server for every request.

`pages` turns every refusal and failure into an HTML page (never a traceback) and sets the
security headers. `signed_in` finds the session of the cookie, checks its API token again,
and refuses a POST whose CSRF token is missing or wrong before the handler runs, so a refused
form changes nothing. Scopes are the admin API's (`authorize` audits a refusal).
"""

from __future__ import annotations

import hmac
import logging
from typing import Any
from urllib.parse import urlsplit

from aiohttp import BodyPartReader, MultipartReader, web
from multidict import MultiDictProxy

from gateway.console.sessions import COOKIE, LIFETIME, SIGN_IN_COOKIE, Session, new_secret
from gateway.console.state import SESSION, console
from gateway.errors import BotgateError
from gateway.http.auth import AUTHENTICATOR, PRINCIPAL, authorize
from gateway.http.inbound import Handler
from gateway.ops.tokens import Principal, Scope, Unauthorized

log = logging.getLogger(__name__)
CSRF_FIELD = "csrf"
UPLOAD = web.RequestKey("console_upload", MultipartReader)  # a form's file part, after the CSRF
FORM = web.RequestKey("console_form", MultiDictProxy[Any])
OPEN_PATHS = ("/console/sign-in",)  # the sign-in form has its own CSRF check (a cookie)
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # "no-referrer" would make browsers send `Origin: null`
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


class CsrfRefused(BotgateError):
    http_status = 403


class SignedOut(BotgateError):
    http_status = 401


def page(
    request: web.Request, template: str, http_status: int = 200, **context: Any
) -> web.Response:
    """An HTML page: the template with the signed-in operator, their scope and CSRF token."""
    session = request.get(SESSION)
    who: Principal | None = request.get(PRINCIPAL)
    base = {
        "path": request.path,
        "who": who,
        "csrf": session.csrf if session else "",
        "can_write": bool(who and who.allows("write")),
        "can_admin": bool(who and who.allows("admin")),
        # a polled fragment ("_rows.html") must not take the notice meant for the next page
        "flash": session.take_flash() if session and not template.startswith("_") else None,
    }
    html = console(request).templates.render(template, {**base, **context})
    response = web.Response(status=http_status, text=html, content_type="text/html")
    response.enable_compression()
    return response


def sign_in_page(
    request: web.Request, status: int = 200, notice: str | None = None
) -> web.Response:
    """The sign-in form, with a fresh CSRF secret in a cookie and in the form."""
    secret = new_secret()
    response = page(request, "sign_in.html", status, sign_in_csrf=secret, notice=notice)
    set_cookie(request, response, SIGN_IN_COOKIE, secret, max_age=3600)
    return response


def set_cookie(
    request: web.Request, response: web.StreamResponse, name: str, value: str, max_age: int
) -> None:
    """HttpOnly, SameSite=Strict, limited to /console; Secure when the page came over HTTPS,
    a proxy says so, or `server.public_url` is https (a proxy may say nothing)."""
    public = console(request).deps.settings.server.public_url or ""
    secure = (
        request.secure
        or request.headers.get("X-Forwarded-Proto", "") == "https"
        or public.lower().startswith("https://")
    )
    response.set_cookie(
        name, value, max_age=max_age, path="/console", httponly=True, samesite="Strict",
        secure=secure,
    )  # fmt: skip


@web.middleware
async def pages(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:  # a redirect
            _secure(exc)
            raise
        response = _error(request, exc.status, exc.reason)
    except SignedOut as exc:
        response = sign_in_page(request, 401, str(exc))
    except BotgateError as exc:
        log.warning("%s %s -> %d: %s", request.method, request.path[:200], exc.http_status, exc)
        response = _error(request, exc.http_status, str(exc))
    except Exception:
        log.exception("%s %s failed", request.method, request.path[:200])
        response = _error(request, 500, "Something went wrong; the server log has the details.")
    _secure(response)
    return response


def _error(request: web.Request, status: int, reason: str) -> web.Response:
    return page(request, "error.html", status, code=status, reason=reason)


def _secure(response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


@web.middleware
async def signed_in(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith("/console/static/") or request.path in OPEN_PATHS:
        return await handler(request)
    keeper = console(request).sessions
    session = keeper.read(request.cookies.get(COOKIE))
    if session is None:
        return _signed_out(request, "Sign in with an API token.")
    try:
        principal = await request.config_dict[AUTHENTICATOR].principal(f"Bearer {session.token}")
    except Unauthorized as exc:
        keeper.end(session)
        return _signed_out(request, f"Your session ended: {exc}.")
    request[PRINCIPAL], request[SESSION] = principal, session
    try:
        if request.method == "POST":
            await _check_csrf(request, session)
        response = await handler(request)
    except web.HTTPException as exc:  # a redirect after a form
        keep_cookie(request, exc, session)
        raise
    keep_cookie(request, response, session)
    return response


def keep_cookie(request: web.Request, response: web.StreamResponse, session: Session) -> None:
    """Writes the session's cookie again when it changed or aged; clears it at sign-out."""
    if session.ended:
        response.del_cookie(COOKIE, path="/console")
    elif session.changed:
        value = console(request).sessions.cookie(session)
        set_cookie(request, response, COOKIE, value, max_age=LIFETIME)


def _signed_out(request: web.Request, notice: str) -> web.Response:
    if request.method != "GET":
        raise SignedOut(f"{notice} Nothing was changed.")
    response = sign_in_page(request, 401, notice)
    if request.headers.get("HX-Request"):
        response.headers["HX-Refresh"] = "true"  # a polled fragment: reload into the sign-in
    return response


async def _check_csrf(request: web.Request, session: Session) -> None:
    """The form's CSRF field must equal the session's; an upload must send it first."""
    same_origin(request)
    if request.content_type == "multipart/form-data":
        reader = await request.multipart()
        part = await reader.next()
        sent = ""
        if isinstance(part, BodyPartReader) and part.name == CSRF_FIELD:
            sent = (await _first_bytes(part, 256)).decode(errors="replace")
        request[UPLOAD] = reader
    else:
        form = await request.post()
        request[FORM] = form
        value = form.get(CSRF_FIELD, "")
        sent = value if isinstance(value, str) else ""
    if not sent or not hmac.compare_digest(sent.encode(), session.csrf.encode()):
        raise CsrfRefused(
            "This form was refused: its CSRF token is missing or wrong. Reload the page and "
            "send it again. Nothing was changed."
        )


async def _first_bytes(part: BodyPartReader, limit: int) -> bytes:
    data = bytearray()
    while len(data) <= limit and (chunk := await part.read_chunk(limit)):
        data.extend(chunk)
    return bytes(data)


def same_origin(request: web.Request) -> None:
    """A browser's POST from another site names that site in `Origin`: refused. Ours is the
    host asked for, the host a proxy says it forwarded, or `server.public_url`'s."""
    origin = request.headers.get("Origin")
    if origin and urlsplit(origin).netloc not in _our_hosts(request):  # "null" (a sandbox) too
        raise CsrfRefused("This form came from another site and was refused. Nothing was changed.")


def _our_hosts(request: web.Request) -> set[str]:
    hosts = {request.host}
    if forwarded := request.headers.get("X-Forwarded-Host"):
        hosts.add(forwarded.split(",")[0].strip())
    if public := console(request).deps.settings.server.public_url:
        hosts.add(urlsplit(public).netloc)
    return hosts


async def need(request: web.Request, scope: Scope) -> Principal:
    """The operator, once their token's scope allows `scope`; 403 (audited) otherwise."""
    return await authorize(request, scope)
