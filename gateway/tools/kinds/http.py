"""`kind = "http"`: POST `botgate.tool_call/1` to the tool's URL, signed like a generic callback
(`X-Botgate-Timestamp`, `X-Botgate-Signature` with the tool's secret); the answer is
`200 {"replies": [...]}`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp

from adapters.generic import signed_headers
from gateway.config import ToolConfig
from gateway.tools.base import Reply, ToolCall, ToolFailure
from gateway.tools.wire import call_body, parse_answer

MAX_ANSWER_BYTES = 1024 * 1024


class HttpTool:
    def __init__(self, name: str, config: ToolConfig, http: aiohttp.ClientSession) -> None:
        assert config.url is not None
        assert config.secret is not None
        self.name, self.description = name, config.description
        self.timeout = config.timeout.total_seconds()
        self.parameters: Mapping[str, Any] | None = config.parameters
        self.url, self._secret, self._http = config.url, config.secret, http

    def __repr__(self) -> str:  # never the secret
        return f"HttpTool({self.name!r}, {self.url!r})"

    async def run(self, call: ToolCall) -> list[Reply]:
        body = call_body(call)
        headers = signed_headers(self._secret, body)
        async with self._http.post(self.url, data=body, headers=headers) as response:
            if response.status != 200:
                raise ToolFailure(f"{self.url} answered HTTP {response.status}")
            answer = await response.content.read(MAX_ANSWER_BYTES + 1)
        if len(answer) > MAX_ANSWER_BYTES:
            raise ToolFailure(f"{self.url} answered with more than {MAX_ANSWER_BYTES} bytes")
        return parse_answer(answer)
