"""The HubSoft ERP simulator through its wire API, in process (httpx over ASGI)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from reconciler.errors import SecretError
from reconciler.sim import simulator
from reconciler.sim.clock import FakeClock
from reconciler.sources.hubsoft import STATUSES, sim
from reconciler.sources.hubsoft.sim import CLIENTS, create_app, embedded_app
from reconciler.sources.hubsoft.sim_store import Store, generated
from tests.unit.sim_helpers import ok

SECRET = "unit-hubsoft-secret"
CLIENT_ID = "unit-client"
USERNAME = "api@isp.example"
LOGIN = {"grant_type": "password", "client_id": CLIENT_ID, "client_secret": SECRET,
         "username": USERNAME, "password": SECRET}
STATUS_URL = "/api/v1/integracao/configuracao/servico_status"
Scenario = Callable[[httpx.AsyncClient], Awaitable[None]]

MARIA: dict[str, Any] = {
    "id_cliente": 7, "codigo_cliente": 1007, "nome_razaosocial": "Maria Silva",
    "nome_fantasia": None, "tipo_pessoa": "pf", "cpf_cnpj": "52998224725",
    "telefone_primario": "", "email_principal": None, "data_cadastro": "2020-02-03",
    "servicos": [{
        "id_cliente_servico": 70, "id_servico": 2, "numero_plano": 1, "nome": "FIBRA 500MB",
        "valor": 129.9, "status_prefixo": "suspenso_debito", "tecnologia": "FIBRA",
        "login": "maria.silva", "referencia": "perto da praça", "senha": "pppoe-secret",
        "pacotes": [{"id_pacote": 9, "codigo": "TV PLUS", "descricao": "TV Plus",
                     "valor": "25.00"}],
        "porta_atendimento": {"numero": 4, "equipamento": "CTO-0042"},
    }],
}


def make(**kwargs: Any) -> tuple[Starlette, FakeClock]:
    clock = FakeClock()
    return create_app(SECRET, client_id=CLIENT_ID, username=USERNAME, clock=clock,
                      **kwargs), clock


def client(app: Starlette, token: str | None = None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim",
                             headers=headers)


async def login(api: httpx.AsyncClient, **overrides: Any) -> str:
    body = await ok(api.post("/oauth/token", json={**LOGIN, **overrides}))
    return str(body["access_token"])


def run(app: Starlette, scenario: Scenario) -> None:
    """Run ``scenario`` with a client already logged in."""

    async def main() -> None:
        async with client(app) as anonymous:
            token = await login(anonymous)
        async with client(app, token) as api:
            await scenario(api)

    asyncio.run(main())


async def page(api: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    body: dict[str, Any] = await ok(api.get(CLIENTS, params=params))
    return body


async def every_client(api: httpx.AsyncClient) -> list[dict[str, Any]]:
    return list((await page(api, pagina=0, itens_por_pagina=500))["clientes"])


async def counters(api: httpx.AsyncClient) -> dict[str, Any]:
    body: dict[str, Any] = await ok(api.get("/_sim/counters"))
    return body


# -- auth --------------------------------------------------------------------------------------


def test_password_grant_issues_a_bearer_token_that_opens_the_api() -> None:
    app, _ = make(clients=3)

    async def main() -> None:
        async with client(app) as api:
            body = await ok(api.post("/oauth/token", json=LOGIN))
            assert set(body) == {"access_token", "expires_in", "refresh_token", "token_type"}
            assert (body["token_type"], body["expires_in"]) == ("Bearer", 2592000)
            form = await ok(api.post("/oauth/token", data=LOGIN))  # form-encoded too
            assert form["access_token"] != body["access_token"]
            for token in (body["access_token"], form["access_token"]):
                listed = await api.get(STATUS_URL, headers={"Authorization": f"Bearer {token}"})
                assert listed.status_code == 200
            assert (await counters(api))["logins"] == 2

    asyncio.run(main())


@pytest.mark.parametrize(
    ("overrides", "status", "error"),
    [
        ({"client_secret": "wrong"}, 401, "invalid_credentials"),
        ({"password": "wrong"}, 401, "invalid_credentials"),
        ({"username": "someone@else"}, 401, "invalid_credentials"),
        ({"client_id": "other"}, 401, "invalid_credentials"),
        ({"grant_type": "client_credentials"}, 400, "unsupported_grant_type"),
        ({"password": None}, 400, "invalid_request"),
    ],
)
def test_login_refuses_wrong_credentials_as_hubsoft_does(overrides: dict[str, Any], status: int,
                                                         error: str) -> None:
    app, _ = make()

    async def main() -> None:
        async with client(app) as api:
            response = await api.post("/oauth/token", json={**LOGIN, **overrides})
            body = response.json()
            assert (response.status_code, body["error"]) == (status, error)
            assert {"error_description", "message"} <= set(body)
            assert SECRET not in response.text
            assert (await counters(api))["logins"] == 0

    asyncio.run(main())


def test_a_separate_password_is_accepted_instead_of_the_secret() -> None:
    app, _ = make(password="user-password")

    async def main() -> None:
        async with client(app) as api:
            refused = await api.post("/oauth/token", json=LOGIN)
            assert refused.status_code == 401
            await login(api, password="user-password")

    asyncio.run(main())


def test_refresh_grant_rotates_the_refresh_token() -> None:
    app, _ = make()

    async def main() -> None:
        async with client(app) as api:
            first = await ok(api.post("/oauth/token", json=LOGIN))
            refresh = {"grant_type": "refresh_token", "client_id": CLIENT_ID,
                       "client_secret": SECRET, "refresh_token": first["refresh_token"]}
            renewed = await ok(api.post("/oauth/token", json=refresh))
            assert renewed["access_token"] != first["access_token"]
            assert renewed["refresh_token"] != first["refresh_token"]
            headers = {"Authorization": f"Bearer {renewed['access_token']}"}
            assert (await api.get(STATUS_URL, headers=headers)).status_code == 200
            again = await api.post("/oauth/token", json=refresh)  # the old one was revoked
            assert (again.status_code, again.json()["error"]) == (401, "invalid_request")
            wrong = await api.post("/oauth/token", json={
                **refresh, "refresh_token": renewed["refresh_token"], "client_secret": "x"})
            assert wrong.status_code == 401
            shown = await counters(api)
            assert (shown["logins"], shown["refreshes"]) == (1, 1)

    asyncio.run(main())


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "Bearer ", f"Basic {SECRET}"])
def test_api_routes_need_a_valid_bearer_token(authorization: str | None) -> None:
    app, _ = make(clients=2)

    async def main() -> None:
        headers = {"Authorization": authorization} if authorization is not None else {}
        async with client(app) as api:
            for path in (f"{CLIENTS}?pagina=0&itens_por_pagina=10", STATUS_URL):
                response = await api.get(path, headers=headers)
                assert (response.status_code, response.json()) == (
                    401, {"message": "Unauthenticated."})

    asyncio.run(main())


def test_tokens_expire_with_the_clock_and_through_the_admin_route() -> None:
    app, clock = make(token_ttl=60)

    async def main() -> None:
        async with client(app) as anonymous:
            token = await login(anonymous)
            other = await login(anonymous)
        async with client(app, token) as api:
            clock.advance(59)
            assert (await api.get(STATUS_URL)).status_code == 200
            clock.advance(1)
            assert (await api.get(STATUS_URL)).status_code == 401
            fresh = await login(api)
            headers = {"Authorization": f"Bearer {fresh}"}
            assert (await api.get(STATUS_URL, headers=headers)).status_code == 200
            assert await ok(api.post("/_sim/tokens/expire")) == {"expired": 2}  # other, fresh
            for lapsed in (fresh, other):
                answer = await api.get(STATUS_URL, headers={"Authorization": f"Bearer {lapsed}"})
                assert answer.status_code == 401

    asyncio.run(main())


# -- cliente/todos -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"itens_por_pagina": 10}, "O campo pagina é obrigatório."),
        ({"pagina": 0}, "O campo itens por pagina é obrigatório."),
        ({"pagina": 0, "itens_por_pagina": 0}, "O campo itens por pagina deve estar entre 1 e 500."),
        ({"pagina": 0, "itens_por_pagina": 501}, "deve estar entre 1 e 500"),
        ({"pagina": -1, "itens_por_pagina": 10}, "O campo pagina deve ser um número inteiro."),
        ({"pagina": "um", "itens_por_pagina": 10}, "pagina deve ser um número inteiro"),
        ({"pagina": 0, "itens_por_pagina": 10, "cancelado": "talvez"}, "cancelado"),
    ],
)
def test_bad_paging_is_an_http_200_with_status_error(params: dict[str, Any], problem: str) -> None:
    app, _ = make(clients=5)

    async def scenario(api: httpx.AsyncClient) -> None:
        body = await page(api, **params)  # HubSoft's quirk: HTTP 200
        assert body["status"] == "error"
        assert body["msg"].startswith("Favor preencher os campos obrigatórios")
        assert "clientes" not in body
        assert any(problem in line for line in body["errors"]), body["errors"]

    run(app, scenario)


def test_pages_cover_the_estate_in_id_order_and_past_the_end_is_empty() -> None:
    app, _ = make(clients=23, seed=5)

    async def scenario(api: httpx.AsyncClient) -> None:
        seen: list[int] = []
        for number in range(3):
            body = await page(api, pagina=number, itens_por_pagina=10)
            assert (body["status"], body["msg"]) == ("success", "Dados consultados com sucesso")
            assert body["paginacao"] == {"primeira_pagina": 0, "ultima_pagina": 2,
                                         "pagina_atual": number, "total_registros": 23}
            seen += [c["id_cliente"] for c in body["clientes"]]
        assert seen == list(range(1, 24))
        past = await page(api, pagina=3, itens_por_pagina=10)
        assert (past["status"], past["clientes"]) == ("success", [])
        assert past["paginacao"]["total_registros"] == 23
        whole = await page(api, pagina=0, itens_por_pagina=500)
        assert whole["paginacao"]["ultima_pagina"] == 0

    run(app, scenario)


def test_an_empty_erp_has_one_empty_page() -> None:
    app, _ = make()

    async def scenario(api: httpx.AsyncClient) -> None:
        body = await page(api, pagina=0, itens_por_pagina=100)
        assert body["clientes"] == []
        assert body["paginacao"] == {"primeira_pagina": 0, "ultima_pagina": 0, "pagina_atual": 0,
                                     "total_registros": 0}

    run(app, scenario)


def test_a_client_has_the_wire_shape_and_never_a_senha() -> None:
    app, _ = make(clients=[MARIA])

    async def scenario(api: httpx.AsyncClient) -> None:
        (maria,) = await every_client(api)
        expected = {**MARIA, "servicos": [{**MARIA["servicos"][0], "status": "Suspenso por débito"}]}
        del expected["servicos"][0]["senha"]
        assert maria == expected
        assert "pppoe-secret" not in json.dumps(maria)

    run(app, scenario)


def test_cancelado_filter_selects_clients_by_their_services() -> None:
    gone = {**MARIA, "id_cliente": 8, "servicos": [
        {**MARIA["servicos"][0], "id_cliente_servico": 80, "status_prefixo": "cancelado"}]}
    bare = {**MARIA, "id_cliente": 9, "servicos": []}
    app, _ = make(clients=[MARIA, gone, bare])

    async def scenario(api: httpx.AsyncClient) -> None:
        def ids(body: dict[str, Any]) -> list[int]:
            return [c["id_cliente"] for c in body["clientes"]]

        assert ids(await page(api, pagina=0, itens_por_pagina=10)) == [7, 8, 9]
        yes = await page(api, pagina=0, itens_por_pagina=10, cancelado="sim")
        assert (ids(yes), yes["paginacao"]["total_registros"]) == ([8], 1)
        assert ids(await page(api, pagina=0, itens_por_pagina=10, cancelado="nao")) == [7, 9]
        await ok(api.patch("/_sim/services/70", json={"status_prefixo": "cancelado"}))
        assert ids(await page(api, pagina=0, itens_por_pagina=10, cancelado="sim")) == [7, 8]

    run(app, scenario)


def test_service_statuses_lists_all_thirteen() -> None:
    app, _ = make()

    async def scenario(api: httpx.AsyncClient) -> None:
        body = await ok(api.get(STATUS_URL))
        assert body["status"] == "success"
        listed = {s["prefixo"]: s["descricao"] for s in body["servico_status"]}
        assert listed == STATUSES
        ids = [s["id_servico_status"] for s in body["servico_status"]]
        assert sorted(ids) == list(range(1, 14))

    run(app, scenario)


# -- the generated estate ----------------------------------------------------------------------


def test_generated_estate_is_deterministic_and_maps_every_state() -> None:
    first = [c.to_wire() for c in generated(1500, seed=11)]
    assert first == [c.to_wire() for c in generated(1500, seed=11)]
    assert first != [c.to_wire() for c in generated(1500, seed=12)]
    statuses = {s["status_prefixo"] for c in first for s in c["servicos"]}
    assert statuses == {"servico_habilitado", "suspenso_debito", "suspenso_parcialmente",
                        "suspenso_pedido_cliente", "cancelado", "inativo",
                        "aguardando_instalacao"}
    no_phone = sum(c["telefone_primario"] == "" for c in first)
    no_email = sum(c["email_principal"] is None for c in first)
    assert 10 <= no_phone <= 60 and 3 <= no_email <= 35  # about 1 in 50, 1 in 100
    assert {c["tipo_pessoa"] for c in first} == {"pf", "pj"}
    for c in first:
        assert len(c["cpf_cnpj"]) == (11 if c["tipo_pessoa"] == "pf" else 14)
    services = [s["id_cliente_servico"] for c in first for s in c["servicos"]]
    assert services == sorted(set(services))


def test_admin_generate_replaces_the_estate_and_bounds_n() -> None:
    app, _ = make(clients=[MARIA])

    async def scenario(api: httpx.AsyncClient) -> None:
        loaded = await ok(api.post("/_sim/clients", json={"generate": 40, "seed": 3}))
        assert loaded["clientes"] == 40
        once = (await page(api, pagina=0, itens_por_pagina=500))["clientes"]
        assert once == [c.to_wire() for c in generated(40, 3)]
        await ok(api.post("/_sim/clients", json={"generate": 40, "seed": 3}))
        assert (await page(api, pagina=0, itens_por_pagina=500))["clientes"] == once
        for bad in ({"generate": 1_000_001}, {"generate": -1}, {"generate": "10"},
                    {"generate": 5, "clientes": []}, {}, {"generate": 5, "seed": "x"}):
            refused = await api.post("/_sim/clients", json=bad)
            assert refused.status_code == 422, bad
            assert refused.json()["status"] == "error"
        assert len(await every_client(api)) == 40  # unchanged by the refusals

    run(app, scenario)


def test_admin_loads_clientes_in_the_wire_shape_checked() -> None:
    app, _ = make(clients=4)

    async def scenario(api: httpx.AsyncClient) -> None:
        await ok(api.post("/_sim/clients", json={"clientes": [MARIA]}))
        assert [c["id_cliente"] for c in await every_client(api)] == [7]
        broken = {**MARIA, "servicos": [{**MARIA["servicos"][0], "status_prefixo": "ativo"}]}
        twice = {**MARIA, "id_cliente": 8}  # the same id_cliente_servico 70 again
        for bad in ([broken], [MARIA, MARIA], [MARIA, twice], [{**MARIA, "cpf_cnpj": "12"}],
                    [{**MARIA, "nome_razaosocial": ""}], "no"):
            refused = await api.post("/_sim/clients", json={"clientes": bad})
            assert refused.status_code == 422, bad
        refused = await api.post("/_sim/clients", json={"clientes": [broken]})
        assert "ativo" in refused.json()["msg"]
        assert [c["id_cliente"] for c in await every_client(api)] == [7]

    run(app, scenario)


def test_admin_patch_changes_a_service_and_counts_a_write() -> None:
    app, _ = make(clients=[MARIA])

    async def scenario(api: httpx.AsyncClient) -> None:
        changed = await ok(api.patch("/_sim/services/70", json={
            "status_prefixo": "servico_habilitado", "login": "maria.nova",
            "nome": "FIBRA 1GB", "pacotes": ["livros", {"codigo": "IP FIXO", "valor": "30.00"}]}))
        assert (changed["status_prefixo"], changed["status"]) == ("servico_habilitado",
                                                                  "Serviço habilitado")
        assert (changed["login"], changed["nome"], changed["id_servico"]) == (
            "maria.nova", "FIBRA 1GB", 3)
        assert [p["codigo"] for p in changed["pacotes"]] == ["livros", "IP FIXO"]
        (maria,) = await every_client(api)
        assert maria["servicos"][0] == changed
        await ok(api.patch("/_sim/services/70", json={"login": "maria.nova"}))  # no change
        assert (await counters(api))["writes"] == {"70": {"alterar": 1}}
        for bad in ({"status_prefixo": "ativo"}, {"senha": "x"}, {}, {"nome": ""},
                    {"pacotes": "livros"}):
            refused = await api.patch("/_sim/services/70", json=bad)
            assert refused.status_code == 422, bad
        missing = await api.patch("/_sim/services/999", json={"login": "x"})
        assert missing.status_code == 404

    run(app, scenario)


# -- counters, faults, reset, persistence ------------------------------------------------------


def test_counters_count_api_requests_not_admin_ones() -> None:
    app, _ = make(clients=3)

    async def scenario(api: httpx.AsyncClient) -> None:
        await page(api, pagina=0, itens_por_pagina=2)
        await page(api, pagina=1, itens_por_pagina=2)
        await ok(api.get(STATUS_URL))
        await ok(api.get("/_sim/config"))
        shown = await counters(api)
        assert shown["requests"] == {"POST /oauth/token": 1, f"GET {CLIENTS}": 2,
                                     f"GET {STATUS_URL}": 1}
        assert (shown["logins"], shown["refreshes"], shown["writes"]) == (1, 0, {})
        assert await ok(api.post("/_sim/reset")) == {"reset": True}
        shown = await counters(api)
        assert (shown["requests"], shown["logins"]) == ({}, 0)
        assert await every_client(api) == []

    run(app, scenario)


def test_faults_set_through_config_answer_503_but_spare_the_admin_routes() -> None:
    app, _ = make(clients=3)

    async def scenario(api: httpx.AsyncClient) -> None:
        config = await ok(api.post("/_sim/config", json={"error_rate": 1.0, "token_ttl": 90}))
        assert (config["error_rate"], config["token_ttl"]) == (1.0, 90.0)
        failed = await api.get(CLIENTS, params={"pagina": 0, "itens_por_pagina": 5})
        assert failed.status_code == 503
        assert (await api.get("/_sim/counters")).status_code == 200
        bad = await api.post("/_sim/config", json={"token_ttl": 0})
        assert bad.status_code == 422
        await ok(api.post("/_sim/config", json={"error_rate": 0.0}))
        assert len((await page(api, pagina=0, itens_por_pagina=5))["clientes"]) == 3

    run(app, scenario)


def test_store_round_trips_through_json_and_embedded_app() -> None:
    store = Store(generated(30, seed=2))
    data = json.loads(json.dumps(store.to_json()))
    again = Store.from_json(data)
    assert [c.to_wire() for c in again.clients] == [c.to_wire() for c in store.clients]
    credentials = {"client_id": "cid", "client_secret": "cs", "username": "u@x", "password": "pw"}
    app = embedded_app(credentials, data)

    async def main() -> None:
        async with client(app) as api:
            token = await login(api, client_id="cid", client_secret="cs", username="u@x",
                                password="pw")
            body = await ok(api.get(CLIENTS, params={"pagina": 0, "itens_por_pagina": 500},
                                    headers={"Authorization": f"Bearer {token}"}))
            assert body["paginacao"]["total_registros"] == 30

    asyncio.run(main())
    fresh = embedded_app(credentials, None)
    assert len(fresh.state.store.clients) == sim.EMBEDDED_CLIENTS
    with pytest.raises(SecretError, match=r"credentials\.username, credentials\.password"):
        embedded_app({"client_id": "cid", "client_secret": "cs"}, None)
    with pytest.raises(ValueError, match="version"):
        Store.from_json({"version": 99, "clientes": []})


def test_the_erp_name_finds_this_simulator() -> None:
    assert simulator("hubsoft") is sim
