"""`kb QUERY`: searches the bot's knowledge base (and the person's extra collections) and
answers with the best passages, each cited; a clear "nothing found" otherwise."""

from __future__ import annotations

from gateway.kb.replies import cited_reply, search_for
from gateway.tools.base import Reply, ToolCall
from gateway.tools.builtin.base import BuiltinTool

ASK = "What should I look up? For example: /kb refund policy"


class KbTool(BuiltinTool):
    name = "kb"
    description = "search the knowledge base"

    async def run(self, call: ToolCall) -> list[Reply]:
        query = call.args.strip()
        if not query:
            return [Reply(ASK)]
        return [cited_reply(await search_for(call.turn, query))]
