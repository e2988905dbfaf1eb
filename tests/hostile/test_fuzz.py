"""Property: whatever a client sends to a webhook or the admin API, the answer is a 2xx, 400,
401, 404, 413 or 429, never a 5xx; every event the gateway accepted is recorded (and, on the
generic webhook, answered); nothing refused leaves a row. On both backends.

Hypothesis drives the shared generator (`benchmarks/hostile.py`) through its own `Random`, so
a failing example is reported with the seed that replays it. Profiles: `ci` (default, about a
minute a backend) and `long` (HYPOTHESIS_PROFILE=long).
"""

from __future__ import annotations

import asyncio
import os
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.hostile import ROUTES, Answer, RawRequest, acceptable, hostile_request, send
from gateway import codec
from gateway.core.recorder import should_answer
from tests.hostile.target import Target, fuzz_target
from tests.support.pipeline import eventually

settings.register_profile(
    "ci",
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("long", parent=settings.get_profile("ci"), max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

QUIET = 1.0  # seconds without a new event or action before the run counts as settled


@pytest.mark.parametrize("route", ROUTES)
async def test_hostile_input_gets_no_5xx_and_what_is_accepted_is_recorded(
    backend: tuple[str, str], route: str
) -> None:
    async with fuzz_target(*backend) as target:
        answers = await _fuzz(target, route)
        await _settled(target)
        await _recorded_once_and_nothing_else(target)
        await _answered(target, answers)
    assert all(acceptable(request, answer.status) for request, answer in answers)


async def _fuzz(target: Target, route: str) -> list[tuple[RawRequest, Answer]]:
    loop = asyncio.get_running_loop()
    answers: list[tuple[RawRequest, Answer]] = []

    @given(st.randoms(use_true_random=False))
    def one_request(rng: random.Random) -> None:
        request = hostile_request(rng, route, target.keys)
        future = asyncio.run_coroutine_threadsafe(send(*target.host_port, request), loop)
        answer = future.result(60)
        answers.append((request, answer))
        assert acceptable(request, answer.status), (request, answer)

    await asyncio.to_thread(one_request)
    return answers


async def _settled(target: Target) -> None:
    """Every event published (the webhooks', and the `message.sent` of the answers, which
    follow after the commit) has reached the core and been recorded, and nothing else; and
    no answer is still owed (one sent later would publish one more `message.sent`)."""

    async def recorded() -> bool:
        published = {e.dedupe_key for e in target.tapped}
        if target.runtime.metrics.answers_pending._value.get() or not await _actions_done(
            target, published
        ):
            return False
        return published == await target.recorded_keys()

    # Quiet for a moment too: the test's own taps on the bus see an answer's action a little
    # after the answer is no longer owed, and its `message.sent` comes later still.
    while True:
        await eventually(recorded, timeout=30)
        seen = len(target.tapped) + len(target.actions)
        await asyncio.sleep(QUIET)
        if len(target.tapped) + len(target.actions) == seen and await recorded():
            return


async def _actions_done(target: Target, published: set[str]) -> bool:
    """Every message the bot was asked to send has been sent (its `message.sent` published)
    or dead-lettered (a platform refused it)."""
    sends = [a for a in list(target.actions) if a.type == "message.send"]
    waiting = [a for a in sends if f"{a.platform}:{a.bot}:sent:{a.id}" not in published]
    return not waiting or {str(a.id) for a in waiting} <= await target.dead_message_ids()


async def _recorded_once_and_nothing_else(target: Target) -> None:
    published = {event.dedupe_key for event in target.tapped}
    # no refused request left a row (a row without its published event would stay apart)
    assert await target.recorded_keys() == published
    metrics = target.runtime.metrics.render().decode()
    assert "botgate_events_dead_total{" not in metrics  # no event the core gave up on


async def _answered(target: Target, answers: list[tuple[RawRequest, Answer]]) -> None:
    """Each new event the bot should answer, on every platform, gets its answer: an action
    published in reply to it (whether the platform then takes it is the platform's affair: a
    hostile payload may name a chat the emulator does not know). On the generic webhook the
    answer is also sent (its `message.sent` comes back)."""
    seen: set[str] = set()
    expected, generic = [], []
    for event in list(target.tapped):
        if event.type != "message.sent":
            if event.dedupe_key not in seen and should_answer(event):
                expected.append(event.id)
                if event.platform == "generic":
                    generic.append(event.id)
            seen.add(event.dedupe_key)

    async def all_answered() -> bool:
        replied = {action.in_reply_to for action in target.actions}
        sent = {e.message.in_reply_to for e in target.tapped if e.message is not None}
        return set(expected) <= replied and set(generic) <= sent

    await eventually(all_answered, timeout=30)
    for request, answer in answers:
        if answer.status == 200 and b"wait=1" in request.path:
            assert isinstance(codec.loads(answer.body)["replies"], list)
