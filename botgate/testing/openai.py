"""A local OpenAI-compatible chat-completions API for offline tests of a bot with a model.

It serves `POST /v1/chat/completions` (a JSON answer, or server-sent events with
`stream: true`, ending with a usage chunk when `stream_options.include_usage` asks for it) and
`GET /v1/models`, answers in OpenAI's shapes (`{"error": {"message", "type", "code"}}`), and
records every request. What the model says is scripted, one answer per request in order;
when nothing is scripted it echoes the last user message::

    async with OpenAIEmulator() as model:           # or the `openai_emulator` fixture
        # point the bot at model.base_url (with api_key=model.api_key, model=model.model)
        model.reply("Hello! How can I help?", per_token=0.05)
        model.call_tool("weather", {"city": "Berlin"})  # then the next reply sees its result
        model.fail(503)                             # the next request answers 503
        model.garbage()                             # ... a body that is not JSON
        model.stall()                               # ... begins and never goes on
        request = await model.wait_for_requests(1)
        assert request[0].messages[-1]["content"] == "hi"

Faults of the platform emulators work here too, by name "chat.completions" or "models":
`rate_limit`, `server_error`, `latency`, `drop`, `outage`.
"""

from __future__ import annotations

import asyncio
import hmac
import itertools
import json
import re
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from aiohttp import web

from botgate.testing.base import Call, EmulatorServer, Malformed
from botgate.testing.faults import Clock, Fault
from botgate.testing.sent import Sent

Json = dict[str, Any]
_TOKEN = re.compile(r"\s*\S+|\s+")


@dataclass(kw_only=True)
class ChatRequest(Call):
    """One request as the emulator received it: `body` is its JSON, `headers` its headers."""

    body: Json = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def messages(self) -> list[Json]:
        return list(self.body.get("messages") or [])

    @property
    def tools(self) -> list[Json]:
        return list(self.body.get("tools") or [])

    @property
    def tool_names(self) -> list[str]:
        return [str(tool.get("function", {}).get("name")) for tool in self.tools]

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))

    @property
    def system(self) -> str:
        """The system messages' text, joined."""
        return "\n".join(str(m.get("content")) for m in self.messages if m["role"] == "system")

    @property
    def last_user(self) -> str:
        users = [m for m in self.messages if m.get("role") == "user"]
        return str(users[-1].get("content")) if users else ""


@dataclass
class Answer:
    """One scripted answer. `kind`: text (with `tool_calls` to call tools), an HTTP `error`,
    `garbage` (not JSON), or `stall` (begins, then never goes on)."""

    kind: Literal["text", "error", "garbage", "stall"] = "text"
    text: str = ""
    tool_calls: list[Json] = field(default_factory=list)
    status: int = 500
    message: str = "The server had an error while processing your request."
    per_token: float | None = None  # seconds between streamed tokens (None: the default)
    first_token: float | None = None  # seconds before the first one (None: the default)
    tokens: int | None = None  # completion tokens to report (None: counted)


