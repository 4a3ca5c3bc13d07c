"""What every provider's contract harness shares: the simulator app's admin API, a recorded
sleep for the retry backoff, request counters, a transport recording what went over the wire,
and running a scenario then closing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Call:
    """One request as the platform received it, and the status it answered."""

    method: str
    path: str
    params: Mapping[str, str]
    body: Any  # the JSON body, GET bodies included; None without one
    authorization: str | None
    status: int  # 0 when no answer came back


class Recorder(httpx.AsyncBaseTransport):
    """A transport recording every request the provider sends through ``inner``."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.calls: list[Call] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        status = 0  # no answer came back (a dropped connection, a lost response)
        try:
            response = await self.inner.handle_async_request(request)
            status = response.status_code
            return response
        finally:
            raw = request.content
            self.calls.append(Call(request.method, request.url.path, dict(request.url.params),
                                   json.loads(raw) if raw else None,
                                   request.headers.get("authorization"), status))

    def of(self, method: str, path: str) -> list[Call]:
        """The calls of one route, in order."""
        return [c for c in self.calls if (c.method, c.path) == (method, path)]


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
