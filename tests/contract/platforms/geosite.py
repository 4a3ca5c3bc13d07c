"""Geosite for the conformance suite: clients on the ports of a project's CTOs, a user and
password login for an expiring bearer token."""

from __future__ import annotations

from starlette.applications import Starlette

from reconciler.model import Action, Change
from reconciler.platforms.geosite.sim import create_app
from reconciler.platforms.geosite.sim_store import Client, Element
from reconciler.sim.clock import FakeClock
from reconciler.sim.faults import Faults
from tests.contract.platforms import Adapter, logs_in

PROJECT = "Conformidade"
CREDENTIALS = {"username": "conformance-user", "password": "conformance-password-9876"}
FIRST = "CTO-CREATE"


def app(clock: FakeClock, faults: Faults | None) -> Starlette:
    made = create_app(CREDENTIALS["password"], username=CREDENTIALS["username"], clock=clock,
                      faults=faults)
    _ctos(made, [FIRST])  # where the create change puts its client
    return made


def _ctos(app: Starlette, names: list[str]) -> list[Element]:
    store = app.state.store
    project = store.project_named(PROJECT)
    drafts = [Element(0, "cto", name, project.id, -27.59, -48.54, "implantado", None, 8)
              for name in names]
    return list(store.add_elements(project, drafts))


def seed(app: Starlette, count: int) -> set[str]:
    """``count`` clients, each on port 1 of a CTO of its own."""
    keys = set()
    for n, cto in enumerate(_ctos(app, [f"CTO-{n:03d}" for n in range(count)])):
        code = str(8000 + n)
        app.state.store.put_client(cto.id, 1, Client(code, "52998224725", f"Client {n}", None),
                                   False)
        keys.add(code)
    return keys


def create(integration: str) -> Change:
    after = {"service": 7001, "box": FIRST, "splitter": None, "port": 3,
             "document": "52998224725", "name": "Maria Silva", "box_id": 1, "splitter_id": None}
    return Change(integration, "port_link", Action.LINK, ("7001",), None, after,
                  reason="conformance")


ADAPTER = Adapter(
    credentials=CREDENTIALS,
    wrong=[{**CREDENTIALS, name: f"wrong-{name}-value"} for name in CREDENTIALS],
    app=app, seed=seed, create=create,
    held=lambda app: len(app.state.store.client_listing(None, None)),
    headers=logs_in("/api/v1/auth/login", lambda c: {"usuario": c["username"],
                                                     "senha": c["password"]}, "token"),
    probe=("GET", "/api/v1/projetos"),
    listing=("/api/v1/elementos", [{"pagina": 0}, {"pagina": "x"}, {"por_pagina": 0},
                                   {"por_pagina": 1001}, {"projeto": "x"}]),
    sim_option=("token_ttl", 5.0, lambda app: app.state.tokens.ttl),
    login="/api/v1/auth/login",
    bad_settings=[{"token_ttl": 0}, {"default_radius": -1}, {"token_ttl": 5, "error_rate": 2}],
    options={"project": PROJECT, "elements": ["boxes"]},
)