class OpenAIEmulator(EmulatorServer[ChatRequest]):
    """An async context manager serving a fake OpenAI-compatible API on 127.0.0.1."""

    platform: ClassVar[str] = "openai"
    shutdown_timeout: ClassVar[float] = 0.5

    def __init__(
        self,
        *,
        api_key: str | None = "sk-emulator-test-key-0000",  # None: no key asked for
        model: str = "botgate-test-model",
        per_token: float = 0.0,
        first_token: float = 0.0,
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__(clock=clock)
        self.api_key, self.model = api_key, model
        self.per_token, self.first_token = per_token, first_token
        self.script: deque[Answer] = deque()
        self.default: Callable[[ChatRequest], str] = lambda request: (
            f"You said: {request.last_user}"
        )
        self._ids = itertools.count(1)

    # scripting

    def reply(
        self,
        text: str,
        *,
        per_token: float | None = None,
        first_token: float | None = None,
        tokens: int | None = None,
    ) -> None:
        """The next request is answered with `text` (streamed token by token when asked)."""
        self.script.append(Answer("text", text, per_token=per_token, first_token=first_token,
                                  tokens=tokens))

    def call_tool(self, name: str, arguments: Json | str = "", *, id: str | None = None) -> None:
        """The next request is answered with a call of the function `name`."""
        self.call_tools([(name, arguments, id)])

    def call_tools(self, calls: Iterable[tuple[str, Json | str, str | None]]) -> None:
        """The next request is answered with several function calls at once."""
        tool_calls = [
            {
                "id": call_id or f"call_{next(self._ids)}",
                "type": "function",
                "function": {
                    "name": name,
                    "arguments": args if isinstance(args, str) else json.dumps(args),
                },
            }
            for name, args, call_id in calls
        ]
        self.script.append(Answer("text", tool_calls=tool_calls))

    def fail(self, status: int = 500, message: str | None = None, *, times: int = 1) -> None:
        """The next `times` requests answer `status` with an OpenAI error body."""
        for _ in range(times):
            answer = Answer("error", status=status)
            answer.message = message or answer.message
            self.script.append(answer)

    def garbage(self, *, times: int = 1) -> None:
        """The next `times` requests answer 200 with a body (or a chunk) that is not JSON."""
        self.script.extend(Answer("garbage") for _ in range(times))

    def stall(self, text: str = "", *, times: int = 1) -> None:
        """The next `times` requests send `text` (maybe nothing), then never go on."""
        self.script.extend(Answer("stall", text) for _ in range(times))

    # read back

    async def wait_for_requests(self, count: int = 1, timeout: float = 5.0) -> list[ChatRequest]:
        """Wait until `count` chat-completion requests came in; all of them, oldest first."""
        __tracebackhide__ = True
        return await self.wait_for_calls("chat.completions", count, timeout)

    @property
    def base_url(self) -> str:
        """What `[bots.assistant] base_url` takes (it ends in /v1)."""
        return f"http://127.0.0.1:{self.port}/v1"

    def sent(self, chat: int | str) -> list[Sent]:
        raise NotImplementedError("a model sends no chat messages; see `requests`")

    def _all_sent(self) -> Iterable[Sent]:
        return []

    # the API

    def _routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/v1/chat/completions", self._completions)
        router.add_get("/v1/models", self._models)

    def _error(self, status: int, text: str) -> web.StreamResponse:
        kind = "invalid_request_error" if status < 500 else "server_error"
        body = {"error": {"message": text, "type": kind, "code": None}}
        return web.json_response(body, status=status)

    def _fault_answer(self, fault: Fault) -> web.StreamResponse:
        if fault.kind == "rate_limit":
            answer = self._error(429, "Rate limit reached; please retry.")
            answer.headers["Retry-After"] = str(max(1, round(fault.retry_after)))
            return answer
        return self._error(fault.status, "The server is overloaded or not ready yet.")

    def _authorized(self, request: web.Request) -> bool:
        if self.api_key is None:
            return True
        given = request.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {self.api_key}".encode())

    async def _models(self, request: web.Request) -> web.StreamResponse:
        call = self._record(ChatRequest(name="models", headers=dict(request.headers)))
        if not self._authorized(request):
            call.outcome(401, "invalid api key")
            return self._error(401, "Incorrect API key provided.")
        if (faulted := await self._faulted(request, call)) is not None:
            return faulted
        call.outcome(200)
        return web.json_response(
            {"object": "list", "data": [{"id": self.model, "object": "model", "created": 0,
                                         "owned_by": "botgate"}]}
        )

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        call = self._record(ChatRequest(name="chat.completions", headers=dict(request.headers)))
        try:
            call.body = await request.json()
        except ValueError:
            raise Malformed("We could not parse the JSON body of your request.") from None
        if not self._authorized(request):
            call.outcome(401, "invalid api key")
            return self._error(401, "Incorrect API key provided.")
        if (faulted := await self._faulted(request, call)) is not None:
            return faulted
        _check_body(call.body)
        answer = self.script.popleft() if self.script else Answer(text=self.default(call))
        if answer.kind == "error":
            call.outcome(answer.status, answer.message)
            return self._error(answer.status, answer.message)
        call.outcome(200)
        if call.stream:
            return await self._streamed(request, call, answer)
        return await self._whole(call, answer)

    async def _whole(self, call: ChatRequest, answer: Answer) -> web.StreamResponse:
        if answer.kind == "garbage":
            return web.Response(text="<html>502 Bad Gateway</html>", content_type="text/html")
        if answer.kind == "stall":
            await asyncio.Event().wait()
        await asyncio.sleep(self._first(answer) + self._per(answer) * len(_tokens(answer.text)))
        message: Json = {"role": "assistant", "content": answer.text or None}
        if answer.tool_calls:
            message["tool_calls"] = answer.tool_calls
        choice = {"index": 0, "message": message, "finish_reason": _finish(answer)}
        return web.json_response({**self._envelope("chat.completion"), "choices": [choice],
                                  "usage": self._usage(call, answer)})

    async def _streamed(
        self, request: web.Request, call: ChatRequest, answer: Answer
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                               "Cache-Control": "no-cache"})
        await response.prepare(request)
        await asyncio.sleep(self._first(answer))
        if answer.kind == "garbage":
            await response.write(b"data: {not json\n\n")
            return response
        await self._chunk(response, {"role": "assistant", "content": ""})
        for index, token in enumerate(_tokens(answer.text)):
            if index:
                await asyncio.sleep(self._per(answer))
            await self._chunk(response, {"content": token})
        if answer.kind == "stall":
            await asyncio.Event().wait()
        for index, tool_call in enumerate(answer.tool_calls):
            await self._chunk(response, {"tool_calls": [{"index": index, **tool_call}]})
        await self._chunk(response, {}, _finish(answer))
        if (call.body.get("stream_options") or {}).get("include_usage"):
            usage = {**self._envelope("chat.completion.chunk"), "choices": [],
                     "usage": self._usage(call, answer)}
            await response.write(b"data: " + json.dumps(usage).encode() + b"\n\n")
        await response.write(b"data: [DONE]\n\n")
        return response

    async def _chunk(
        self, response: web.StreamResponse, delta: Json, finish: str | None = None
    ) -> None:
        chunk = {**self._envelope("chat.completion.chunk"),
                 "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        await response.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")

    def _envelope(self, kind: str) -> Json:
        return {"id": f"chatcmpl-{next(self._ids)}", "object": kind, "created": int(time.time()),
                "model": self.model}

    def _usage(self, call: ChatRequest, answer: Answer) -> Json:
        prompt = sum(len(_tokens(str(m.get("content") or ""))) for m in call.messages)
        completion = answer.tokens if answer.tokens is not None else len(_tokens(answer.text))
        return {"prompt_tokens": prompt, "completion_tokens": completion,
                "total_tokens": prompt + completion}

    def _first(self, answer: Answer) -> float:
        return self.first_token if answer.first_token is None else answer.first_token

    def _per(self, answer: Answer) -> float:
        return self.per_token if answer.per_token is None else answer.per_token


def _tokens(text: str) -> list[str]:
    """What the emulator streams one chunk at a time: a word with the space before it."""
    return _TOKEN.findall(text)


def _finish(answer: Answer) -> str:
    return "tool_calls" if answer.tool_calls else "stop"


def _check_body(body: Any) -> None:
    if not isinstance(body, dict):
        raise Malformed("The request body must be a JSON object.")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise Malformed("'messages' must be a non-empty array.")
    for message in messages:
        if not isinstance(message, dict) or message.get("role") not in {
            "system", "user", "assistant", "tool", "developer",
        }:
            raise Malformed(f"Invalid message: {str(message)[:80]}")
        if message["role"] == "tool" and not message.get("tool_call_id"):
            raise Malformed("A 'tool' message needs 'tool_call_id'.")
    if not body.get("model"):
        raise Malformed("You must provide a model parameter.")
