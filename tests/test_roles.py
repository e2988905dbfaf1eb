"""The roles split across processes (here: separate runtimes with their own connections)
still make one pipeline: webhook in on `gateway`, recorded and answered by `core`, sent by
`adapters`."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import aiohttp

from tests.support.pipeline import (
    CallbackReceiver,
    GenericClient,
    count_rows,
    eventually,
    generic_bot,
    make_settings,
    message,
    running,
)


async def test_gateway_core_and_adapters_roles_work_together(backend: tuple[str, str]) -> None:
    async with CallbackReceiver() as receiver, AsyncExitStack() as stack:
        settings = make_settings(
            *backend, bots=[generic_bot("helpdesk", callback_url=receiver.url)]
        )
        core = await stack.enter_async_context(running(settings, "core"))
        await stack.enter_async_context(running(settings, "adapters"))
        gateway = await stack.enter_async_context(running(settings, "gateway"))
        client = GenericClient(gateway.http.url)
        status, body = await client.post(message("/help", event_id="split-1"), wait=True)
        await client.close()
        assert status == 200
        assert len(body["replies"]) == 1
        await asyncio.wait_for(receiver.delivered.wait(), 10)

        async def both_recorded() -> bool:
            return await count_rows(core, "messages") == 2

        await eventually(both_recorded)
        async with (
            aiohttp.ClientSession() as http,
            http.post(core.http.url + "/webhooks/generic/helpdesk") as response,
        ):
            assert response.status == 404  # the core role serves no webhooks
        assert core.runner is None
        assert gateway.core is None
