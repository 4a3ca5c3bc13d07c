"""What every provider's contract harness shares: the simulator app's admin API, a recorded
sleep for the retry backoff, request counters, and running a scenario then closing."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
from starlette.applications import Starlette

from reconciler.errors import ReconcilerError

H = TypeVar("H", bound="SimHarness")


class SimHarness:
    """Base of a harness: a subclass sets ``app`` (the simulator) and ``provider``."""

    app: Starlette
    provider: Any

    def __init__(self) -> None:
        self.slept: list[float] = []

    async def _sleep(self, seconds: float) -> None:
        """The provider's backoff sleep: recorded, never waited."""
        self.slept.append(seconds)

    async def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app),
                                     base_url="http://sim") as api:
            response = await api.request(method, path, **kwargs)
            response.raise_for_status()
            return response.json()

    def requests(self) -> dict[str, int]:
        return dict(self.app.state.store.requests)


def collector(seen: list[str]) -> Callable[[Awaitable[Any]], Awaitable[None]]:
    """``collect(call)``: await ``call``; the text of the ReconcilerError it raises, its repr
    and detail go to ``seen`` (secret-masking tests then search them)."""

    async def collect(call: Awaitable[Any]) -> None:
        try:
            await call
        except ReconcilerError as exc:
            seen.append(f"{exc} {exc!r} {getattr(exc, 'detail', '')}")

    return collect


def drive(harness: H, scenario: Callable[[H], Awaitable[None]]) -> H:
    """Run ``scenario`` against ``harness``, closing its provider whatever happens."""

    async def main() -> None:
        try:
            await scenario(harness)
        finally:
            await harness.provider.aclose()

    asyncio.run(main())
    return harness
