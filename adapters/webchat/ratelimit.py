"""Per-visitor and per-IP limits on what visitors send: token buckets, refilled continuously,
holding a minute's allowance. Kept in memory: a limit protects this process; several gateway
processes each hold their own."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

_PRUNE_EVERY = 1024  # takes between sweeps of full buckets (idle visitors)


@dataclass
class _Bucket:
    tokens: float
    at: float


class Buckets:
    """`per_minute` takes per key, in bursts of at most `per_minute`."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._takes = 0

    def take(self, key: str) -> float:
        """0 when `key` may go on (and one token is spent), else the seconds until it may."""
        now = self._clock()
        bucket = self._buckets.get(key) or _Bucket(self.capacity, now)
        bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        self._buckets[key] = bucket
        self._sweep(now)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate

    def give_back(self, key: str) -> None:
        """Undo a take that another limit refused, so that one refusal costs one token."""
        if (bucket := self._buckets.get(key)) is not None:
            bucket.tokens = min(self.capacity, bucket.tokens + 1)

    def _sweep(self, now: float) -> None:
        self._takes += 1
        if self._takes % _PRUNE_EVERY:
            return
        full = [
            key
            for key, b in self._buckets.items()
            if b.tokens + (now - b.at) * self.rate >= self.capacity
        ]
        for key in full:
            del self._buckets[key]


@dataclass(frozen=True)
class Limits:
    """One bot's limits: messages per visitor and per IP address, and sockets opened (hellos)
    per IP address, each of which costs a token check and a history read."""

    visitor: Buckets
    ip: Buckets
    connects: Buckets

    @classmethod
    def per_minute(cls, visitor: int, ip: int) -> Limits:
        return cls(Buckets(visitor), Buckets(ip), Buckets(ip))
