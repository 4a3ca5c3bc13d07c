"""A transport wrapper that measures how many requests a provider has in flight at once."""

from __future__ import annotations

import asyncio

import httpx


class Gauge(httpx.AsyncBaseTransport):
    """Wraps a transport; ``peak`` is the most requests that were in flight together."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.in_flight = 0
        self.peak = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        await asyncio.sleep(0.001)  # let the others start: concurrency shows only if it overlaps
        try:
            return await self.inner.handle_async_request(request)
        finally:
            self.in_flight -= 1


class Gauges:
    """A ``wrap`` for the contract harnesses: every transport it wraps is gauged."""

    def __init__(self) -> None:
        self.made: list[Gauge] = []

    def __call__(self, inner: httpx.AsyncBaseTransport) -> Gauge:
        gauge = Gauge(inner)
        self.made.append(gauge)
        return gauge

    @property
    def peak(self) -> int:
        return max((g.peak for g in self.made), default=0)
