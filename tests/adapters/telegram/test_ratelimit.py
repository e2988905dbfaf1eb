from __future__ import annotations

from adapters.telegram.ratelimit import RateLimiter
from gateway.config import TelegramConfig


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def limiter(time: FakeTime, **limits: float) -> RateLimiter:
    config = TelegramConfig(token="1:x", **limits)
    return RateLimiter(config, clock=time.clock, sleep=time.sleep)


async def test_one_message_a_second_in_a_chat_and_other_chats_do_not_wait() -> None:
    time = FakeTime()
    limits = limiter(time)
    await limits.acquire("42")
    await limits.acquire("43")
    assert time.slept == []
    await limits.acquire("42")
    assert time.slept == [1.0]


async def test_twenty_a_minute_in_a_group() -> None:
    time = FakeTime()
    limits = limiter(time, rate_per_chat=100)
    for _ in range(20):
        await limits.acquire("-1001")
    assert time.now < 1
    await limits.acquire("-1001")
    assert time.now == 60.0


async def test_thirty_a_second_over_the_bot() -> None:
    time = FakeTime()
    limits = limiter(time)
    for chat in range(30):
        await limits.acquire(str(chat + 1))
    assert time.slept == []
    await limits.acquire("999")
    assert time.slept == [1.0]


async def test_idle_chats_are_forgotten_beyond_the_tracked_number() -> None:
    time = FakeTime()
    limits = limiter(time, rate_per_bot=1000)
    limits.max_tracked = 3
    for chat in ("1", "2", "3"):
        await limits.acquire(chat)
    time.now = 5.0
    await limits.acquire("4")
    assert set(limits._chats) == {"4"}
