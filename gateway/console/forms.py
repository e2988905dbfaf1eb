"""The console's forms (POST): sign in and out, import a knowledge-base file (`write`),
re-drive dead letters (`admin`). The CSRF token was checked before these run (`guard`); each
answers with a redirect to a page, so a reload never sends a form twice.
"""

from __future__ import annotations

import hmac
import posixpath

from aiohttp import BodyPartReader, MultipartReader, web

from gateway.console.guard import (
    FORM,
    UPLOAD,
    CsrfRefused,
    keep_cookie,
    need,
    same_origin,
    sign_in_page,
)
from gateway.console.sessions import SIGN_IN_COOKIE
from gateway.console.state import SESSION, ConsoleDeps, console
from gateway.errors import PayloadError, PayloadTooLarge
from gateway.http.auth import AUTHENTICATOR
from gateway.http.clients import client_address
from gateway.kb import formats
from gateway.kb.errors import EmptyDocument, KbError
from gateway.kb.importer import Imported, Importer
from gateway.kb.names import collection_name, document_path
from gateway.ops import dead
from gateway.ops.tokens import Unauthorized
from store import audit
from store import kb as kb_records

FIELD_LIMIT = 1024  # bytes of a text field of a form
SUPPORTED = (
    "import Markdown, text, HTML, reStructuredText or PDF ("
    + ", ".join(sorted(formats.PARSERS))
    + ")"
)


def see(location: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(location)


async def sign_in(request: web.Request) -> web.StreamResponse:
    same_origin(request)
    form = await request.post()
    secret = request.cookies.get(SIGN_IN_COOKIE, "")
    sent = form.get("csrf")
    if not (
        secret and isinstance(sent, str) and hmac.compare_digest(sent.encode(), secret.encode())
    ):
        raise CsrfRefused("This sign-in form was refused: reload the page and sign in again.")
    address = client_address(request, console(request).deps.settings.server.trusted_proxies)
    limiter = console(request).sign_ins
    if limiter.blocked(address):
        return sign_in_page(request, 429, "Too many refused tokens: wait five minutes.")
    token = form.get("token")
    token = token.strip() if isinstance(token, str) else ""
    try:
        await request.config_dict[AUTHENTICATOR].principal(f"Bearer {token}")
    except Unauthorized:
        limiter.failed(address)
        return sign_in_page(request, 401, "That token was refused: unknown, revoked or expired.")
    response = see("/console")
    keep_cookie(request, response, console(request).sessions.start(token))
    response.del_cookie(SIGN_IN_COOKIE, path="/console")
    raise response


async def sign_out(request: web.Request) -> web.StreamResponse:
    console(request).sessions.end(request[SESSION])
    raise see("/console")  # the cookie is cleared on the way out (guard.keep_cookie)


async def upload(request: web.Request) -> web.StreamResponse:
    """Imports one file into a collection, like `botgate kb import` does for a file."""
    principal = await need(request, "write")
    deps = console(request).deps
    reader = request.get(UPLOAD, None)
    if reader is None:
        raise PayloadError("send the file as a form upload (multipart/form-data)")
    fields, filename, data = await _read_upload(reader, deps.settings.kb.max_file_bytes)
    name = collection_name(fields.get("collection", "").strip())
    organization = fields.get("org", "").strip() or "default"
    path = document_path(posixpath.basename(filename.replace("\\", "/")))
    if formats.format_of(path) is None:
        raise PayloadError(f"{path}: unsupported file type; {SUPPORTED}")
    done = await _import(deps, organization, name, path, data)
    async with deps.db.transaction() as session:
        target = ("kb", f"{name}/{path}")
        audit.record(
            session, principal.actor, "kb.import", target, details={"outcome": done.outcome}
        )
    request[SESSION].tell(f"{path} into {name}: {done.outcome}, {done.passages} passage(s).")
    raise see("/console/kb")


async def _import(
    deps: ConsoleDeps, organization: str, name: str, path: str, data: bytes
) -> Imported:
    """Imports into the collection, made if needed: a file refused leaves no new collection."""
    async with deps.db.transaction() as session:
        existed = await kb_records.collection(session, organization, name) is not None
    importer = Importer(deps.kb, deps.db, organization, name)
    await importer.prepare()
    try:
        return await importer.import_bytes(path, data)
    except KbError as exc:
        if not existed:
            await _drop_if_empty(deps, organization, name)
        if isinstance(exc, EmptyDocument):
            raise PayloadError(f"{path}: {exc}") from None
        raise type(exc)(f"{path}: {exc}") from None  # the same status, naming the file


async def _drop_if_empty(deps: ConsoleDeps, organization: str, name: str) -> None:
    async with deps.db.transaction() as session:
        (stats,) = await kb_records.collection_stats(session, organization, [name])
        if stats.documents == 0:
            await kb_records.delete_collection(session, stats.collection.id)


async def _read_upload(reader: MultipartReader, limit: int) -> tuple[dict[str, str], str, bytes]:
    """The text fields before the file, the file's name and its bytes (at most `limit`)."""
    fields: dict[str, str] = {}
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise PayloadError("a nested multipart part is not a file")
        if part.filename is None:
            fields[part.name or ""] = (await _bounded(part, FIELD_LIMIT)).decode(errors="replace")
            continue
        if not part.filename:
            raise PayloadError("choose a file to import")
        return fields, part.filename, await _bounded(part, limit)
    raise PayloadError("choose a file to import")


async def _bounded(part: BodyPartReader, limit: int) -> bytes:
    data = bytearray()
    while chunk := await part.read_chunk(64 * 1024):
        data.extend(chunk)
        if len(data) > limit:
            raise PayloadTooLarge(f"the file is over the {limit}-byte limit (kb.max_file_bytes)")
    return bytes(data)


async def redrive(request: web.Request) -> web.StreamResponse:
    """Re-drives the dead letters named (`id`, repeated) or all of them (`all`)."""
    principal = await need(request, "admin")
    deps = console(request).deps
    form = request[FORM]
    ids = [value for value in form.getall("id", []) if isinstance(value, str)]
    if not ids and form.get("all") != "1":
        raise PayloadError("choose the dead letters to re-drive")
    limit = deps.settings.operations.redrive_limit
    asked = await dead.request_redrive(deps.db, ids or None, limit, principal.actor)
    if asked.queued:
        deps.redrive_now()
    request[SESSION].tell(
        f"Re-drive queued for {len(asked.queued)} letter(s); {len(asked.skipped)} skipped "
        "(not dead)."
    )
    raise see("/console/dead")
