"""The Geosite provider against its simulator, in process: what the platform sees of a login, a
paged network, clients put on and taken off ports, a displacement and a feasibility search."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial
from typing import Any

import httpx
import pytest

from reconciler import errors
from reconciler.model import Action, Integration
from reconciler.platforms.geosite.provider import GeositeProvider
from reconciler.platforms.geosite.sim import create_app
from reconciler.platforms.geosite.sim_store import Client, Element
from reconciler.providers.base import Applied
from tests.contract.harness import (
    DOCUMENT,
    LAT,
    LNG,
    PROJECT_NAME,
    RecordedHarness,
    Wrap,
    drive,
    mapping_integration,
    port_change,
    wrong_shape,
)

NAME = "geo"
PROJECT = PROJECT_NAME
USER, PASSWORD = "geo-api-user", "contract-geo-password-2718"
CREDENTIALS = {"username": USER, "password": PASSWORD}
API = "/api/v1"


class Harness(RecordedHarness):
    def __init__(self, *, credentials: Mapping[str, str] = CREDENTIALS,
                 options: Mapping[str, Any] | None = None, wrap: Wrap | None = None) -> None:
        super().__init__()
        self.connect(create_app(PASSWORD, username=USER, clock=self.clock, token_ttl=600),
                     GeositeProvider, mapping_integration(NAME, "geosite", credentials, options),
                     credentials, wrap, max_attempts=3)
        self.project = self.store.project_named(PROJECT)

    def ctos(self, names: Sequence[str], *, ports: int = 8, project: str = PROJECT,
             status: str = "implantado", north: float = 0.0,
             reserved: Sequence[int] = ()) -> list[int]:
        """CTOs ``north`` metres north of the centre: their ids."""
        drafts = [Element(0, "cto", name, 0, LAT + north / 111_195.0, LNG, status, None, ports,
                          dict.fromkeys(reserved, "reservada"))
                  for name in names]
        return [e.id for e in self.store.add_elements(self.store.project_named(project), drafts)]

    def put(self, cto: int, port: int, code: str, document: str = DOCUMENT) -> None:
        self.store.put_client(cto, port, Client(code, document, f"Client {code}", None), False)

    def where(self, code: str) -> tuple[str, int] | None:
        """(CTO name, port) of a client, None when it is on no port."""
        try:
            cto, port = self.store.find_client(code)
        except Exception:
            return None
        return cto.nome, port


def run(scenario: Callable[[Harness], Awaitable[None]], **kwargs: Any) -> Harness:
    return drive(Harness(**kwargs), scenario)


def link(**attrs: Any) -> dict[str, Any]:
    return {"service": 7001, "box": "CTO-A", "splitter": None, "port": 3, "document": DOCUMENT,
            "name": "Maria Silva", **attrs}


change = partial(port_change, NAME)


# -- authentication ----------------------------------------------------------------------------


def test_login_gives_a_bearer_token_renewed_before_it_lapses_and_once_on_a_401() -> None:
    async def scenario(h: Harness) -> None:
        h.ctos(["CTO-A"])
        await h.provider.observe()
        (login,) = h.calls("POST", f"{API}/auth/login")
        assert login.body == {"usuario": USER, "senha": PASSWORD} and login.authorization is None
        tokens = {c.authorization for c in h.recorder.calls if c is not login}
        (bearer,) = tokens
        assert bearer and bearer.startswith("Bearer ")

        assert (await h.admin("POST", "/_sim/tokens/expire"))["expired"] == 1
        before = len(h.recorder.calls)
        await h.provider.observe()
        again = h.recorder.calls[before:]
        assert [(c.path, c.status) for c in again[:3]] == [
            (f"{API}/elementos", 401), (f"{API}/auth/login", 200), (f"{API}/elementos", 200)]
        assert h.store.logins == 2

        h.clock.advance(601)  # past validade: logged in before asking, no 401 on the way
        before = len(h.recorder.calls)
        await h.provider.observe()
        assert h.store.logins == 3 and h.recorder.calls[before].path == f"{API}/auth/login"
        assert 401 not in [c.status for c in h.recorder.calls[before:]]

    run(scenario)


def test_refused_credentials_are_an_auth_error_that_never_shows_the_password() -> None:
    async def scenario(h: Harness) -> None:
        with pytest.raises(errors.AuthError, match=r"credentials\.username and "
                           r"credentials\.password") as refused:
            await h.provider.observe()
        text = f"{refused.value} {refused.value!r} {refused.value.detail}"
        assert refused.value.status == 401 and "wrong-geo-password" not in text
        assert len(h.calls("POST", f"{API}/auth/login")) == 1  # a refusal is not retried
        health = await h.provider.check()
        assert not health.ok and "refused" in health.message

    run(scenario, credentials={"username": USER, "password": "wrong-geo-password"})


# -- observing ---------------------------------------------------------------------------------


def test_observe_reads_every_page_of_the_project_ctos_and_maps_their_ports() -> None:
    async def scenario(h: Harness) -> None:
        ids = h.ctos([f"CTO-{n:03d}" for n in range(230)], reserved=[8])
        h.ctos(["OUT-1", "OUT-2"], project="Outro")
        h.put(ids[0], 2, "1001")
        h.put(ids[229], 5, "ABC", document="11144477735")
        observed = await h.provider.observe()

        pages = h.calls("GET", f"{API}/elementos")
        assert sorted(c.params["pagina"] for c in pages) == ["1", "2", "3"]
        assert all(c.params["projeto"] == str(h.project.id) and c.params["tipo"] == "cto"
                   and c.params["por_pagina"] == "100" for c in pages)
        boxes = {b["name"]: b for b in observed.catalogs["elements"]}
        assert len(boxes) == 230 and "OUT-1" not in boxes
        assert boxes["CTO-000"]["splitters"] == [{
            "name": None, "id": None, "customer": True, "ports": 8, "reserved": [8],
            "occupied": {"2": "1001"}}]
        found = {r.key: r.attrs for r in observed.resources.values()}
        assert found == {
            "1001": {"service": 1001, "box": "CTO-000", "splitter": None, "port": 2,
                     "document": DOCUMENT, "name": "Client 1001"},
            "ABC": {"service": None, "box": "CTO-229", "splitter": None, "port": 5,
                    "document": "11144477735", "name": "Client ABC"}}
        assert "poles" not in observed.catalogs

    run(scenario)


def test_poles_are_synced_only_when_the_elements_option_lists_them() -> None:
    async def scenario(h: Harness) -> None:
        h.ctos(["CTO-A"])
        h.store.add_elements(h.project, [Element(0, "poste", "POSTE-1", 0, LAT, LNG,
                                                 "implantado", None)])
        observed = await h.provider.observe()
        assert [p["name"] for p in observed.catalogs["poles"]] == ["POSTE-1"]
        assert [c.params["tipo"] for c in h.calls("GET", f"{API}/elementos")] == ["cto", "poste"]

    run(scenario, options={"elements": ["boxes", "poles"]})


def test_an_unknown_project_is_a_clear_error() -> None:
    async def scenario(h: Harness) -> None:
        with pytest.raises(errors.NotFoundError, match="project 'Nenhum' does not exist on "
                           "geosite"):
            await h.provider.observe()
        (asked,) = h.calls("GET", f"{API}/projetos")
        assert asked.params["nome"] == "Nenhum"

    run(scenario, options={"project": "Nenhum"})


# -- writing -----------------------------------------------------------------------------------


def test_a_link_puts_the_client_on_its_port_and_repeating_it_writes_nothing() -> None:
    async def scenario(h: Harness) -> None:
        (cto,) = h.ctos(["CTO-A"])
        await h.provider.observe()
        assert await h.provider.execute(change(Action.LINK, after=link())) == Applied(
            remote_ids={"7001": "7001"})
        (put,) = h.calls("PUT", f"{API}/ctos/{cto}/portas/3/cliente")
        assert put.body == {"codigo": "7001", "documento": DOCUMENT, "nome": "Maria Silva",
                            "substituir": False} and put.status == 201
        assert h.where("7001") == ("CTO-A", 3)
        writes = dict(h.store.writes)
        await h.provider.execute(change(Action.LINK, after=link()))
        assert h.calls("PUT", f"{API}/ctos/{cto}/portas/3/cliente")[-1].status == 200
        assert h.store.writes == writes

    run(scenario)


def test_an_occupied_or_reserved_port_or_an_unknown_cto_is_a_clear_refusal() -> None:
    async def scenario(h: Harness) -> None:
        (cto,) = h.ctos(["CTO-A"], reserved=[4])
        h.put(cto, 2, "1001")
        await h.provider.observe()
        with pytest.raises(errors.ConflictError, match="port 2 of CTO CTO-A is held by another "
                           "client on geosite \\(geosite porta_ocupada"):
            await h.provider.execute(change(Action.LINK, after=link(port=2)))
        with pytest.raises(errors.ConflictError, match="port 4 of CTO CTO-A is reserved"):
            await h.provider.execute(change(Action.LINK, after=link(port=4)))
        with pytest.raises(errors.NotFoundError, match="CTO CTO-Z does not exist in project"):
            await h.provider.execute(change(Action.LINK, after=link(box="CTO-Z")))
        assert h.where("1001") == ("CTO-A", 2) and h.where("7001") is None

    run(scenario)


def test_a_move_takes_the_client_off_its_old_port_then_puts_it_on_the_new_one() -> None:
    async def scenario(h: Harness) -> None:
        a, b = h.ctos(["CTO-A", "CTO-B"])
        h.put(a, 3, "7001")
        await h.provider.observe()
        before = len(h.recorder.calls)
        await h.provider.execute(change(Action.UPDATE, before=link(), after=link(
            box="CTO-B", port=6)))
        writes = [(c.method, c.path, c.params) for c in h.recorder.calls[before:]]
        assert writes == [("DELETE", f"{API}/ctos/{a}/portas/3/cliente", {"codigo": "7001"}),
                          ("PUT", f"{API}/ctos/{b}/portas/6/cliente", {})]
        assert h.where("7001") == ("CTO-B", 6)
        # the name alone changed: one PUT where it is
        await h.provider.execute(change(Action.UPDATE, before=link(box="CTO-B", port=6),
                                        after=link(box="CTO-B", port=6, name="M. Silva")))
        assert h.store.get_cto(b).clientes[6].nome == "M. Silva"
        assert not h.calls("DELETE", f"{API}/ctos/{b}/portas/6/cliente")

    run(scenario)


def test_an_unlink_frees_the_port_and_repeats_as_done() -> None:
    async def scenario(h: Harness) -> None:
        (cto,) = h.ctos(["CTO-A"])
        h.put(cto, 3, "7001")
        await h.provider.observe()
        assert await h.provider.execute(change(Action.UNLINK, before=link())) == Applied()
        assert h.where("7001") is None and h.store.get_cto(cto).portas_livres == 8
        await h.provider.execute(change(Action.UNLINK, before=link()))  # gone: done
        assert [c.status for c in h.calls("DELETE", f"{API}/ctos/{cto}/portas/3/cliente")] == [
            200, 200]

    run(scenario)


def test_a_swap_displaces_with_substituir_and_the_displaced_move_finds_its_port_taken() -> None:
    async def scenario(h: Harness) -> None:
        (cto,) = h.ctos(["CTO-A"])
        h.put(cto, 1, "7001")
        h.put(cto, 2, "7002", document="11144477735")
        await h.provider.observe()
        # as the planner breaks the ring: 7001 takes port 2 displacing 7002, then 7002 moves
        await h.provider.execute(change(Action.UPDATE, before=link(port=1), after=link(
            port=2, displace="7002")))
        (put,) = h.calls("PUT", f"{API}/ctos/{cto}/portas/2/cliente")
        assert put.body["substituir"] is True and put.status == 201
        assert h.where("7001") == ("CTO-A", 2) and h.where("7002") is None
        second = link(service=7002, document="11144477735", name="Client 7002")
        await h.provider.execute(change(Action.UPDATE, "7002", before={**second, "port": 2},
                                        after={**second, "port": 1}))
        # its old port now holds 7001: taking it off from there is done, nothing removed
        taken = h.calls("DELETE", f"{API}/ctos/{cto}/portas/2/cliente")
        assert [(c.params, c.status) for c in taken] == [({"codigo": "7002"}, 409)]
        assert h.where("7001") == ("CTO-A", 2) and h.where("7002") == ("CTO-A", 1)

    run(scenario)


def test_a_move_from_a_cto_that_is_gone_only_puts_the_client_on_its_new_port() -> None:
    async def scenario(h: Harness) -> None:
        (cto,) = h.ctos(["CTO-B"])
        await h.provider.observe()
        await h.provider.execute(change(Action.UPDATE, before=link(box="CTO-GONE", port=1),
                                        after=link(box="CTO-B", port=2)))
        assert h.where("7001") == ("CTO-B", 2)
        assert not [c for c in h.recorder.calls if c.method == "DELETE"]
        assert h.calls("PUT", f"{API}/ctos/{cto}/portas/2/cliente")[0].status == 201

    run(scenario)


# -- feasibility -------------------------------------------------------------------------------


def test_feasibility_lists_implanted_ctos_with_a_free_port_by_distance() -> None:
    async def scenario(h: Harness) -> None:
        (full,) = h.ctos(["CTO-FULL"], ports=2, north=10)
        h.put(full, 1, "1")
        h.put(full, 2, "2")
        h.ctos(["CTO-FAR"], north=150)
        h.ctos(["CTO-NEAR"], north=30, reserved=[1, 2])
        h.ctos(["CTO-DESIGN"], north=5, status="em_projeto")
        h.ctos(["CTO-OUT"], north=900)
        h.ctos(["CTO-OTHER"], project="Outro", north=1)
        found = await h.provider.feasibility(LAT, LNG, 200)
        (call,) = h.calls("GET", f"{API}/viabilidade")
        assert call.params == {"latitude": str(LAT), "longitude": str(LNG),
                               "projeto": str(h.project.id), "limite": "1000", "raio": "200"}
        assert found.viable and found.radius_m == 200
        assert [(c.box, c.free_ports, c.viable) for c in found.candidates] == [
            ("CTO-NEAR", 6, True), ("CTO-FAR", 8, True)]
        assert found.candidates[0].distance_m == pytest.approx(30, abs=0.5)
        default = await h.provider.feasibility(LAT, LNG, None)
        assert default.radius_m == 300 and "raio" not in h.calls(
            "GET", f"{API}/viabilidade")[1].params

    run(scenario)


# -- answers of the wrong shape ----------------------------------------------------------------


@pytest.mark.parametrize(("path", "body", "call"), [
    ("/auth/login", {"tipo": "Bearer"}, "POST /api/v1/auth/login: unexpected"),
    ("/projetos", {"itens": "x", "paginas": 1}, "GET /projetos: unexpected"),
    ("/elementos", {"itens": [{"id": 1, "nome": "CTO-1"}], "paginas": 1},
     "GET /elementos: unexpected"),
], ids=["login", "projects", "elements"])
def test_an_answer_of_the_wrong_shape_is_a_provider_error_naming_the_call(
        path: str, body: Any, call: str) -> None:
    def platform(request: httpx.Request) -> httpx.Response:
        if request.url.path == API + path:
            return httpx.Response(200, json=body)
        if request.url.path.endswith("/auth/login"):
            return httpx.Response(200, json={"token": "t-1", "validade": 600})
        return httpx.Response(200, json={"itens": [{"id": 1, "nome": PROJECT}], "paginas": 1})

    integration = Integration(NAME, "geosite", "https://isp.geosite.example", {},
                              {"project": PROJECT})
    wrong_shape(GeositeProvider(integration, CREDENTIALS, httpx.MockTransport(platform)), call)
