"""Qualifica for the conformance suite: users, client-credential logins for a token."""

from __future__ import annotations

from starlette.applications import Starlette

from reconciler.model import Action, Change
from reconciler.platforms.qualifica.sim import create_app
from reconciler.platforms.qualifica.sim_store import User
from reconciler.sim.clock import FakeClock
from reconciler.sim.faults import Faults
from tests.contract.platforms import Adapter, logs_in

CLIENT_ID = "conformance-client-id"
SECRET = "conformance-client-secret-1234"


def app(clock: FakeClock, faults: Faults | None) -> Starlette:
    return create_app(SECRET, client_id=CLIENT_ID, clock=clock, faults=faults)


def seed(app: Starlette, count: int) -> set[str]:
    keys = {f"user{n:03d}" for n in range(count)}
    for key in sorted(keys):
        app.state.store.create_user(User(key, f"Cliente {key}", "52998224725"))
    return keys


def create(integration: str) -> Change:
    after = {"name": "Maria Silva", "email": "maria@example.com", "document": "52998224725"}
    return Change(integration, "user", Action.CREATE, ("maria", "joao"), None, after,
                  reason="conformance")


ADAPTER = Adapter(
    credentials={"client_id": CLIENT_ID, "client_secret": SECRET},
    wrong=[{"client_id": CLIENT_ID, "client_secret": "wrong-secret-value"},
           {"client_id": "wrong-client-id", "client_secret": SECRET}],
    app=app, seed=seed, create=create, held=lambda app: len(app.state.store.users),
    headers=logs_in("/oauth/token", lambda c: {"grant_type": "client_credentials", **c},
                    "access_token"),
    probe=("GET", "/produtos"),
    listing=("/usuarios", [{"por_pagina": 0}, {"por_pagina": 1001}, {"pagina": -1},
                           {"pagina": "x"}]),
    sim_option=("token_ttl", 5.0, lambda app: app.state.tokens.ttl),
    login="/oauth/token",
    bad_settings=[{"token_ttl": 0}, {"token_ttl": "1h"}, {"token_ttl": True},
                  {"products": "pro"}, {"products": [{"codigo": "a/b", "nome": "A"}]},
                  {"products": [{"codigo": "a"}]},
                  {"products": [{"codigo": "a", "nome": "A", "ativo": "sim"}]},
                  {"products": [{"codigo": "a", "nome": "A"}, {"codigo": "a", "nome": "B"}]},
                  {"token_ttl": 5, "error_rate": 2}],
)
