"""`?wait`: how long the generic webhook waits for the bot's replies, and the 504 when the
core did not answer in time (the event is accepted all the same and answered later)."""

from __future__ import annotations

from contextlib import AsyncExitStack

import pytest

from adapters.generic import requested_wait
from gateway.config import ServerConfig
from gateway.errors import PayloadError
from tests.support.pipeline import (
    GenericClient,
    count_rows,
    eventually,
    make_settings,
    message,
    running,
)

SERVER = ServerConfig.model_validate({"reply_wait": "10s", "reply_wait_max": "30s"})


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, None),
        ("", None),
        ("0", None),
        ("false", None),
        ("1", 10.0),  # the first meaning of wait=1, "wait", is kept: the configured wait
        ("true", 10.0),
        ("5", 5.0),
        ("2.5", 2.5),
        ("1s", 1.0),  # one second, written as a duration
        ("500ms", 0.5),
        ("100", 30.0),  # at most reply_wait_max
        ("2m", 30.0),
    ],
)
def test_wait_is_seconds_and_1_keeps_meaning_the_default(
    value: str | None, seconds: float | None
) -> None:
    assert requested_wait(value, SERVER) == seconds


@pytest.mark.parametrize("value", ["abc", "-1", "nan", "1e9", "5 seconds"])
def test_a_wait_that_is_not_a_duration_is_refused_with_the_fix(value: str) -> None:
    with pytest.raises(PayloadError, match=r"query parameter wait = .*use wait=1 .*at most 30"):
        requested_wait(value, SERVER)


async def test_wait_answers_504_when_the_core_is_late_and_the_event_is_answered_later(
    backend: tuple[str, str],
) -> None:
    settings = make_settings(*backend)
    async with running(settings, "core"):
        pass  # the core's queue exists, as once a core has ever run; now no core runs
    async with AsyncExitStack() as stack:
        gateway = await stack.enter_async_context(running(settings, "gateway"))
        await stack.enter_async_context(running(settings, "adapters"))
        client = GenericClient(gateway.http.url)
        stack.push_async_callback(client.close)
        status, body = await client.post(message("/help", event_id="late-1"), wait="300ms")
        assert status == 504
        assert body["replies"] == []
        assert body["error"].startswith("the core did not answer within 0.3s")
        assert "accepted and will still be answered" in body["error"]

        core = await stack.enter_async_context(running(settings, "core"))

        async def question_and_answer_recorded() -> bool:
            return await count_rows(core, "messages") == 2

        await eventually(question_and_answer_recorded)
        again = await client.post(message("/help", event_id="late-1"), wait="5")
        assert again[0] == 200
        assert len(again[1]["replies"]) == 1
        assert await count_rows(core, "messages") == 2  # recorded once


async def test_a_bad_wait_is_400_and_nothing_is_published(sqlite_url: str, memory_url: str) -> None:
    async with running(make_settings(sqlite_url, memory_url)) as runtime:
        client = GenericClient(runtime.http.url)
        status, body = await client.post(message("/help"), wait="soon")
        await client.close()
        assert status == 400
        assert body["error"].startswith("query parameter wait = 'soon'")
        assert await count_rows(runtime, "messages") == 0
