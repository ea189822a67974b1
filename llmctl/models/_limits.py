"""Simple async token buckets for requests-per-minute and tokens-per-minute limits."""

from __future__ import annotations

import asyncio
import time


class TokenBucket:
    """Refills `per_minute / 60` tokens a second up to `capacity` (default: 10 s worth).

    `acquire(n)` waits (first come, first served) until `n` tokens are there and takes
    them; `debit(n)` takes tokens after the fact (the completion's tokens) and may
    leave the bucket in debt, which later callers wait out.
    """

    def __init__(self, per_minute: float, capacity: float | None = None) -> None:
        if per_minute <= 0:
            raise ValueError("per_minute must be positive")
        self.rate = per_minute / 60.0
        self.capacity = capacity if capacity is not None else max(1.0, per_minute / 6.0)
        self.level = self.capacity
        self._stamp = time.monotonic()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self._stamp) * self.rate)
        self._stamp = now

    async def acquire(self, n: float = 1.0) -> None:
        n = min(float(n), self.capacity)
        async with self._lock:
            self._refill()
            while self.level < n:
                await asyncio.sleep((n - self.level) / self.rate)
                self._refill()
            self.level -= n

    def debit(self, n: float) -> None:
        self._refill()
        self.level -= n
