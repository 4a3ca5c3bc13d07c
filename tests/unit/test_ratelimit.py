"""The per-integration rate budget: average rate, burst, Retry-After pauses, shared by tasks."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from reconciler.providers.http import ApiClient
from reconciler.providers.ratelimit import RateBudget, budget_for
from reconciler.rates import declared_rate, seconds_for


async def timed(coro_factory, n: int) -> float:  # type: ignore[no-untyped-def]
    start = time.monotonic()
    await asyncio.gather(*(coro_factory() for _ in range(n)))
    return time.monotonic() - start


def test_burst_goes_at_once_then_the_average_rate_holds() -> None:
    budget = RateBudget(per_second=20, burst=5)
    assert asyncio.run(timed(budget.acquire, 5)) < 0.1
    budget = RateBudget(per_second=20, burst=5)
    elapsed = asyncio.run(timed(budget.acquire, 15))  # 10 beyond the burst at 20/s: >= 0.5 s
    assert 0.45 <= elapsed < 2.0


def test_pause_holds_every_request() -> None:
    async def scenario() -> float:
        budget = RateBudget(per_second=1000, burst=10)
        budget.pause(0.3)
        return await timed(budget.acquire, 3)

    assert 0.28 <= asyncio.run(scenario()) < 2.0


def test_retry_after_pauses_the_whole_integration() -> None:
    calls: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(time.monotonic())
        if len(calls) == 1:
            return httpx.Response(429, headers={"Retry-After": "0.4"})
        return httpx.Response(200, json={})

    async def scenario() -> None:
        client = ApiClient("http://sim", transport=httpx.MockTransport(handler),
                           rate=RateBudget(per_second=1000, burst=10))
        await client.request("GET", "/a")
        await client.aclose()

    asyncio.run(scenario())
    assert len(calls) == 2 and calls[1] - calls[0] >= 0.38


def test_budgets_by_endpoint() -> None:
    assert budget_for("embedded", None) is None and declared_rate("embedded", None) is None
    assert declared_rate("https://x", None) == (10.0, 20)
    assert declared_rate("embedded", {"per_second": 2, "burst": 3}) == (2.0, 3)
    assert budget_for("https://x", {"per_second": 5, "burst": None}).burst == 1  # type: ignore[union-attr]
    with pytest.raises(ValueError):
        RateBudget(0)


def test_time_estimate_counts_the_burst_free() -> None:
    assert seconds_for(412, (5.0, 10)) == pytest.approx(80.4)
    assert seconds_for(5, (5.0, 10)) == 0.0 and seconds_for(10**6, None) == 0.0
