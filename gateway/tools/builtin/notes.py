"""`remember TEXT` keeps a note about the person for this bot, `remember` lists them, `forget N`
and `forget all` remove them. Notes belong to the person, so they follow linked identities; a
note is keyed by the call that made it, so a call answered again after a crash keeps it once."""

from __future__ import annotations

from gateway.tools.base import Reply, ToolCall
from gateway.tools.builtin.base import BuiltinTool
from gateway.tools.texts import say
from store import people

MAX_NOTES = 100
MAX_NOTE_LENGTH = 1000


class RememberTool(BuiltinTool):
    name = "remember"
    description = "keep a note about you, or list them"

    async def run(self, call: ToolCall) -> list[Reply]:
        language, refs = call.turn.language, call.refs
        if refs.user_id is None:
            return [Reply(say(language, "no_person"))]
        text = call.args.strip()
        if len(text) > MAX_NOTE_LENGTH:
            return [Reply(say(language, "notes.note_too_long", limit=MAX_NOTE_LENGTH))]
        async with call.services.db.transaction() as session:
            kept = await people.notes(session, refs.bot_id, refs.user_id)
            if not text:
                return [_listing(language, kept)]
            if len(kept) >= MAX_NOTES:
                return [Reply(say(language, "notes.full", limit=MAX_NOTES))]
            added = await people.add_note(
                session, refs.bot_id, refs.user_id, refs.platform_user_id, str(call.id), text
            )
        return [Reply(say(language, "notes.kept", count=len(kept) + int(added)))]


class ForgetTool(BuiltinTool):
    name = "forget"
    description = "forget a note (N) or all of them"

    async def run(self, call: ToolCall) -> list[Reply]:
        language, refs = call.turn.language, call.refs
        if refs.user_id is None:
            return [Reply(say(language, "no_person"))]
        which = call.args.strip().lower()
        async with call.services.db.transaction() as session:
            kept = await people.notes(session, refs.bot_id, refs.user_id)
            chosen = kept if which == "all" else _numbered(kept, which)
            if chosen is None:
                return [Reply(say(language, "notes.which"))]
            await people.forget_notes(session, refs.bot_id, refs.user_id, [n.key for n in chosen])
        if which == "all":
            return [Reply(say(language, "notes.forgot_all", count=len(chosen)))]
        return [Reply(say(language, "notes.forgot", text=chosen[0].text))]


def _numbered(kept: list[people.Note], which: str) -> list[people.Note] | None:
    if not which.isdigit() or not 1 <= int(which) <= len(kept):
        return None
    return [kept[int(which) - 1]]


def _listing(language: str, kept: list[people.Note]) -> Reply:
    if not kept:
        return Reply(say(language, "notes.none"))
    lines = [say(language, "notes.list")]
    lines += [f"{number}. {note.text}" for number, note in enumerate(kept, 1)]
    return Reply("\n".join(lines), format="plain")
