"""A client of OpenAI-compatible chat completions (`POST {base_url}/chat/completions`), as
served by OpenAI, Ollama, vLLM, llama.cpp and others, streamed (server-sent events) or not.

`timeout` bounds the wait for the answer to begin and each wait between two chunks, not the
whole answer: a model that keeps writing is not cut off, one that stalls is. Every failure is a
`ModelError` whose text never holds the API key (a server echoing it is scrubbed)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp

from gateway.config import AssistantConfig

Json = dict[str, Any]
OnText = Callable[[str], Awaitable[None]]
Failure = Literal["error", "timeout", "garbage"]
MAX_ERROR_TEXT = 300


class ModelError(Exception):
    """The model did not answer usably: `kind` is error, timeout or garbage."""

    def __init__(self, kind: Failure, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class FunctionCall:
    """A tool call the model asked for; `arguments` is its JSON text as the model wrote it."""

    id: str
    name: str
    arguments: str


@dataclass
class Completion:
    text: str = ""
    calls: list[FunctionCall] = field(default_factory=list)
    tokens_in: int = 0
    tokens_out: int = 0
    first_chunk: float | None = None  # seconds from the request to the first chunk
    finish_reason: str | None = None


class ChatClient:
    def __init__(self, config: AssistantConfig, http: aiohttp.ClientSession) -> None:
        self.config, self.http = config, http
        self.url = config.base_url.rstrip("/") + "/chat/completions"
        self.timeout = config.timeout.total_seconds()

    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.config.api_key:
            headers["Authorization"] = f"Bearer {self.config.api_key}"
        return headers

    async def complete(
        self, messages: list[Json], tools: list[Json], on_text: OnText | None = None
    ) -> Completion:
        """One request; with `on_text`, streamed, `on_text` getting the answer so far."""
        body: Json = {
            "model": self.config.model,
            "messages": messages,
            "max_tokens": self.config.max_tokens,
            "stream": on_text is not None,
        }
        if self.config.temperature is not None:
            body["temperature"] = self.config.temperature
        if tools:
            body["tools"] = tools
        if on_text is not None:
            body["stream_options"] = {"include_usage": True}
        try:
            return await self._request(body, on_text)
        except ModelError as exc:
            raise ModelError(exc.kind, self._scrub(str(exc))) from None
        except TimeoutError:
            raise ModelError("timeout", f"no answer within {self.timeout:g}s") from None
        except aiohttp.ClientError as exc:
            raise ModelError("error", self._scrub(f"{type(exc).__name__}: {exc}")) from None

    async def _request(self, body: Json, on_text: OnText | None) -> Completion:
        started = time.perf_counter()
        async with asyncio.timeout(self.timeout):
            response = await self.http.post(self.url, json=body, headers=self.headers())
        async with response:
            if response.status >= 400:
                text = (await response.text())[:MAX_ERROR_TEXT]
                raise ModelError("error", f"HTTP {response.status}: {text}")
            if on_text is None:
                async with asyncio.timeout(self.timeout):
                    data = await _json_of(response)
                completion = parse_completion(data)
                completion.first_chunk = time.perf_counter() - started
                return completion
            return await self._stream(response, on_text, started)

    async def _stream(
        self, response: aiohttp.ClientResponse, on_text: OnText, started: float
    ) -> Completion:
        merged = _Merged()
        async for chunk in _events(response, self.timeout):
            if merged.completion.first_chunk is None:
                merged.completion.first_chunk = time.perf_counter() - started
            if merged.add(chunk):
                await on_text(merged.completion.text)
        return merged.finish()

    async def reachable(self) -> str:
        """'ok', or why `base_url` cannot be reached (for /readyz and the start-up warning)."""
        url = self.config.base_url.rstrip("/") + "/models"
        try:
            async with (
                asyncio.timeout(min(self.timeout, 5)),
                self.http.get(url, headers=self.headers()) as response,
            ):
                if response.status in (401, 403):
                    return f"refused: HTTP {response.status} (check api_key)"
                return "ok"
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return self._scrub(f"unreachable: {type(exc).__name__}: {exc}"[:MAX_ERROR_TEXT])

    def _scrub(self, text: str) -> str:
        key = self.config.api_key
        return text.replace(key, "***") if key else text


async def _json_of(response: aiohttp.ClientResponse) -> Json:
    try:
        data = json.loads(await response.read())
    except ValueError:
        raise ModelError("garbage", "the answer is not JSON") from None
    if not isinstance(data, dict):
        raise ModelError("garbage", "the answer is not a JSON object")
    return data


async def _events(response: aiohttp.ClientResponse, timeout: float) -> AsyncIterator[Json]:
    """The JSON chunks of a server-sent event stream, until `[DONE]` or its end; each line is
    waited for at most `timeout` seconds."""
    while True:
        async with asyncio.timeout(timeout):
            line = await response.content.readline()
        if not line:
            return
        text = line.decode("utf-8", "replace").strip()
        if not text.startswith("data:"):
            continue  # blank separators, comments (": keep-alive"), event names
        data = text[5:].strip()
        if data == "[DONE]":
            return
        try:
            chunk = json.loads(data)
        except ValueError:
            raise ModelError("garbage", "a streamed chunk is not JSON") from None
        if not isinstance(chunk, dict):
            raise ModelError("garbage", "a streamed chunk is not a JSON object")
        if "error" in chunk:
            raise ModelError("error", f"the model failed: {str(chunk['error'])[:MAX_ERROR_TEXT]}")
        yield chunk


def parse_completion(data: Json) -> Completion:
    """A non-streamed answer."""
    if "error" in data:
        raise ModelError("error", f"the model failed: {str(data['error'])[:MAX_ERROR_TEXT]}")
    choice = _first_choice(data)
    message = choice.get("message")
    if not isinstance(message, dict):
        raise ModelError("garbage", "the answer has no message")
    content = message.get("content") or ""
    if not isinstance(content, str):
        raise ModelError("garbage", "the message content is not text")
    calls = [_call(i, c) for i, c in enumerate(message.get("tool_calls") or [])]
    completion = Completion(content, calls, finish_reason=choice.get("finish_reason"))
    _usage(completion, data.get("usage"))
    return completion


def _first_choice(data: Json) -> Json:
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise ModelError("garbage", "the answer has no choices")
    return choices[0]


def _call(index: int, raw: Any) -> FunctionCall:
    if not isinstance(raw, dict) or not isinstance(raw.get("function"), dict):
        raise ModelError("garbage", "a tool call is not an object with a function")
    function = raw["function"]
    arguments = function.get("arguments") or ""
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments)  # some servers send the object itself
    return FunctionCall(str(raw.get("id") or f"call_{index}"), str(function.get("name")), arguments)


def _usage(completion: Completion, usage: Any) -> None:
    if isinstance(usage, dict):
        completion.tokens_in = int(usage.get("prompt_tokens") or 0)
        completion.tokens_out = int(usage.get("completion_tokens") or 0)


class _Merged:
    """Stream chunks merged into one completion: text appended, tool calls assembled by
    index (their name and id come first, their arguments in pieces)."""

    def __init__(self) -> None:
        self.completion = Completion()
        self._calls: dict[int, dict[str, str]] = {}

    def add(self, chunk: Json) -> bool:
        """True when the text grew."""
        if chunk.get("usage"):
            _usage(self.completion, chunk["usage"])
        choices = chunk.get("choices")
        if not choices:
            return False  # the usage chunk, or a keep-alive
        choice = _first_choice(chunk)
        if choice.get("finish_reason"):
            self.completion.finish_reason = choice["finish_reason"]
        delta = choice.get("delta") or {}
        if not isinstance(delta, dict):
            raise ModelError("garbage", "a streamed delta is not an object")
        for piece in delta.get("tool_calls") or []:
            self._add_call(piece)
        content = delta.get("content")
        if isinstance(content, str) and content:
            self.completion.text += content
            return True
        return False

    def _add_call(self, piece: Any) -> None:
        if not isinstance(piece, dict):
            raise ModelError("garbage", "a streamed tool call is not an object")
        call = self._calls.setdefault(int(piece.get("index") or 0), {"arguments": ""})
        if piece.get("id"):
            call["id"] = str(piece["id"])
        function = piece.get("function") or {}
        if function.get("name"):
            call["name"] = str(function["name"])
        call["arguments"] += str(function.get("arguments") or "")

    def finish(self) -> Completion:
        for index in sorted(self._calls):
            raw = self._calls[index]
            if "name" not in raw:
                raise ModelError("garbage", "a streamed tool call has no name")
            self.completion.calls.append(
                FunctionCall(raw.get("id") or f"call_{index}", raw["name"], raw["arguments"])
            )
        return self.completion
