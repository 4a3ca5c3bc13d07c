"""The Geosite simulator through its wire API, in process (httpx over ASGI)."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from reconciler.errors import SecretError
from reconciler.platforms.geosite.sim import create_app, embedded_app
from reconciler.platforms.geosite.sim_store import METRES_PER_DEGREE, Store, distance
from reconciler.sim.clock import FakeClock
from reconciler.sim.faults import Faults
from tests.unit.sim_helpers import ok

PASSWORD = "unit-senha"
LOGIN = {"usuario": "hubsoft", "senha": PASSWORD}
CREDENTIALS = {"username": "hubsoft", "password": PASSWORD}
PORT = "/api/v1/ctos/{cto}/portas/{porta}/cliente"
PUT_ROUTE = "PUT /api/v1/ctos/{cto_id:int}/portas/{porta:int}/cliente"
ANA = {"codigo": "1001", "documento": "12345678909", "nome": "Ana Souza"}
BETO = {"codigo": "1002", "documento": "11222333000181", "nome": "Beto Ltda",
        "observacao": "Plano 500M"}
LAT, LON = -27.5954, -48.5480
Scenario = Callable[[httpx.AsyncClient], Awaitable[None]]


def make(**kwargs: Any) -> tuple[Starlette, FakeClock]:
    clock = FakeClock()
    return create_app(PASSWORD, username="hubsoft", clock=clock, **kwargs), clock


def client(app: Starlette, token: str | None = None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim",
                             headers=headers)


async def login(app: Starlette) -> str:
    async with client(app) as anonymous:
        response = await anonymous.post("/api/v1/auth/login", json=LOGIN)
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


def run(app: Starlette, scenario: Scenario) -> None:
    async def main() -> None:
        async with client(app, await login(app)) as api:
            await scenario(api)

    asyncio.run(main())


async def refused(response: Awaitable[httpx.Response], status: int, erro: str) -> dict[str, Any]:
    done = await response
    assert (done.status_code, done.json()["erro"]) == (status, erro), done.text
    body: dict[str, Any] = done.json()
    return body


def north(metres: float) -> float:
    """The latitude ``metres`` north of LAT."""
    return LAT + metres / METRES_PER_DEGREE


async def cto(api: httpx.AsyncClient, nome: str, **fields: Any) -> dict[str, Any]:
    body = {"projeto": "Rede Centro", "nome": nome, "latitude": LAT, "longitude": LON, **fields}
    created: dict[str, Any] = await ok(api.post("/_sim/elementos", json=body), 201)
    return created


async def put(api: httpx.AsyncClient, cto_id: int, porta: int, body: dict[str, Any],
              status: int = 201) -> Any:
    return await ok(api.put(PORT.format(cto=cto_id, porta=porta), json=body), status)


async def writes(api: httpx.AsyncClient) -> dict[str, Any]:
    return (await api.get("/_sim/counters")).json()["writes"]


# -- auth --------------------------------------------------------------------------------------


def test_login_issues_an_expiring_bearer_token_and_refuses_bad_credentials() -> None:
    app, _ = make(token_ttl=120)

    async def main() -> None:
        async with client(app) as anonymous:
            answer = await ok(anonymous.post("/api/v1/auth/login", json=LOGIN))
            assert (answer["tipo"], answer["validade"]) == ("Bearer", 120)
            assert answer["expira_em"] == "2023-11-14T22:15:20+00:00"  # the clock + 120 s
            for name in LOGIN:
                await refused(anonymous.post("/api/v1/auth/login", json={**LOGIN, name: "x"}),
                              401, "credenciais_invalidas")
            await refused(anonymous.post("/api/v1/auth/login", json={"usuario": "hubsoft"}),
                          422, "dados_invalidos")
            bare = await anonymous.get("/api/v1/projetos")
            assert (bare.status_code, bare.headers["www-authenticate"]) == (401, "Bearer")
            assert bare.json()["erro"] == "token_invalido"

    asyncio.run(main())


def test_an_expired_token_is_refused_and_logging_in_again_works() -> None:
    app, clock = make(token_ttl=60)

    async def main() -> None:
        first = await login(app)
        async with client(app, first) as api:
            await ok(api.get("/api/v1/projetos"))
            clock.advance(61)
            await refused(api.get("/api/v1/projetos"), 401, "token_invalido")
        second = await login(app)
        async with client(app, second) as api:
            await ok(api.get("/api/v1/projetos"))
            assert (await api.post("/_sim/tokens/expire")).json() == {"expired": 1}
            await refused(api.get("/api/v1/projetos"), 401, "token_invalido")
            assert (await api.get("/_sim/counters")).json()["logins"] == 2

    asyncio.run(main())


# -- projects and elements ---------------------------------------------------------------------


def test_projects_are_found_by_exact_name() -> None:
    app, _ = make()

    async def scenario(api: httpx.AsyncClient) -> None:
        for nome in ("Rede Centro", "Rede Norte"):
            await ok(api.post("/_sim/seed", json={"projeto": nome}), 201)
        listing = await ok(api.get("/api/v1/projetos"))
        assert [p["nome"] for p in listing["itens"]] == ["Rede Centro", "Rede Norte"]
        found = await ok(api.get("/api/v1/projetos", params={"nome": "Rede Norte"}))
        assert found["itens"] == [{"id": 2, "nome": "Rede Norte"}] and found["total"] == 1
        assert (await ok(api.get("/api/v1/projetos", params={"nome": "rede norte"})))[
            "total"] == 0
        assert (await ok(api.get("/api/v1/projetos/2")))["nome"] == "Rede Norte"
        await refused(api.get("/api/v1/projetos/9"), 404, "projeto_inexistente")

    run(app, scenario)


def test_elements_are_paginated_and_filtered_by_project_and_kind() -> None:
    app, _ = make()

    async def scenario(api: httpx.AsyncClient) -> None:
        await ok(api.post("/_sim/seed", json={"projeto": "A", "ctos": 250, "ceos": 5,
                                              "postes": 3}), 201)
        await ok(api.post("/_sim/seed", json={"projeto": "B", "ctos": 10}), 201)
        seen: list[int] = []
        for page in (1, 2, 3):
            answer = await ok(api.get("/api/v1/elementos", params={
                "projeto": 1, "tipo": "cto", "pagina": page}))
            assert (answer["total"], answer["paginas"], answer["por_pagina"]) == (250, 3, 100)
            assert {e["tipo"] for e in answer["itens"]} == {"cto"}
            seen += [e["id"] for e in answer["itens"]]
        assert seen == list(range(1, 251))  # every CTO once, by id
        past = await ok(api.get("/api/v1/elementos", params={"projeto": 1, "pagina": 4}))
        assert past["itens"] == [] and past["total"] == 258
        poles = await ok(api.get("/api/v1/elementos", params={"tipo": "poste"}))
        assert [e["nome"] for e in poles["itens"]] == ["POSTE-0001", "POSTE-0002", "POSTE-0003"]
        assert "portas" not in poles["itens"][0]
        other = await ok(api.get("/api/v1/elementos", params={"projeto": 2, "por_pagina": 4}))
        assert (other["total"], other["paginas"], len(other["itens"])) == (10, 3, 4)
        assert {e["projeto"] for e in other["itens"]} == {2}
        assert (await ok(api.get("/api/v1/elementos")))["total"] == 268
        await refused(api.get("/api/v1/elementos", params={"projeto": 3}), 404,
                      "projeto_inexistente")
        await refused(api.get("/api/v1/elementos", params={"tipo": "splitter"}), 422,
                      "parametro_invalido")
        await refused(api.get("/api/v1/elementos", params={"por_pagina": 1001}), 422,
                      "parametro_invalido")
        await refused(api.get("/api/v1/elementos", params={"projeto": "x"}), 422,
                      "parametro_invalido")

    run(app, scenario)


def test_a_cto_shows_its_ports_and_free_port_count() -> None:
    app, _ = make()

    async def scenario(api: httpx.AsyncClient) -> None:
        box = await cto(api, "CTO-01", reservadas=[2, {"numero": 5, "observacao": "Manutenção"}])
        assert (box["total_portas"], box["portas_livres"], box["status"]) == (16, 14,
                                                                              "implantado")
        await put(api, box["id"], 1, ANA)
        shown = await ok(api.get(f"/api/v1/ctos/{box['id']}"))
        assert shown["portas_livres"] == 13 and len(shown["portas"]) == 16
        assert shown["portas"][0] == {"numero": 1, "reservada": False, "observacao": None,
                                      "cliente": {**ANA, "observacao": None}}
        assert shown["portas"][4] == {"numero": 5, "reservada": True,
                                      "observacao": "Manutenção", "cliente": None}
        assert shown["portas"][1]["reservada"] and shown["portas"][2]["cliente"] is None
        assert (await ok(api.get(f"/api/v1/elementos/{box['id']}"))) == shown
        ceo = await ok(api.post("/_sim/elementos", json={
            "projeto": "Rede Centro", "tipo": "ceo", "nome": "CEO-01", "latitude": LAT,
            "longitude": LON}), 201)
        assert "portas" not in ceo and ceo["tipo"] == "ceo"
        await refused(api.get(f"/api/v1/ctos/{ceo['id']}"), 404, "cto_inexistente")
        await refused(api.get("/api/v1/elementos/99"), 404, "elemento_inexistente")
        eight = await cto(api, "CTO-02", portas=8, status="em_projeto")
        assert (eight["total_portas"], eight["portas_livres"], eight["status"]) == (
            8, 8, "em_projeto")
        await refused(api.post("/_sim/elementos", json={
            "projeto": "Rede Centro", "nome": "CTO-01", "latitude": LAT, "longitude": LON}),
            409, "elemento_existente")

    run(app, scenario)


# -- clients on ports --------------------------------------------------------------------------


def test_upsert_places_then_updates_and_repeating_it_writes_nothing() -> None:
    app, _ = make()

    async def scenario(api: httpx.AsyncClient) -> None:
        box = (await cto(api, "CTO-01"))["id"]
        placed = await put(api, box, 3, ANA)
        assert placed["cto"] == box and placed["substituido"] is None
        assert placed["porta"]["cliente"]["codigo"] == "1001"
        await put(api, box, 3, ANA, 200)  # the same again: nothing changes
        assert await writes(api) == {f"cto/{box}/3": {"create": 1}}
        changed = await put(api, box, 3, {**ANA, "nome": "Ana S. Lima", "observacao": "ONU 1"},
                            200)
        assert changed["porta"]["cliente"]["nome"] == "Ana S. Lima"
        assert await writes(api) == {f"cto/{box}/3": {"create": 1, "update": 1}}
        found = await ok(api.get("/api/v1/clientes/1001"))
        assert (found["cto"], found["cto_nome"], found["porta"], found["observacao"]) == (
            box, "CTO-01", 3, "ONU 1")
        counters = (await api.get("/_sim/counters")).json()
        assert counters["requests"][PUT_ROUTE] == 3

    run(app, scenario)


@pytest.mark.parametrize(("overrides", "erro"), [
    ({"documento": "123.456.789-09"}, "documento_invalido"),
    ({"documento": "1234567890"}, "documento_invalido"),
    ({"nome": "  "}, "dados_invalidos"),
    ({"codigo": None}, "dados_invalidos"),
    ({"codigo": 1001}, "dados_invalidos"),
    ({"codigo": "x" * 65}, "dados_invalidos"),
    ({"substituir": "sim"}, "dados_invalidos"),
])
def test_upsert_validates_the_client(overrides: dict[str, Any], erro: str) -> None:
    app, _ = make()

    async def scenario(api: httpx.AsyncClient) -> None:
        box = (await cto(api, "CTO-01"))["id"]
        await refused(api.put(PORT.format(cto=box, porta=1), json={**ANA, **overrides}), 422,
                      erro)
        assert await writes(api) == {}

    run(app, scenario)


def test_unknown_cto_or_port_is_not_found_before_the_body_is_read() -> None:
    app, _ = make()

    async def scenario(api: httpx.AsyncClient) -> None:
        box = (await cto(api, "CTO-01", portas=8))["id"]
        for porta in (0, 9):
            await refused(api.put(PORT.format(cto=box, porta=porta), json={}), 404,
                          "porta_inexistente")
            await refused(api.delete(PORT.format(cto=box, porta=porta)), 404,
                          "porta_inexistente")
        await refused(api.put(PORT.format(cto=box + 1, porta=1), json=ANA), 404,
                      "cto_inexistente")

    run(app, scenario)


def test_an_occupied_port_refuses_another_client_unless_told_to_replace() -> None:
    app, _ = make()

    async def scenario(api: httpx.AsyncClient) -> None:
        box = (await cto(api, "CTO-01"))["id"]
        await put(api, box, 1, ANA)
        conflict = await refused(api.put(PORT.format(cto=box, porta=1), json=BETO), 409,
                                 "porta_ocupada")
        assert conflict["cliente"]["codigo"] == "1001" and "1001" in conflict["mensagem"]
        await refused(api.get("/api/v1/clientes/1002"), 404, "cliente_inexistente")
        replaced = await put(api, box, 1, {**BETO, "substituir": True})
        assert replaced["substituido"] == {**ANA, "observacao": None}
        assert replaced["porta"]["cliente"]["codigo"] == "1002"
        await refused(api.get("/api/v1/clientes/1001"), 404, "cliente_inexistente")
        await put(api, box, 2, ANA)  # the replaced client may go elsewhere now
        assert await writes(api) == {f"cto/{box}/1": {"create": 1, "replace": 1},
                                     f"cto/{box}/2": {"create": 1}}
        assert (await ok(api.get(f"/api/v1/ctos/{box}")))["portas_livres"] == 14

    run(app, scenario)


def test_a_client_is_on_one_port_at_most() -> None:
    app, _ = make()

    async def scenario(api: httpx.AsyncClient) -> None:
        first, second = (await cto(api, "CTO-01"))["id"], (await cto(api, "CTO-02"))["id"]
        await put(api, first, 4, ANA)
        moved = await refused(api.put(PORT.format(cto=second, porta=1),
                                      json={**ANA, "substituir": True}),
                              409, "cliente_em_outra_porta")
        assert (moved["cto"], moved["porta"]) == (first, 4)
        await ok(api.delete(PORT.format(cto=first, porta=4)))
        await put(api, second, 1, ANA)  # removed first, then placed: a migration
        assert (await ok(api.get("/api/v1/clientes/1001")))["cto"] == second

    run(app, scenario)


def test_a_reserved_port_refuses_every_client() -> None:
    app, _ = make()

    async def scenario(api: httpx.AsyncClient) -> None:
        box = (await cto(api, "CTO-01", reservadas=[{"numero": 7, "observacao": "Cliente "
                                                     "corporativo"}]))["id"]
        for body in (ANA, {**ANA, "substituir": True}):
            refusal = await refused(api.put(PORT.format(cto=box, porta=7), json=body), 409,
                                    "porta_reservada")
            assert "Cliente corporativo" in refusal["mensagem"]
        assert await writes(api) == {}
        assert (await ok(api.get(f"/api/v1/ctos/{box}")))["portas_livres"] == 15

    run(app, scenario)


def test_removal_frees_the_port_is_harmless_to_repeat_and_can_be_guarded() -> None:
    app, _ = make()

    async def scenario(api: httpx.AsyncClient) -> None:
        box = (await cto(api, "CTO-01"))["id"]
        await put(api, box, 1, ANA)
        await put(api, box, 2, BETO)
        guarded = await refused(api.delete(PORT.format(cto=box, porta=2),
                                           params={"codigo": "1001"}), 409, "porta_ocupada")
        assert guarded["cliente"]["codigo"] == "1002"
        removed = await ok(api.delete(PORT.format(cto=box, porta=2), params={"codigo": "1002"}))
        assert removed["removido"]["codigo"] == "1002" and removed["porta"]["cliente"] is None
        again = await ok(api.delete(PORT.format(cto=box, porta=2)))
        assert again["removido"] is None
        assert (await ok(api.delete(PORT.format(cto=box, porta=1))))["removido"]["nome"] == (
            "Ana Souza")
        assert (await ok(api.get(f"/api/v1/ctos/{box}")))["portas_livres"] == 16
        assert (await writes(api))[f"cto/{box}/2"] == {"create": 1, "delete": 1}
        assert (await ok(api.get("/api/v1/clientes")))["total"] == 0

    run(app, scenario)


def test_clients_are_listed_by_cto_and_port_paginated_and_filtered() -> None:
    app, _ = make()

    async def scenario(api: httpx.AsyncClient) -> None:
        await ok(api.post("/_sim/seed", json={"projeto": "A", "ctos": 20, "reservadas": 0}), 201)
        await ok(api.post("/_sim/seed", json={"projeto": "B", "ctos": 2, "reservadas": 0}), 201)
        for n in range(150):  # backwards, so that the listing order is the platform's own
            box, porta = 20 - n // 8, 8 - n % 8
            await put(api, box, porta, {"codigo": f"c{n}", "documento": f"{n:011d}",
                                        "nome": f"Cliente {n}"})
        await put(api, 21, 16, {**ANA, "documento": "00000000007"})
        pages = [await ok(api.get("/api/v1/clientes", params={"projeto": 1, "pagina": page}))
                 for page in (1, 2)]
        listed = [(c["cto"], c["porta"]) for page in pages for c in page["itens"]]
        assert (pages[0]["total"], pages[0]["paginas"], len(pages[1]["itens"])) == (150, 2, 50)
        assert listed == sorted(listed) and len(set(listed)) == 150
        assert {c["projeto"] for page in pages for c in page["itens"]} == {1}
        everything = await ok(api.get("/api/v1/clientes", params={"por_pagina": 1000}))
        assert everything["total"] == 151 and everything["itens"][-1]["codigo"] == "1001"
        same_document = await ok(api.get("/api/v1/clientes",
                                         params={"documento": "00000000007"}))
        assert [c["codigo"] for c in same_document["itens"]] == ["c7", "1001"]
        box, porta = 20 - 7 // 8, 8 - 7 % 8
        await put(api, box, porta, {"codigo": "c7", "documento": "00000000008",
                                    "nome": "Cliente 7"}, 200)  # a corrected document
        same_document = await ok(api.get("/api/v1/clientes",
                                         params={"documento": "00000000007"}))
        assert [c["codigo"] for c in same_document["itens"]] == ["1001"]
        await refused(api.get("/api/v1/clientes", params={"projeto": 9}), 404,
                      "projeto_inexistente")

    run(app, scenario)


# -- feasibility -------------------------------------------------------------------------------


def test_feasibility_lists_implanted_ctos_with_free_ports_nearest_first() -> None:
    app, _ = make()

    async def scenario(api: httpx.AsyncClient) -> None:
        far = await cto(api, "CTO-FAR", latitude=north(250))
        near = await cto(api, "CTO-NEAR", latitude=north(40))
        await cto(api, "CTO-DESIGN", latitude=north(10), status="em_projeto")
        full = await cto(api, "CTO-FULL", latitude=north(20), portas=2, reservadas=[1])
        await put(api, full["id"], 2, ANA)
        tie = await cto(api, "CTO-TIE", latitude=north(250))
        await cto(api, "CTO-OUT", latitude=north(400))
        await ok(api.post("/_sim/elementos", json={"projeto": "Outra", "nome": "CTO-OTHER",
                                                   "latitude": north(30), "longitude": LON}),
                 201)
        answer = await ok(api.get("/api/v1/viabilidade", params={
            "latitude": LAT, "longitude": LON, "raio": 300, "projeto": 1}))
        assert [c["nome"] for c in answer["ctos"]] == ["CTO-NEAR", "CTO-FAR", "CTO-TIE"]
        assert answer["viavel"] is True and answer["raio"] == 300
        first = answer["ctos"][0]
        assert first["id"] == near["id"] and abs(first["distancia"] - 40) < 0.2
        assert (first["portas_livres"], first["total_portas"]) == (16, 16)
        assert answer["ctos"][1]["id"] == far["id"] < tie["id"]  # a tie goes by id
        everywhere = await ok(api.get("/api/v1/viabilidade", params={
            "latitude": LAT, "longitude": LON, "raio": 300, "limite": 2}))
        assert [c["nome"] for c in everywhere["ctos"]] == ["CTO-OTHER", "CTO-NEAR"]
        await ok(api.delete(PORT.format(cto=full["id"], porta=2)))  # a port frees up
        freed = await ok(api.get("/api/v1/viabilidade", params={
            "latitude": LAT, "longitude": LON, "raio": 30, "projeto": 1}))
        assert [c["nome"] for c in freed["ctos"]] == ["CTO-FULL"]
        assert freed["ctos"][0]["portas_livres"] == 1

    run(app, scenario)


def test_feasibility_radius_defaults_to_the_setting_and_is_checked() -> None:
    app, _ = make(default_radius=100)

    async def scenario(api: httpx.AsyncClient) -> None:
        await cto(api, "CTO-150", latitude=north(150))
        point = {"latitude": LAT, "longitude": LON}
        nothing = await ok(api.get("/api/v1/viabilidade", params=point))
        assert (nothing["viavel"], nothing["ctos"], nothing["raio"]) == (False, [], 100)
        await ok(api.post("/_sim/config", json={"default_radius": 200}))
        assert len((await ok(api.get("/api/v1/viabilidade", params=point)))["ctos"]) == 1
        for bad in ({"longitude": LON}, {**point, "latitude": "91"}, {**point, "raio": "0"},
                    {**point, "raio": "20000"}, {**point, "longitude": "abc"},
                    {**point, "limite": "0"}):
            await refused(api.get("/api/v1/viabilidade", params=bad), 422, "parametro_invalido")
        await refused(api.post("/_sim/config", json={"default_radius": 0}), 422,
                      "dados_invalidos")

    run(app, scenario)


def test_distance_is_the_great_circle_in_metres() -> None:
    assert distance(LAT, LON, LAT, LON) == 0
    assert abs(distance(LAT, LON, north(1000), LON) - 1000) < 0.01
    # Florianópolis to São Paulo is about 490 km as the crow flies
    assert 480_000 < distance(LAT, LON, -23.5505, -46.6333) < 500_000
    assert math.isclose(distance(0, 0, 0, 180), math.pi * 6_371_008.8)


# -- seeding -----------------------------------------------------------------------------------


def test_seed_is_deterministic_and_counts_what_it_drew() -> None:
    def seeded(seed: int) -> tuple[dict[str, Any], dict[str, Any]]:
        app, _ = make()
        result: dict[str, Any] = {}

        async def scenario(api: httpx.AsyncClient) -> None:
            result.update(await ok(api.post("/_sim/seed", json={
                "projeto": "Rede", "ctos": 400, "em_projeto": 0.25, "reservadas": 0.1,
                "seed": seed, "raio": 500}), 201))

        run(app, scenario)
        return result, app.state.store.to_json()

    (first, data), (again, same), (_, other) = seeded(1), seeded(1), seeded(2)
    assert again == first
    assert data == same and data != other
    assert (first["ctos"], first["portas"], first["ids"]) == (400, 6400, [1, 400])
    assert 60 < first["ctos_em_projeto"] < 140 and 400 < first["portas_reservadas"] < 900
    elements = data["elements"]
    assert sum(e["status"] == "em_projeto" for e in elements) == first["ctos_em_projeto"]
    assert sum(len(e["reservadas"]) for e in elements) == first["portas_reservadas"]
    assert all(distance(-27.5954, -48.548, e["latitude"], e["longitude"]) <= 501
               for e in elements)
    assert elements[0]["nome"] == "CTO-0001" and elements[-1]["nome"] == "CTO-0400"


def test_seed_refuses_bad_values_and_names_already_taken() -> None:
    app, _ = make()

    async def scenario(api: httpx.AsyncClient) -> None:
        await ok(api.post("/_sim/seed", json={"projeto": "Rede", "ctos": 3}), 201)
        taken = await refused(api.post("/_sim/seed", json={"projeto": "Rede", "ctos": 5}), 409,
                              "elemento_existente")
        assert taken["nome"] == "CTO-0001"
        assert (await ok(api.get("/api/v1/elementos")))["total"] == 3  # nothing added
        more = await ok(api.post("/_sim/seed", json={"projeto": "Rede", "ctos": 2,
                                                     "prefixo": "CTO-B"}), 201)
        assert more["ids"] == [4, 5] and more["projeto"]["id"] == 1
        for bad in ({"ctos": 1}, {"projeto": "R", "ctos": -1}, {"projeto": "R", "ctos": 1.5},
                    {"projeto": "R", "portas": 65}, {"projeto": "R", "reservadas": 2},
                    {"projeto": "R", "ctos": True}, {"projeto": "R", "bogus": 1},
                    {"projeto": "R", "ctos": 150_000, "postes": 60_000}):
            await refused(api.post("/_sim/seed", json=bad), 422, "dados_invalidos")

    run(app, scenario)


def test_seeding_eighty_thousand_ports_is_fast() -> None:
    app, _ = make()

    async def scenario(api: httpx.AsyncClient) -> None:
        started = time.perf_counter()
        seeded = await ok(api.post("/_sim/seed", json={"projeto": "Bench", "ctos": 5000}), 201)
        data = json.dumps(app.state.store.to_json())
        reloaded = Store.from_json(json.loads(data))
        elapsed = time.perf_counter() - started
        assert seeded["portas"] == 80_000 and len(reloaded.elements) == 5000
        assert elapsed < 5, f"seeding and a round trip of 80,000 ports took {elapsed:.1f} s"

    run(app, scenario)


# -- admin, faults, body limit -----------------------------------------------------------------


def test_admin_counters_reset_and_config() -> None:
    app, _ = make()

    async def scenario(api: httpx.AsyncClient) -> None:
        box = (await cto(api, "CTO-01"))["id"]
        await put(api, box, 1, ANA)
        counters = (await api.get("/_sim/counters")).json()
        assert counters["requests"] == {"POST /api/v1/auth/login": 1, PUT_ROUTE: 1}
        assert counters["logins"] == 1
        await ok(api.post("/_sim/config", json={"token_ttl": 30}))
        await refused(api.post("/_sim/config", json={"bogus": 1}), 422, "dados_invalidos")
        await refused(api.post("/_sim/config", json={"token_ttl": -1}), 422, "dados_invalidos")
        assert (await ok(api.post("/_sim/reset"))) == {"reset": True}
        assert (await ok(api.get("/api/v1/projetos")))["total"] == 0  # token kept
        config = await ok(api.get("/_sim/config"))
        assert (config["token_ttl"], config["default_radius"], config["error_rate"]) == (
            30, 300, 0)
        assert (await api.get("/_sim/counters")).json()["writes"] == {}

    run(app, scenario)


def test_fault_layer_and_body_limit_apply() -> None:
    app, _ = make(faults=Faults(seed=1, error_rate=1.0))

    async def main() -> None:
        async with client(app) as api:
            assert (await api.post("/api/v1/auth/login", json=LOGIN)).status_code == 503
            assert (await api.get("/_sim/counters")).status_code == 200  # admin never faulted
            await ok(api.post("/_sim/config", json={"error_rate": 0, "rate_limit_rate": 1,
                                                    "retry_after": 7}))
            limited = await api.post("/api/v1/auth/login", json=LOGIN)
            assert (limited.status_code, limited.headers["retry-after"]) == (429, "7")
            app.state.faults.configure(rate_limit_rate=0.0)
            huge = await api.post("/api/v1/auth/login", content=b"x" * (9 << 20))
            assert huge.status_code == 413
            await refused(api.get("/api/v1/nowhere"), 404, "rota_inexistente")
            await refused(api.post("/api/v1/projetos"), 405, "rota_inexistente")

    asyncio.run(main())


# -- persistence and embedding -----------------------------------------------------------------


def test_embedded_round_trip_keeps_the_network_and_its_clients() -> None:
    app = embedded_app(CREDENTIALS, None)

    async def fill(api: httpx.AsyncClient) -> None:
        assert (await ok(api.get("/api/v1/projetos")))["itens"][0]["nome"] == "Demo FTTH"
        await ok(api.post("/_sim/reset"))  # a new embedded platform holds the demo network
        await ok(api.post("/_sim/seed", json={"projeto": "Rede", "ctos": 30, "ceos": 2,
                                              "reservadas": 0.2, "em_projeto": 0.3}), 201)
        ports = (await ok(api.get("/api/v1/ctos/1")))["portas"]
        await put(api, 1, next(p["numero"] for p in ports if not p["reservada"]), BETO)

    run(app, fill)
    data = json.loads(json.dumps(app.state.store.to_json()))
    assert PASSWORD not in json.dumps(data)
    reloaded = embedded_app(CREDENTIALS, data)
    assert reloaded.state.store.to_json() == data
    assert Store.from_json(data).to_json() == data
    with pytest.raises(ValueError, match="version"):
        Store.from_json({**data, "version": 99})

    async def check(api: httpx.AsyncClient) -> None:
        where = await ok(api.get("/api/v1/clientes/1002"))
        await refused(api.put(PORT.format(cto=2, porta=1), json=BETO), 409,
                      "cliente_em_outra_porta")  # the client index was rebuilt
        assert (await ok(api.get(f"/api/v1/ctos/{where['cto']}")))["portas"][
            where["porta"] - 1]["cliente"]["observacao"] == "Plano 500M"
        assert (await ok(api.get("/api/v1/elementos", params={"tipo": "ceo"})))["total"] == 2
        added = await ok(api.post("/_sim/elementos", json={
            "projeto": "Rede", "nome": "CTO-NEW", "latitude": LAT, "longitude": LON}), 201)
        assert added["id"] == 33  # ids go on from where they were
        await ok(api.post("/_sim/seed", json={"projeto": "Rede", "ctos": 1, "prefixo": "X"}),
                 201)
        await refused(api.post("/_sim/seed", json={"projeto": "Rede", "ctos": 1}), 409,
                      "elemento_existente")  # names too

    run(reloaded, check)


def test_embedded_app_needs_both_credentials() -> None:
    for name in CREDENTIALS:
        with pytest.raises(SecretError, match=f"credentials.{name}"):
            embedded_app({**CREDENTIALS, name: ""}, None)
