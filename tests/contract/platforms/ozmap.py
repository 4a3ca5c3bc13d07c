"""OZmap for the conformance suite: clients on the customer splitter ports of a project, logged in
with a user and password (``users/login?type=API``) for a token sent raw in Authorization. The
API-key way is in tests/contract/test_ozmap_provider.py."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from starlette.applications import Starlette

from reconciler.model import Action, Change
from reconciler.platforms.ozmap.sim import create_app
from reconciler.sim.clock import FakeClock
from reconciler.sim.faults import Faults
from tests.contract.platforms import Adapter

PROJECT = "Conformidade"
API_KEY = "conformance-ozmap-key-5678"
CREDENTIALS = {"username": "conformance-user", "password": "conformance-password-9876"}
FIRST = "BOX-CREATE"
LOGIN = "/api/v2/users/login"


def app(clock: FakeClock, faults: Faults | None) -> Starlette:
    made = create_app(API_KEY, username=CREDENTIALS["username"],
                      password=CREDENTIALS["password"], clock=clock, faults=faults)
    store = made.state.store
    store.seed({"projects": [{"name": PROJECT}]})
    _box(made, FIRST)
    store.writes = {}
    return made


def _box(app: Starlette, name: str) -> str:
    """A box of the project with one 1x8 customer splitter: the splitter's id."""
    store = app.state.store
    project = next(p for p in store.tables["projects"].values() if p["name"] == PROJECT)
    box = store.create("boxes", {"name": name, "project": project["id"], "implanted": True,
                                 "coords": [-48.54, -27.59]})
    return str(store.create("splitters", {"parent": box["id"], "name": "S1", "isDrop": True,
                                          "ratio": {"input": 1, "output": 8}})["id"])


def seed(app: Starlette, count: int) -> set[str]:
    """``count`` clients, each on port 1 of a box of its own (its property made with it)."""
    store, keys = app.state.store, set()
    for n in range(count):
        splitter = _box(app, f"BOX-{n:03d}")
        code = str(8000 + n)
        store.create("properties", {"connector": splitter, "port": 1, "client": {
            "code": code, "name": f"Client {n}", "observation": "CPF/CNPJ 52998224725"}})
        keys.add(code)
    return keys


def create(integration: str) -> Change:
    after = {"service": 7001, "box": FIRST, "splitter": "S1", "port": 3,
             "document": "52998224725", "name": "Maria Silva"}
    return Change(integration, "port_link", Action.LINK, ("7001",), None, after,
                  reason="conformance")


async def headers(api: httpx.AsyncClient, credentials: Mapping[str, str]) -> dict[str, str]:
    response = await api.post(LOGIN, params={"type": "API"}, json={
        "login": credentials.get("username"), "password": credentials.get("password")})
    token = response.json().get("authorization") if response.status_code == 200 else None
    return {"Authorization": token} if token else {}


ADAPTER = Adapter(
    credentials=CREDENTIALS,
    wrong=[{**CREDENTIALS, name: f"wrong-{name}-value"} for name in CREDENTIALS],
    app=app, seed=seed, create=create,
    held=lambda app: sum(1 for p in app.state.store.tables["properties"].values()
                         if p.get("client")),
    headers=headers,
    probe=("GET", "/api/v2/boxes"),
    listing=("/api/v2/properties", [{"page": 0}, {"page": "x"}, {"limit": 0},
                                    {"limit": "x"}]),
    sim_option=("token_ttl", 5.0, lambda app: app.state.tokens.ttl),
    login=LOGIN,
    bad_settings=[{"token_ttl": 0}, {"viability_radius": -1}, {"token_ttl": 5, "error_rate": 2}],
    code=lambda r: str(r.json().get("code", "")),
    options={"project": PROJECT},
    writes_per_object=5,
    invalid_code="VALIDATION_ERROR",
    refused=(400, "INVALID_QUERY"),  # its box, splitter, property, client and port
)
