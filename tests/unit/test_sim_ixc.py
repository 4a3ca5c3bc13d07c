"""The IXC Soft simulator through its wire API, in process (httpx over ASGI)."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from reconciler.errors import SecretError
from reconciler.sim import erp_data, simulator
from reconciler.sources.ixc import STATUSES
from reconciler.sources.ixc import sim as ixc
from reconciler.sources.ixc.sim import create_app, embedded_app
from reconciler.sources.ixc.sim_store import GENERIC, Filter, Query, Store
from tests.unit.sim_helpers import ok

TOKEN = "42:unit-ixc-token-0123456789"
BASIC = "Basic " + base64.b64encode(TOKEN.encode()).decode()
LISTAR = {"ixcsoft": "listar"}
CLIENTE = "/webservice/v1/cliente"
CONTRATO = "/webservice/v1/cliente_contrato"
Scenario = Callable[[httpx.AsyncClient], Awaitable[None]]

CLIENTES = [
    {"id": "1", "razao": "Maria Silva", "cnpj_cpf": "529.982.247-25", "email": "maria@x.com.br",
     "telefone_celular": "(11) 98765-4321"},
    {"id": "2", "razao": "Padaria Souza Ltda", "fantasia": "Padaria Souza",
     "cnpj_cpf": "11.222.333/0001-81", "tipo_pessoa": "J", "fone": "(11) 3000-1001"},
    {"id": "10", "razao": "José Lima", "cnpj_cpf": "111.444.777-35", "ativo": "N"},
]
CONTRATOS = [
    {"id": "100", "id_cliente": "1", "contrato": "FIBRA 500MB", "status": "A",
     "status_internet": "A", "data_ativacao": "2021-03-04", "login": "maria.silva"},
    {"id": "101", "id_cliente": "1", "contrato": "RADIO 50MB", "status": "A",
     "status_internet": "CA", "login": "maria.radio"},
    {"id": "200", "id_cliente": "2", "contrato": "FIBRA 1GB", "status": "D",
     "status_internet": "D"},
]


def make(**kwargs: Any) -> Starlette:
    kwargs.setdefault("clients", {"clientes": CLIENTES, "contratos": CONTRATOS})
    return create_app(TOKEN, **kwargs)


def client(app: Starlette, authorization: str | None = BASIC) -> httpx.AsyncClient:
    headers = {"Authorization": authorization} if authorization is not None else {}
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim",
                             headers=headers)


def run(app: Starlette, scenario: Scenario, authorization: str | None = BASIC) -> None:
    async def main() -> None:
        async with client(app, authorization) as api:
            await scenario(api)

    asyncio.run(main())


async def listar(api: httpx.AsyncClient, path: str = CLIENTE, **body: Any) -> dict[str, Any]:
    answer: dict[str, Any] = await ok(api.post(path, json=body, headers=LISTAR))
    return answer


def ids(body: dict[str, Any]) -> list[str]:
    return [row["id"] for row in body["registros"]]


# -- auth --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [None, "Basic " + base64.b64encode(b"42:wrong").decode(), f"Bearer {TOKEN}",
     "Basic " + TOKEN, "Basic"],
)
def test_requests_without_the_basic_token_are_refused_as_ixc_words_it(
        authorization: str | None) -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        response = await api.post(CLIENTE, json={}, headers=LISTAR)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Basic"
        assert response.json() == {"type": "error", "message": "Token de acesso inválido."}
        assert TOKEN not in response.text

    run(make(), scenario, authorization)


def test_basic_token_lists_and_scheme_is_case_insensitive() -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        body = await ok(api.post(CLIENTE, json={}, headers={**LISTAR,
                                                           "Authorization": BASIC.lower()[:6]
                                                           + BASIC[6:]}))
        assert body["total"] == "3"

    run(make(), scenario)


# -- listing -----------------------------------------------------------------------------------


def test_listing_needs_the_listar_header_and_a_post_without_it_is_a_refused_insert() -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        insert = await api.post(CLIENTE, json={"razao": "Nova"})
        assert insert.status_code == 200
        assert insert.json()["type"] == "error"
        assert "somente leitura" in insert.json()["message"]
        plain_get = await api.get(CLIENTE)
        assert plain_get.status_code == 200 and plain_get.json()["type"] == "error"
        assert "ixcsoft: listar" in plain_get.json()["message"]
        for method in ("PUT", "DELETE"):
            write = await api.request(method, f"{CONTRATO}/100", json={"status": "I"})
            assert write.json()["type"] == "error"
        # a GET carrying a body lists like a POST
        got = await ok(api.request("GET", CLIENTE, json={"rp": "2"}, headers=LISTAR))
        assert ids(got) == ["1", "2"]

    app = make()
    run(app, scenario)
    assert app.state.store.contratos[100].status == "A"
    assert app.state.store.writes == {}


def test_rows_and_numbers_are_strings_as_ixc_sends_them() -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        body = await listar(api, CONTRATO, page=1, rp=10)
        assert (body["page"], body["total"]) == ("1", "3")
        first = body["registros"][0]
        assert first == {"id": "100", "id_cliente": "1", "contrato": "FIBRA 500MB",
                         "status": "A", "status_internet": "A", "bloqueio_automatico": "S",
                         "data_ativacao": "2021-03-04", "login": "maria.silva"}
        assert all(isinstance(v, str) for row in body["registros"] for v in row.values())
        assert body["registros"][2]["data_ativacao"] == "0000-00-00"
        clientes = await listar(api)
        padaria = clientes["registros"][1]
        assert (padaria["tipo_pessoa"], padaria["email"], padaria["ativo"]) == ("J", "", "S")
        assert clientes["registros"][0]["tipo_pessoa"] == "F"

    run(make(), scenario)


def test_pages_are_one_based_with_bounds_and_a_page_past_the_end_is_empty() -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        assert ids(await listar(api, page="1", rp="2")) == ["1", "2"]
        second = await listar(api, page="2", rp="2")
        assert (ids(second), second["page"], second["total"]) == (["10"], "2", "3")
        past = await listar(api, page="9", rp="2")
        assert (past["registros"], past["total"], past["page"]) == ([], "3", "9")
        assert ids(await listar(api)) == ["1", "2", "10"]  # defaults: page 1, rp 20
        for bad in ({"page": "0"}, {"page": "-1"}, {"rp": "0"}, {"rp": "5001"}, {"rp": "x"},
                    {"page": True}):
            answer = await listar(api, **bad)
            assert answer == {"type": "error", "message": GENERIC}, bad
        assert len((await listar(api, rp=5000))["registros"]) == 3

    run(make(), scenario)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"qtype": "cliente.id", "query": "2", "oper": "="}, ["2"]),
        ({"qtype": "cliente.id", "query": "1", "oper": ">"}, ["2", "10"]),  # numbers, not text
        ({"qtype": "cliente.id", "query": "2", "oper": ">="}, ["2", "10"]),
        ({"qtype": "cliente.id", "query": "10", "oper": "<"}, ["1", "2"]),
        ({"qtype": "cliente.id", "query": "2", "oper": "<="}, ["1", "2"]),
        ({"qtype": "cliente.id", "query": "2", "oper": "!="}, ["1", "10"]),
        ({"qtype": "cliente.razao", "query": "silva", "oper": "L"}, ["1"]),  # contains, no case
        ({"qtype": "cliente.razao", "query": "MARIA SILVA"}, ["1"]),  # oper defaults to =
        ({"qtype": "cliente.email", "query": "", "oper": "="}, ["2", "10"]),
        ({"qtype": "", "query": "whatever"}, ["1", "2", "10"]),
        ({"qtype": "cliente.ativo", "query": "S",
          "grid_param": json.dumps([{"TB": "cliente.tipo_pessoa", "OP": "=", "P": "F"}])}, ["1"]),
        ({"grid_param": [{"TB": "cliente.id", "OP": ">", "P": "1"},
                         {"TB": "cliente.razao", "OP": "L", "P": "a"}]}, ["2", "10"]),
    ],
)
def test_qtype_oper_and_grid_param_filter(body: dict[str, Any], expected: list[str]) -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        answer = await listar(api, **body)
        assert ids(answer) == expected
        assert answer["total"] == str(len(expected))

    run(make(), scenario)


def test_sort_by_any_field_ascending_or_descending() -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        assert ids(await listar(api, sortname="cliente.id", sortorder="desc")) == ["10", "2", "1"]
        by_name = await listar(api, sortname="cliente.razao", sortorder="asc")
        assert ids(by_name) == ["10", "1", "2"]  # José, Maria, Padaria
        assert ids(await listar(api, sortname="cliente.razao", sortorder="DESC")) == [
            "2", "1", "10"]
        contracts = await listar(api, CONTRATO, sortname="cliente_contrato.status")
        assert ids(contracts) == ["100", "101", "200"]  # A, A (by id), D
        desc_page = await listar(api, sortname="cliente.id", sortorder="desc", page=2, rp=2)
        assert ids(desc_page) == ["1"]

    run(make(), scenario)


@pytest.mark.parametrize(
    "body",
    [
        {"qtype": "cliente.senha", "query": "x"},
        {"qtype": "cliente_contrato.id", "query": "1"},  # another table's field
        {"qtype": "id", "query": "1"},
        {"qtype": "cliente.id", "query": "1", "oper": "LIKE"},
        {"qtype": "cliente.id", "query": {"x": 1}},
        {"sortname": "cliente.nope"},
        {"sortorder": "up"},
        {"grid_param": "not json"},
        {"grid_param": json.dumps({"TB": "cliente.id"})},
        {"grid_param": json.dumps([{"TB": "cliente.x", "P": "1"}])},
        {"grid_param": json.dumps([{"TB": "cliente.id", "OP": "~", "P": "1"}])},
    ],
)
def test_a_query_ixc_cannot_run_answers_its_generic_error_with_http_200(
        body: dict[str, Any]) -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        response = await api.post(CLIENTE, json=body, headers=LISTAR)
        assert response.status_code == 200
        assert response.json() == {
            "type": "error", "message": "Ocorreu um erro ao processar. Contate o suporte IXC Soft."}

    run(make(), scenario)


def test_bodies_that_are_not_json_objects_and_unknown_routes_are_ixc_errors() -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        broken = await api.post(CLIENTE, content=b"{nope", headers=LISTAR)
        assert broken.status_code == 400 and broken.json()["type"] == "error"
        listed = await api.post(CLIENTE, json=[1], headers=LISTAR)
        assert listed.status_code == 400 and listed.json()["type"] == "error"
        unknown = await api.post("/webservice/v1/radusuarios", json={}, headers=LISTAR)
        assert unknown.status_code == 404 and unknown.json()["type"] == "error"

    run(make(), scenario)


# -- the generated estate ----------------------------------------------------------------------


def test_generated_estate_is_deterministic_and_maps_erp_data() -> None:
    first, again, other = (Store(), Store(), Store())
    first.generate(600, 5)
    again.generate(600, 5)
    other.generate(600, 6)
    assert first.to_json() == again.to_json()
    assert first.to_json() != other.to_json()
    people = list(erp_data.estate(600, 5))
    allowed = {"enabled": {"A/A"}, "suspended_debt": {"A/CA", "N"}, "suspended_partial": {"A/FA"},
               "suspended_request": {"A/CM"}, "cancelled": {"D", "I"}, "inactive": {"I"},
               "awaiting": {"P", "A/AA"}}
    seen: Counter[str] = Counter()
    for person in people:
        cliente = first.clientes[person.number]
        assert re.sub(r"\D", "", cliente.cnpj_cpf) == person.document
        assert re.fullmatch(r"\d{3}\.\d{3}\.\d{3}-\d{2}|\d{2}\.\d{3}\.\d{3}/0001-\d{2}",
                            cliente.cnpj_cpf)
        assert (cliente.razao, cliente.tipo_pessoa) == (person.name, "J" if person.company else "F")
        for service in person.services:
            contrato = first.contratos[service.number]
            key = f"A/{contrato.status_internet}" if contrato.status == "A" else contrato.status
            assert key in STATUSES and key in allowed[service.state], (service, contrato)
            assert (contrato.id_cliente, contrato.login, contrato.contrato) == (
                person.number, service.login, service.plan)
            seen[key] += 1
    assert {"A/A", "A/CA", "N", "D", "I", "P", "A/AA"} <= set(seen)
    no_mobile = [c for c in first.clientes.values() if not c.telefone_celular]
    assert len(no_mobile) == 12 and any(c.fone for c in no_mobile)
    assert sum(1 for c in first.clientes.values() if not c.email) == 6


def test_generate_and_load_through_admin_replace_the_estate() -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        no_token = {"Authorization": ""}  # admin routes need no token
        generated = api.post("/_sim/clients", json={"generate": 30, "seed": 3}, headers=no_token)
        assert await ok(generated) == {
            "clientes": 30, "contratos": len(app.state.store.contratos)}
        page = await listar(api, rp="5")
        assert page["total"] == "30" and ids(page) == ["1", "2", "3", "4", "5"]
        reference = Store()
        reference.generate(30, 3)
        assert app.state.store.to_json() == reference.to_json()
        loaded = await ok(api.post("/_sim/clients", json={"clientes": CLIENTES[:1],
                                                          "contratos": CONTRATOS[:2]}))
        assert loaded == {"clientes": 1, "contratos": 2}
        assert (await listar(api))["total"] == "1"
        for bad in ({"generate": 0}, {"generate": 1_000_001}, {"generate": "5"},
                    {"clientes": [{"id": "1"}]},
                    {"clientes": CLIENTES, "contratos": [{**CONTRATOS[0], "id_cliente": "99"}]},
                    {"clientes": CLIENTES, "contratos": [{**CONTRATOS[0], "status": "X"}]},
                    {"clientes": CLIENTES + CLIENTES[:1]},
                    {"clientes": [{**CLIENTES[0], "senha": "x"}]}, {}):
            response = await api.post("/_sim/clients", json=bad)
            assert response.status_code == 422, bad
            assert response.json()["type"] == "error"
        assert (await listar(api))["total"] == "1"  # a refused load changes nothing

    app = make()
    run(app, scenario)


def test_patch_contract_changes_the_erp_and_counts_a_write() -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        changed = await ok(api.patch("/_sim/contracts/100",
                                     json={"status_internet": "CM", "login": "maria.nova"}))
        assert (changed["status_internet"], changed["login"]) == ("CM", "maria.nova")
        await ok(api.patch("/_sim/contracts/100", json={"status_internet": "CM"}))  # no change
        rows = (await listar(api, CONTRATO, qtype="cliente_contrato.id", query="100"))
        assert rows["registros"][0]["status_internet"] == "CM"
        assert (await api.patch("/_sim/contracts/999", json={"status": "I"})).status_code == 404
        for bad in ({"status": "X"}, {"status_internet": "Z"}, {"contrato": ""},
                    {"id_cliente": "2"}, {}):
            response = await api.patch("/_sim/contracts/100", json=bad)
            assert response.status_code == 422, bad
        counters = await ok(api.get("/_sim/counters"))
        assert counters["writes"] == {"cliente_contrato/100": {"alterar": 1}}
        assert counters["requests"] == {"POST /webservice/v1/cliente_contrato": 1}

    run(make(), scenario)


def test_counters_count_requests_per_route_and_reset_restores_the_generated_estate() -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        await listar(api)
        await listar(api)
        await ok(api.request("GET", CONTRATO, json={}, headers=LISTAR))
        await api.post(CLIENTE, json={})  # an insert, refused, still counted
        counters = await ok(api.get("/_sim/counters"))
        assert counters["requests"] == {"POST /webservice/v1/cliente": 3,
                                        "GET /webservice/v1/cliente_contrato": 1}
        await ok(api.patch("/_sim/contracts/1", json={"status": "I"}))
        await ok(api.post("/_sim/reset"))
        assert await ok(api.get("/_sim/counters")) == {"requests": {}, "writes": {}}
        assert app.state.store.contratos[1].status == generated.contratos[1].status
        assert (await listar(api))["total"] == "7"

    app = create_app(TOKEN, clients=7, seed=2)
    generated = Store()
    generated.generate(7, 2)
    run(app, scenario)


def test_a_503_fault_set_through_sim_config_hits_the_api_but_never_admin() -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        config = await ok(api.post("/_sim/config", json={"error_rate": 1.0}))
        assert config["error_rate"] == 1.0
        assert (await api.post(CLIENTE, json={}, headers=LISTAR)).status_code == 503
        assert (await api.get("/_sim/counters")).status_code == 200
        assert (await api.post("/_sim/config", json={"error_rate": 2})).status_code == 422
        assert (await api.post("/_sim/config", json={"token_ttl": 5})).status_code == 422
        await ok(api.post("/_sim/config", json={"error_rate": 0}))
        assert (await listar(api))["total"] == "3"

    run(make(), scenario)


# -- persistence and wiring --------------------------------------------------------------------


def test_store_round_trips_through_json_and_embedded_app_resumes_it() -> None:
    app = make()
    app.state.store.change_contract(101, {"status": "N"})
    data = json.loads(json.dumps(app.state.store.to_json()))
    again = embedded_app({"token": TOKEN}, data)
    assert again.state.store.to_json() == data
    assert again.state.store.contratos[101].status == "N"
    with pytest.raises(ValueError, match="version"):
        Store.from_json({**data, "version": 99})
    with pytest.raises(SecretError, match=r"credentials\.token"):
        embedded_app({}, None)
    fresh = embedded_app({"token": TOKEN}, None)
    assert len(fresh.state.store.clientes) == ixc.DEFAULT_CLIENTS
    assert simulator("ixc") is ixc


def test_a_large_listing_is_filtered_and_sorted_once_for_all_its_pages() -> None:
    store = Store()
    store.load([{"id": str(n), "razao": f"Cliente {n}", "cnpj_cpf": "529.982.247-25"}
                for n in range(1, 20_001)], [])
    query = Query(filters=(Filter("razao", "L", "cliente"),), sortname="razao", rp=5000)
    first, total = store.listing("cliente", query)
    cached = store._cache
    last, _ = store.listing("cliente", Query(query.filters, "razao", page=4, rp=5000))
    assert total == 20_000 and store._cache is cached  # the sort was not done again
    assert first[0]["razao"] == "Cliente 1" and len(last) == 5000
