"""The load generator: signed generic webhook messages over one keep-alive HTTP session.

- Closed loop: N workers; each sends a message and waits until its reply has landed at the
  receiver before sending the next, so at most N events are in the pipeline at a time.
- Open loop: messages at a fixed offered rate. Send times are planned (start + i / rate) and
  latency counts from the planned time, so a stalled service cannot slow the sender down and
  hide its own queueing (no coordinated omission).

Every message has its own event_id; users and channels cycle over K conversations. The
webhook's 202 answer names the event id, which is the reply action's `in_reply_to`: that is
how a reply is matched to its request.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
import orjson

from adapters.generic import signed_headers
from benchmarks.receiver import Receiver
from benchmarks.report import Sample

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
REPLY_TIMEOUT = 30.0


@dataclass
class Budget:
    """When the load stops: after `duration` seconds, or `events` sent, whichever first."""

    duration: float | None = None
    events: int | None = None
    started: float = field(default_factory=time.perf_counter)

    def spent(self, sent: int, now: float) -> bool:
        if self.events is not None and sent >= self.events:
            return True
        return self.duration is not None and now - self.started >= self.duration


async def paced(
    rate: float,
    budget: Budget,
    clock: Clock = time.perf_counter,
    sleep: Sleep = asyncio.sleep,
) -> AsyncIterator[float]:
    """Planned send times start + i/rate, each yielded no earlier than planned. A late
    consumer gets the overdue ones at once: the plan never shifts."""
    start = clock()
    for i in itertools.count():
        planned = start + i / rate
        if budget.spent(i, planned):
            return
        delay = planned - clock()
        if delay > 0:
            await sleep(delay)
        yield planned


def message(run: str, n: int, conversations: int, command: str = "help") -> bytes:
    """The n-th event: a command (`/help`, or the bench's slow tool) in one of the
    conversations."""
    k = n % conversations
    return orjson.dumps(
        {
            "event_id": f"{run}-{n}",
            "user": {"id": f"bench-u{k}", "name": f"user {k}"},
            "channel": {"id": f"bench-c{k}", "type": "direct"},
            "text": f"/{command} {n}",
        }
    )


class LoadGenerator:
    def __init__(
        self,
        webhook_url: str,
        secret: str,
        receiver: Receiver,
        conversations: int,
        command: str = "help",
    ) -> None:
        self.webhook_url, self.secret, self.receiver = webhook_url, secret, receiver
        self.conversations, self.command = conversations, command
        self.run = uuid.uuid4().hex[:8]
        self.samples: list[Sample] = []
        self.by_event: dict[str, Sample] = {}
        self.errors = 0
        self._counter = itertools.count()
        self._http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> LoadGenerator:
        connector = aiohttp.TCPConnector(limit=1000, keepalive_timeout=60)
        timeout = aiohttp.ClientTimeout(total=60)
        self._http = aiohttp.ClientSession(connector=connector, timeout=timeout)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._http is not None:
            await self._http.close()

    @property
    def sent(self) -> int:
        return len(self.samples)

    def finish(self) -> list[Sample]:
        """The samples, with each answered one's arrival time filled in."""
        for event_id, sample in self.by_event.items():
            sample.answered = self.receiver.arrivals.get(event_id)
        return self.samples

    async def post(self, sent_at: float) -> str | None:
        """Send one message (counted from `sent_at`); its event id if accepted (202)."""
        assert self._http is not None
        sample = Sample(sent_at)
        self.samples.append(sample)
        body = message(self.run, next(self._counter), self.conversations, self.command)
        try:
            async with self._http.post(
                self.webhook_url, data=body, headers=signed_headers(self.secret, body)
            ) as response:
                answer = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError):
            status, answer = 0, b""
        if status != 202:
            self.errors += 1
            return None
        sample.accepted = time.perf_counter()
        event_id = str(orjson.loads(answer)["event_id"])
        self.by_event[event_id] = sample
        return event_id

    async def closed_loop(self, concurrency: int, budget: Budget) -> None:
        await asyncio.gather(*(self._worker(budget) for _ in range(concurrency)))

    async def _worker(self, budget: Budget) -> None:
        while not budget.spent(self.sent, time.perf_counter()):
            event_id = await self.post(time.perf_counter())
            if event_id is not None:
                await self.receiver.wait_for(event_id, REPLY_TIMEOUT)

    async def open_loop(self, rate: float, budget: Budget) -> None:
        in_flight: set[asyncio.Task[str | None]] = set()
        async for planned in paced(rate, budget):
            task = asyncio.create_task(self.post(planned))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        await asyncio.gather(*in_flight)

    async def drain(self, timeout: float) -> None:
        """Wait up to `timeout` for the replies to every accepted event."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if all(event_id in self.receiver.arrivals for event_id in self.by_event):
                return
            await asyncio.sleep(0.05)
