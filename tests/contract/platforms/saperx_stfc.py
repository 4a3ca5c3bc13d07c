"""SaperX STFC for the conformance suite: free numbers, a static bearer token."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from starlette.applications import Starlette

from reconciler.model import Action, Change
from reconciler.platforms.saperx_stfc.sim import create_app
from reconciler.sim.clock import FakeClock
from reconciler.sim.faults import Faults
from tests.contract.platforms import Adapter, bearer

TOKEN = "conformance-stfc-token-1234"


def app(clock: FakeClock, faults: Faults | None) -> Starlette:
    return create_app(TOKEN, clock=clock, faults=faults)


def seed(app: Starlette, count: int) -> set[str]:
    keys = [str(1130001000 + n) for n in range(count)]
    app.state.store.register(keys, 55)
    return set(keys)


def create(integration: str) -> Change:
    return Change(integration, "number", Action.CREATE, ("1140045000", "1140045001"), None,
                  {"country_code": 55}, reason="conformance")


async def headers(api: httpx.AsyncClient, credentials: Mapping[str, str]) -> dict[str, str]:
    return await bearer(credentials.get("token"))


ADAPTER = Adapter(
    credentials={"token": TOKEN},
    wrong=[{"token": "wrong-stfc-token-5678"}],
    app=app, seed=seed, create=create, headers=headers,
    held=lambda app: len(app.state.store.numbers),
    probe=("GET", "/api/planos"),
    listing=("/api/numeros", [{"itens_por_pagina": 0}, {"itens_por_pagina": 1001},
                              {"pagina": -1}, {"pagina": "x"}, {"status": "ativo"},
                              {"transmissao": "ok"}]),
    sim_option=("removal_delay", 0.5, lambda app: app.state.store.removal_delay),
    bad_settings=[{"removal_delay": -1}, {"transmission_error_rate": 2}],
)
