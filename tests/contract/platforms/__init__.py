"""What the conformance suite must know of each platform, one adapter module per platform.

The suite (:mod:`tests.contract.test_conformance`) tests once what every provider and every
simulator must do, for every platform in :func:`reconciler.platforms.registry.every`; an
:class:`Adapter` tells it how to seed a platform's simulator, which create change to try and how
to see its result, which credentials work and which the platform refuses. A registered platform
without an adapter module here fails the suite (:func:`adapter_for`), it is never skipped.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from reconciler.model import Change
from reconciler.sim.clock import FakeClock
from reconciler.sim.faults import Faults

Headers = Callable[[httpx.AsyncClient, Mapping[str, str]], Awaitable[dict[str, str]]]


@dataclass(frozen=True)
class Adapter:
    """One platform, as the conformance suite drives it."""

    credentials: Mapping[str, str]  # what the simulator of ``app`` accepts
    wrong: Sequence[Mapping[str, str]]  # credentials it refuses (each one field wrong)
    app: Callable[[FakeClock, Faults | None], Starlette]  # a simulator accepting credentials
    seed: Callable[[Starlette, int], set[str]]  # put n objects in its store: their keys
    create: Callable[[str], Change]  # a create change for the integration named so
    held: Callable[[Starlette], int]  # how many objects the platform holds
    headers: Headers  # a simulator client's auth headers for these credentials (logs in)
    probe: tuple[str, str]  # a platform route (method, path) that needs auth
    listing: tuple[str, Sequence[Mapping[str, Any]]]  # the list route and params it refuses
    sim_option: tuple[str, Any, Callable[[Starlette], Any]]  # a create_app option, read back
    login: str | None = None  # the login route of a platform that issues tokens
    renew: str | None = None  # its refresh route, when its tokens renew without a login
    bad_settings: Sequence[Mapping[str, Any]] = field(default_factory=tuple)
    options: Mapping[str, Any] = field(default_factory=dict)  # the integration options it needs
    writes_per_object: int = 1  # write counters one seeded object leaves (OZmap: 5)
    invalid_code: str = "dados_invalidos"  # the code of a refused setting
    refused: tuple[int, str] = (422, "parametro_invalido")  # a listing's refused parameters
    code: Callable[[httpx.Response], str] = lambda r: str(r.json().get("erro", ""))


def module_name(platform: str) -> str:
    return f"{__name__}.{platform.replace('-', '_')}"


def adapter_for(platform: str) -> Adapter:
    """The adapter of a registered platform; a failure (not a skip) naming what to add."""
    try:
        module = importlib.import_module(module_name(platform))
    except ModuleNotFoundError as exc:
        if exc.name != module_name(platform):
            raise
        pytest.fail(f"platform {platform!r} is registered but has no conformance adapter: add "
                    f"tests/contract/platforms/{platform.replace('-', '_')}.py defining ADAPTER "
                    f"(a tests.contract.platforms.Adapter)", pytrace=False)
    adapter = getattr(module, "ADAPTER", None)
    if not isinstance(adapter, Adapter):
        pytest.fail(f"{module.__name__} must define ADAPTER, a tests.contract.platforms.Adapter",
                    pytrace=False)
    return adapter


async def bearer(value: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"} if value else {}


def logs_in(path: str, body: Callable[[Mapping[str, str]], Mapping[str, str]],
            field: str) -> Headers:
    """The ``headers`` of a platform that issues tokens: POST ``body`` to ``path``, send back
    the ``field`` of the answer as a bearer token (none when the login is refused)."""

    async def headers(api: httpx.AsyncClient, credentials: Mapping[str, str]) -> dict[str, str]:
        response = await api.post(path, json=body(credentials))
        return await bearer(response.json().get(field))

    return headers
