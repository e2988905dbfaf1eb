"""`lang CODE` keeps the language the person wants answers in (`user_preferences`); `lang`
alone says which one it is. Replies that have translations use it."""

from __future__ import annotations

from gateway.tools.base import Reply, ToolCall
from gateway.tools.builtin.base import BuiltinTool
from gateway.tools.texts import LANGUAGES, NAMES, say
from store import people


class LangTool(BuiltinTool):
    name = "lang"
    description = "choose the language I answer in"

    async def run(self, call: ToolCall) -> list[Reply]:
        language, refs = call.turn.language, call.refs
        wanted = call.args.strip().lower()
        codes = ", ".join(LANGUAGES)
        if not wanted:
            return [Reply(say(language, "lang.current", name=NAMES[language], codes=codes))]
        if wanted not in LANGUAGES:
            return [Reply(say(language, "lang.unknown", name=wanted[:20], codes=codes))]
        if refs.user_id is None:
            return [Reply(say(language, "no_person"))]
        async with call.services.db.transaction() as session:
            await people.set_preference(session, refs.user_id, people.LANGUAGE, wanted)
        call.services.profiles.language_changed(refs.user_id)
        return [Reply(say(wanted, "lang.set"))]
