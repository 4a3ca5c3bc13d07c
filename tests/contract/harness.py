"""What every provider's contract harness shares: the simulator app's admin API, a recorded
sleep for the retry backoff, request counters, transports recording what went over the wire
or losing an answer, a port change, and running a scenario then closing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pytest
from starlette.applications import Starlette

from reconciler.errors import ProviderError, ReconcilerError
from reconciler.model import Action, Change, Integration, SecretRef
from reconciler.sim.clock import FakeClock
from reconciler.sim.faults import SimTransport

H = TypeVar("H", bound="SimHarness")
# the mapping platforms' contract tests: their project, a client's CPF, the network's centre
PROJECT_NAME = "Floripa Norte"
DOCUMENT = "52998224725"
LAT, LNG = -27.5954, -48.5480


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


class LoseFirst(httpx.AsyncBaseTransport):
    """The platform carries out the first ``method`` on ``path``, and its answer is lost."""

    def __init__(self, inner: httpx.AsyncBaseTransport, method: str, path: str) -> None:
        self.inner, self.call, self.lost = inner, (method, path), 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if (request.method, request.url.path) == self.call and not self.lost:
            self.lost += 1
            raise httpx.RemoteProtocolError("the platform did it, the answer was lost")
        return response


Wrap = Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport]


class RecordedHarness(SimHarness):
    """A harness whose provider reaches ``app`` through a :class:`Recorder` (and ``wrap``, a
    fault of the test's, when given); :meth:`connect` sets both up."""

    recorder: Recorder

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()

    def connect(self, app: Starlette, provider: Callable[..., Any], integration: Integration,
                credentials: Mapping[str, str], wrap: Wrap | None, **options: Any) -> None:
        self.app = app
        inner: httpx.AsyncBaseTransport = SimTransport(app=app)
        self.recorder = Recorder(wrap(inner) if wrap is not None else inner)
        self.provider = provider(integration, dict(credentials), self.recorder,
                                 sleep=self._sleep, clock=self.clock.now, **options)

    @property
    def store(self) -> Any:
        return self.app.state.store

    def calls(self, method: str, path: str) -> list[Call]:
        return self.recorder.of(method, path)


def mapping_integration(name: str, platform: str, credentials: Mapping[str, str],
                        options: Mapping[str, Any] | None) -> Integration:
    """A mapping integration of project PROJECT_NAME read in pages of 100 (the specs' default),
    its credentials from the environment, ``options`` over those."""
    refs = {field: SecretRef("env", f"{name.upper()}_{field.upper()}") for field in credentials}
    return Integration(name, platform, "embedded", refs,
                       {"project": PROJECT_NAME, "page_size": 100, **(options or {})})


def port_change(integration: str, action: Action, key: str = "7001",
                after: Mapping[str, Any] | None = None,
                before: Mapping[str, Any] | None = None) -> Change:
    """A ``port_link`` change (the mapping platforms'), of service 7001 unless ``key`` says."""
    return Change(integration, "port_link", action, (key,), before, after, reason="test")


def wrong_shape(provider: Any, call: str,
                read: Callable[[Any], Awaitable[Any]] = lambda p: p.observe()) -> None:
    """``read(provider)`` (its observation) is a ProviderError naming ``call``; the provider is
    closed after."""

    async def main() -> None:
        try:
            with pytest.raises(ProviderError, match=call):
                await read(provider)
        finally:
            await provider.aclose()

    asyncio.run(main())


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
