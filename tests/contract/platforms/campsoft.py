"""Campsoft for the conformance suite: subscriptions, an ApiKey/ApiSecret login for a token."""

from __future__ import annotations

from starlette.applications import Starlette

from reconciler.model import Action, Change
from reconciler.platforms.campsoft.sim import create_app
from reconciler.platforms.campsoft.sim_store import Customer
from reconciler.sim.clock import FakeClock
from reconciler.sim.faults import Faults
from tests.contract.platforms import Adapter, logs_in

KEY = "conformance-api-key-5678"
SECRET = "conformance-api-secret-1234"
AFTER = {"contract": "7001", "label": "livros-7001", "product": "1234567", "status": "active",
         "name": "Maria Silva", "document": "529.982.247-25", "email": "maria@example.com",
         "phone": "11987654321", "login": "maria.pppoe", "password_from": "cpf_cnpj"}


def app(clock: FakeClock, faults: Faults | None) -> Starlette:
    return create_app(SECRET, api_key=KEY, clock=clock, faults=faults)


def seed(app: Starlette, count: int) -> set[str]:
    keys = set()
    for n in range(8001, 8001 + count):
        customer = Customer(f"Cliente {n}", "52998224725", f"c{n}@example.com", "11987654321")
        keys.add(app.state.store.subscribe("isp-sim", str(n), f"livros-{n}", "1234567",
                                           customer).key)
    return keys


def create(integration: str) -> Change:
    return Change(integration, "subscription", Action.CREATE, ("7001/livros-7001",), None, AFTER,
                  reason="conformance")


ADAPTER = Adapter(
    credentials={"api_key": KEY, "api_secret": SECRET},
    wrong=[{"api_key": KEY, "api_secret": "wrong-secret-value"},
           {"api_key": "wrong-key-value", "api_secret": SECRET}],
    probe=("GET", "/isps"),
    headers=logs_in("/authentication",
                    lambda c: {"ApiKey": c["api_key"], "ApiSecret": c["api_secret"]},
                    "AccessToken"),
    app=app, seed=seed, create=create, held=lambda app: len(app.state.store.subscriptions),
    listing=("/subscriptions", [{"page": 0}, {"page": "x"}, {"per_page": 0},
                                {"per_page": 1001}, {"status": "ativo"}]),
    sim_option=("token_ttl", 5.0, lambda app: app.state.tokens.ttl),
    login="/authentication",
    bad_settings=[{"token_ttl": 0}, {"token_ttl": "1h"}, {"token_ttl": True}, {"products": []},
                  {"products": [{"code": "abc", "name": "x", "status": "active"}]},
                  {"products": [{"code": "1", "name": "x", "status": "ativo"}]},
                  {"products": [{"code": "1", "name": "x", "status": "active"}] * 2},
                  {"isps": [{"isp_identifier": "a"}]}, {"isps": "a"},
                  {"token_ttl": 5, "seed": 1.5}, {"error_rate": 0.5, "token_ttl": -1}],
    code=lambda response: str(response.json().get("message", "")),
)
