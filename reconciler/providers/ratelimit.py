"""A rate budget per integration: a token bucket shared by every request one provider makes.

Observe, plan and apply of one integration draw from one bucket, so a platform sees at most
``per_second`` requests a second on average and ``burst`` at once, whatever the concurrency. A
``Retry-After`` from the platform pauses the whole bucket, not just the request that got it:
the platform is telling the client, not the request, to slow down.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from reconciler.rates import declared_rate


class RateBudget:
    def __init__(self, per_second: float, burst: int = 1) -> None:
        if per_second <= 0 or burst < 1:
            raise ValueError("per_second must be > 0 and burst >= 1")
        self.per_second = per_second
        self.burst = burst
        self._tokens = float(burst)
        self._stamp = time.monotonic()
        self._paused_until = 0.0
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        """Wait until one request may go."""
        async with self._lock:
            while True:
                now = time.monotonic()
                if now < self._paused_until:
                    await asyncio.sleep(self._paused_until - now)
                    continue
                self._refill(now)
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await asyncio.sleep((1 - self._tokens) / self.per_second)

    def pause(self, seconds: float) -> None:
        """No request goes for ``seconds`` (the platform's Retry-After)."""
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)
        self._tokens = 0.0

    def _refill(self, now: float) -> None:
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.per_second)
        self._stamp = now


def budget_for(endpoint: str, rate_limit: Mapping[str, Any] | None) -> RateBudget | None:
    """The bucket of an integration: its declared rate, the default for a URL, none embedded."""
    rate = declared_rate(endpoint, rate_limit)
    return RateBudget(*rate) if rate is not None else None
