"""Seeded fault injection for every simulator: an ASGI middleware driven by a settings object.

Real platforms are slow, overloaded and rate limited; the reconciler's retries and journal are
only trustworthy if tests exercise them. Each simulator wraps its app in :class:`FaultMiddleware`
and keeps the :class:`Faults` object at ``app.state.faults``, so faults can be set when the app is
built (constructor arguments, ``reconcile sim serve`` options) and switched at run time through
the simulator's ``POST /_sim/config``.

Faults are drawn from ``random.Random(seed)``: one draw per faultable request, so the same seed
and the same request sequence give the same faults. Admin paths (``/_sim/``) are never faulted,
so a test can always inspect and reconfigure a misbehaving simulator.

Faults: latency, 503, 429 with Retry-After, a dropped connection (nothing done), and a lost
response (the platform did the work, the client never hears): the last is what makes retried
writes dangerous, and what the providers' "already done counts as success" rule answers.
Adding a fault means adding a :class:`Fault` member, a rate
in :class:`Faults` and a branch in :meth:`FaultMiddleware._inject`; nothing else changes.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable, Mapping
from enum import Enum
from typing import Any

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

ADMIN_PREFIX = "/_sim/"
Sleep = Callable[[float], Awaitable[None]]


class Fault(str, Enum):
    """What the middleware does to one request instead of serving it normally."""

    UNAVAILABLE = "unavailable"  # 503
    RATE_LIMITED = "rate_limited"  # 429 + Retry-After
    DROPPED = "dropped"  # the connection drops before the platform does anything
    LOST_RESPONSE = "lost_response"  # the platform does the work, then the connection drops


_RATES = {
    "error_rate": Fault.UNAVAILABLE,
    "rate_limit_rate": Fault.RATE_LIMITED,
    "drop_rate": Fault.DROPPED,
    "lost_response_rate": Fault.LOST_RESPONSE,
}
FAULT_SETTINGS = ("latency", *_RATES, "retry_after", "seed")


class ConnectionDropped(Exception):
    """Raised inside the app, after the response started, to cut the connection: uvicorn then
    closes the socket mid-response, and :class:`SimTransport` turns it into the same
    httpx.RemoteProtocolError a client of a served simulator sees."""


class Faults:
    """The current fault settings and the seeded random source they are drawn from."""

    def __init__(
        self,
        *,
        latency: float = 0.0,
        error_rate: float = 0.0,
        rate_limit_rate: float = 0.0,
        drop_rate: float = 0.0,
        lost_response_rate: float = 0.0,
        retry_after: int = 1,
        seed: int | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.latency = 0.0
        self.error_rate = 0.0
        self.rate_limit_rate = 0.0
        self.drop_rate = 0.0
        self.lost_response_rate = 0.0
        self.retry_after = 1
        self.seed = seed
        self.sleep = sleep
        self._random = random.Random(seed)
        self.configure(
            latency=latency,
            error_rate=error_rate,
            rate_limit_rate=rate_limit_rate,
            drop_rate=drop_rate,
            lost_response_rate=lost_response_rate,
            retry_after=retry_after,
        )

    def configure(self, **changes: Any) -> None:
        """Change some settings; a new ``seed`` restarts the random sequence. Validates first,
        so a bad value leaves every setting as it was."""
        checked = {name: _validated(name, value) for name, value in changes.items()}
        rates = {name: checked.get(name, getattr(self, name)) for name in _RATES}
        if sum(rates.values()) > 1.0:
            raise ValueError("the fault rates together must not exceed 1")
        for name, value in checked.items():
            setattr(self, name, value)
        if "seed" in checked:
            self._random = random.Random(checked["seed"])

    def draw(self) -> Fault | None:
        """The fault for the next request, or None to serve it normally."""
        if not any(getattr(self, name) for name in _RATES):
            return None
        roll, edge = self._random.random(), 0.0
        for name, fault in _RATES.items():
            edge += getattr(self, name)
            if roll < edge:
                return fault
        return None

    def to_json(self) -> dict[str, Any]:
        """Every setting, in :data:`FAULT_SETTINGS` order."""
        return {name: getattr(self, name) for name in FAULT_SETTINGS}


def _validated(name: str, value: Any) -> Any:
    """One setting, type- and range-checked (ValueError names the setting)."""
    if name == "seed":
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError("seed must be an integer or null")
        return value
    if name == "retry_after":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError("retry_after must be a whole number of seconds >= 0")
        return value
    if name not in ("latency", *_RATES):
        raise ValueError(f"unknown fault setting {name!r}")
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{name} must be a number >= 0")
    if name in _RATES and value > 1:
        raise ValueError(f"{name} must be between 0 and 1")
    return float(value)


class FaultMiddleware:
    """Delays, refuses or rate-limits HTTP requests according to a shared :class:`Faults`."""

    def __init__(self, app: ASGIApp, faults: Faults) -> None:
        self.app = app
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        if self.faults.latency:
            await self.faults.sleep(self.faults.latency)
        fault = self.faults.draw()
        if fault is None:
            await self.app(scope, receive, send)
        elif fault is Fault.LOST_RESPONSE:
            await self._lose_response(scope, receive, send)
        else:
            await self._inject(fault, send)

    async def _lose_response(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request for real, then cut the connection instead of answering."""

        async def swallow(message: Any) -> None:
            return None

        await self.app(scope, receive, swallow)
        await _cut(send)

    async def _inject(self, fault: Fault, send: Send) -> None:
        if fault is Fault.DROPPED:
            await _cut(send)
        elif fault is Fault.RATE_LIMITED:
            headers = {"retry-after": str(self.faults.retry_after)}
            body = {"erro": "limite_requisicoes", "mensagem": "Muitas requisições; aguarde."}
            await _send_json(send, 429, body, headers)
        else:
            body = {"erro": "indisponivel", "mensagem": "Serviço temporariamente indisponível."}
            await _send_json(send, 503, body, {})


async def _send_json(
    send: Send, status: int, body: Mapping[str, Any], headers: Mapping[str, str]
) -> None:
    payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    raw += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})


async def _cut(send: Send) -> None:
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")]})
    raise ConnectionDropped("connection dropped by fault injection")


class SimTransport(httpx.ASGITransport):
    """httpx's ASGI transport, but a dropped connection looks as it does over a socket."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except ConnectionDropped as exc:
            raise httpx.RemoteProtocolError(str(exc), request=request) from None
