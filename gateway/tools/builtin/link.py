"""`link` answers a one-time code; the same person sending `link CODE` to a bot of the same
organization on another platform joins both identities into one person, so notes follow
them. A code is single-use, valid 10 minutes and stored only as its hash; a wrong, used or
expired code changes nothing, and after 5 wrong codes in an hour an identity is refused for
the rest of the hour. `unlink` gives this identity a person of its own again."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from gateway.events import utcnow
from gateway.tools.base import Reply, ToolCall
from gateway.tools.builtin.base import BuiltinTool
from gateway.tools.texts import say
from store import people
from store.bots import organization_of

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread
CODE_LENGTH = 8
CODE_LIFETIME = timedelta(minutes=10)
MAX_FAILURES, FAILURE_WINDOW = 5, timedelta(hours=1)


def new_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:4]}-{raw[4:]}"


def code_hash(code: str) -> str:
    """What is stored: the hash of the code as typed, without case, spaces or dashes."""
    canonical = "".join(ch for ch in code.upper() if ch.isalnum())
    return hashlib.sha256(f"botgate-link:{canonical}".encode()).hexdigest()


class LinkTool(BuiltinTool):
    name = "link"
    description = "link this account to yours on another platform"

    async def run(self, call: ToolCall) -> list[Reply]:
        language, refs = call.turn.language, call.refs
        if refs.user_id is None or refs.platform_user_id is None:
            return [Reply(say(language, "no_person"))]
        code = call.args.strip()
        if code:
            return [Reply(say(language, await self._redeem(call, code)))]
        issued = new_code()
        async with call.services.db.transaction() as session:
            organization = await organization_of(session, refs.bot_id)
            expires = utcnow() + CODE_LIFETIME
            await people.issue_code(session, refs.user_id, organization, code_hash(issued), expires)
        return [Reply(say(language, "link.code", code=issued), format="plain")]

    async def _redeem(self, call: ToolCall, code: str) -> str:
        refs, now = call.refs, utcnow()
        assert refs.platform_user_id is not None
        async with call.services.db.transaction() as session:
            failures = await people.failures_since(
                session, refs.platform_user_id, now - FAILURE_WINDOW
            )
            if failures >= MAX_FAILURES:
                return "link.locked"
            organization = await organization_of(session, refs.bot_id)
            outcome = await people.redeem_code(
                session, code_hash(code), organization, refs.platform_user_id, now
            )
        if outcome is people.Redeemed.JOINED and refs.user_id is not None:
            call.services.profiles.language_changed(refs.user_id)
        return {
            people.Redeemed.JOINED: "link.joined",
            people.Redeemed.ALREADY: "link.already",
            people.Redeemed.REFUSED: "link.refused",
        }[outcome]


class UnlinkTool(BuiltinTool):
    name = "unlink"
    description = "unlink this account again"

    async def run(self, call: ToolCall) -> list[Reply]:
        language, refs = call.turn.language, call.refs
        if refs.platform_user_id is None:
            return [Reply(say(language, "no_person"))]
        async with call.services.db.transaction() as session:
            parted = await people.unlink(session, refs.platform_user_id, utcnow())
        return [Reply(say(language, "unlink.done" if parted else "unlink.alone"))]
