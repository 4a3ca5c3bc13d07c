"""The Qualifica simulator through its wire API, in process (httpx over ASGI)."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from reconciler.errors import SecretError, StateError
from reconciler.platforms.qualifica import sim as qualifica
from reconciler.platforms.qualifica.sim import create_app, embedded_app
from reconciler.platforms.qualifica.sim_store import DEFAULT_PRODUCTS, Store
from reconciler.sim import simulator
from reconciler.sim.clock import FakeClock
from reconciler.sim.embedded import embedded_path, open_embedded
from reconciler.sim.serve import build_app

SECRET = "unit-sim-client-secret"
CLIENT_ID = "unit-client"
CREDENTIALS = {"grant_type": "client_credentials", "client_id": CLIENT_ID,
               "client_secret": SECRET}
MARIA = {"usuario": "maria.silva@example.com", "nome": "Maria Silva",
         "email": "maria@example.com", "documento": "52998224725"}
MARIA_PATH = "/usuarios/maria.silva%40example.com"
Scenario = Callable[[httpx.AsyncClient], Awaitable[None]]


def make(**kwargs: Any) -> tuple[Starlette, FakeClock]:
    clock = FakeClock()  # 2023-11-14T22:13:20Z
    return create_app(SECRET, client_id=CLIENT_ID, clock=clock, **kwargs), clock


def client(app: Starlette, token: str | None = None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://sim", headers=headers)


async def login(api: httpx.AsyncClient, **overrides: Any) -> str:
    response = await api.post("/oauth/token", json={**CREDENTIALS, **overrides})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def run(app: Starlette, scenario: Scenario) -> None:
    """Run ``scenario`` with a client already logged in."""

    async def main() -> None:
        async with client(app) as anonymous:
            token = await login(anonymous)
        async with client(app, token) as api:
            await scenario(api)

    asyncio.run(main())


async def create_user(api: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    response = await api.post("/usuarios", json={**MARIA, **overrides})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def grant(api: httpx.AsyncClient, produto: str, path: str = MARIA_PATH,
                **fields: Any) -> httpx.Response:
    return await api.post(f"{path}/produtos", json={"produto": produto, **fields})


async def users(api: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    body = (await api.get("/usuarios", params={"por_pagina": 1000})).json()
    return {u["usuario"]: u for u in body["usuarios"]}


async def counters(api: httpx.AsyncClient) -> dict[str, Any]:
    return (await api.get("/_sim/counters")).json()  # type: ignore[no-any-return]


# -- auth --------------------------------------------------------------------------------------


def test_login_with_json_or_form_body_issues_bearer_tokens() -> None:
    app, _ = make()

    async def main() -> None:
        async with client(app) as api:
            response = await api.post("/oauth/token", json=CREDENTIALS)
            assert response.status_code == 200
            body = response.json()
            assert set(body) == {"access_token", "token_type", "expires_in"}
            assert (body["token_type"], body["expires_in"]) == ("Bearer", 3600)
            form = await api.post("/oauth/token", data=CREDENTIALS)
            assert form.status_code == 200
            assert form.json()["access_token"] != body["access_token"]
            for token in (body["access_token"], form.json()["access_token"]):
                listed = await api.get("/produtos", headers={"Authorization": f"Bearer {token}"})
                assert listed.status_code == 200
            assert (await counters(api))["logins"] == 2

    asyncio.run(main())


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({**CREDENTIALS, "client_secret": "wrong-secret"}, 401, "invalid_client"),
        ({**CREDENTIALS, "client_id": "someone-else"}, 401, "invalid_client"),
        ({**CREDENTIALS, "grant_type": "password"}, 400, "unsupported_grant_type"),
        ({"grant_type": "client_credentials", "client_id": CLIENT_ID}, 400, "invalid_request"),
        ([CREDENTIALS], 400, "invalid_request"),
    ],
)
def test_login_refuses_bad_credentials_and_requests(body: Any, status: int, error: str) -> None:
    app, _ = make()

    async def main() -> None:
        async with client(app) as api:
            response = await api.post("/oauth/token", json=body)
            assert (response.status_code, response.json()) == (status, {"error": error})
            assert SECRET not in response.text
            assert (await counters(api))["logins"] == 0

    asyncio.run(main())


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "Bearer ", f"Basic {SECRET}"])
def test_platform_routes_need_a_valid_bearer_token(authorization: str | None) -> None:
    app, _ = make()

    async def main() -> None:
        headers = {"Authorization": authorization} if authorization is not None else {}
        async with client(app) as api:
            for method, path in (("GET", "/produtos"), ("GET", "/usuarios"),
                                 ("POST", "/usuarios"), ("DELETE", f"{MARIA_PATH}/produtos/pro")):
                response = await api.request(method, path, headers=headers, json={})
                assert response.status_code == 401
                assert response.json()["erro"] == "token_invalido"
                assert response.headers["www-authenticate"] == "Bearer"

    asyncio.run(main())


def test_tokens_expire_with_the_simulator_clock() -> None:
    app, clock = make(token_ttl=60)

    async def main() -> None:
        async with client(app) as anonymous:
            response = await anonymous.post("/oauth/token", json=CREDENTIALS)
            assert response.json()["expires_in"] == 60
            token = response.json()["access_token"]
        async with client(app, token) as api:
            clock.advance(59)
            assert (await api.get("/produtos")).status_code == 200
            clock.advance(1)
            expired = await api.get("/produtos")
            assert (expired.status_code, expired.json()["erro"]) == (401, "token_invalido")
            fresh = await login(api)
            renewed = await api.get("/produtos", headers={"Authorization": f"Bearer {fresh}"})
            assert renewed.status_code == 200

    asyncio.run(main())


def test_admin_expire_invalidates_every_live_token() -> None:
    app, _ = make()

    async def main() -> None:
        async with client(app) as api:
            tokens = [await login(api), await login(api)]
            assert (await api.post("/_sim/tokens/expire")).json() == {"expired": 2}
            for token in tokens:
                response = await api.get("/produtos", headers={"Authorization": f"Bearer {token}"})
                assert response.status_code == 401
            assert (await api.post("/_sim/tokens/expire")).json() == {"expired": 0}
            assert (await counters(api))["logins"] == 2

    asyncio.run(main())


def test_token_ttl_set_at_run_time_applies_to_new_tokens() -> None:
    app, clock = make()

    async def main() -> None:
        async with client(app) as api:
            old = await login(api)
            assert (await api.post("/_sim/config", json={"token_ttl": 10})).json()[
                "token_ttl"] == 10
            response = await api.post("/oauth/token", json=CREDENTIALS)
            new = response.json()["access_token"]
            assert response.json()["expires_in"] == 10
            clock.advance(11)
            for token, status in ((old, 200), (new, 401)):
                answer = await api.get("/produtos", headers={"Authorization": f"Bearer {token}"})
                assert answer.status_code == status

    asyncio.run(main())


# -- products ----------------------------------------------------------------------------------


def test_product_catalog_has_defaults_and_is_configurable() -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        products = (await api.get("/produtos")).json()["produtos"]
        assert [p["codigo"] for p in products] == ["pro", "premium", "1001"]
        assert all(set(p) == {"codigo", "nome", "ativo"} and p["ativo"] for p in products)
        new = [{"codigo": "pro", "nome": "Pro", "ativo": True},
               {"codigo": "legado", "nome": "Legado", "ativo": False}]
        assert (await api.post("/_sim/config", json={"products": new})).status_code == 200
        assert (await api.get("/produtos")).json()["produtos"] == new
        await create_user(api)
        refused = await grant(api, "legado")
        assert (refused.status_code, refused.json()["erro"]) == (422, "produto_inexistente")
        assert "Produtos válidos: pro." in refused.json()["mensagem"]
        unknown = await grant(api, "premium")  # no longer in the catalog
        assert (unknown.status_code, unknown.json()["erro"]) == (422, "produto_inexistente")

    run(make()[0], scenario)


def test_products_given_to_create_app_are_checked() -> None:
    app, _ = make(products=[{"codigo": "x1", "nome": "X"}])
    assert app.state.store.products == [{"codigo": "x1", "nome": "X", "ativo": True}]
    with pytest.raises(ValueError, match="distinct"):
        make(products=[{"codigo": "x", "nome": "X"}, {"codigo": "x", "nome": "Y"}])
    with pytest.raises(ValueError, match="token_ttl"):
        make(token_ttl=0)


# -- users -------------------------------------------------------------------------------------


def test_create_user_stores_a_password_digest_and_never_shows_it() -> None:
    app, _ = make()

    async def scenario(api: httpx.AsyncClient) -> None:
        created = await create_user(api, senha="52998224725")
        assert created == {**MARIA, "produtos": []}
        await create_user(api, usuario="joao", email=None)
        again = await api.post("/usuarios", json=MARIA)
        assert (again.status_code, again.json()["erro"]) == (409, "usuario_existente")
        listed = await users(api)
        assert listed["joao"] == {"usuario": "joao", "nome": "Maria Silva", "email": None,
                                  "documento": "52998224725", "produtos": []}
        assert "senha" not in json.dumps(listed)

    run(app, scenario)
    store: Store = app.state.store
    digest = hashlib.sha256(b"52998224725").hexdigest()
    assert store.users[MARIA["usuario"]].senha_sha256 == digest
    assert store.users["joao"].senha_sha256 is None  # the platform's default initial access


@pytest.mark.parametrize(
    "overrides",
    [{"usuario": "a/b"}, {"usuario": "dois nomes"}, {"usuario": ""}, {"usuario": 12},
     {"nome": None}, {"documento": ""}, {"email": 5}, {"senha": ["x"]}],
)
def test_create_user_validates_the_body(overrides: dict[str, Any]) -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        response = await api.post("/usuarios", json={**MARIA, **overrides})
        assert (response.status_code, response.json()["erro"]) == (422, "dados_invalidos")
        assert (await users(api)) == {}

    run(make()[0], scenario)


def test_update_user_counts_only_real_changes() -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        await create_user(api)
        changed = {"nome": "Maria S.", "email": None, "documento": "52998224725"}
        for _ in range(2):
            response = await api.put(MARIA_PATH, json=changed)
            assert response.status_code == 200
            assert response.json() == {**changed, "usuario": MARIA["usuario"], "produtos": []}
        missing = await api.put("/usuarios/nobody", json=changed)
        assert (missing.status_code, missing.json()["erro"]) == (404, "usuario_inexistente")
        bad = await api.put(MARIA_PATH, json={"nome": "x"})
        assert (bad.status_code, bad.json()["erro"]) == (422, "dados_invalidos")
        writes = (await counters(api))["writes"]
        assert writes == {MARIA["usuario"]: {"criar": 1, "atualizar": 1}}

    run(make()[0], scenario)


# -- entitlements ------------------------------------------------------------------------------


def test_grant_defaults_the_expiry_to_one_year_after_the_sim_clock_today() -> None:
    app, clock = make(token_ttl=7 * 86_400)

    async def scenario(api: httpx.AsyncClient) -> None:
        await create_user(api)
        first = await grant(api, "pro")
        assert first.status_code == 201
        assert first.json() == {"produto": "pro", "status": "ativo",
                                "data_expiracao": "2024-11-13", "id_cliente_servico": None}
        clock.advance(2 * 86_400)
        later = await grant(api, "premium", id_cliente_servico=7001)
        assert later.json()["data_expiracao"] == "2024-11-15"
        given = await grant(api, "1001", data_expiracao="2025-01-31", id_cliente_servico=7002)
        assert given.json() == {"produto": "1001", "status": "ativo",
                                "data_expiracao": "2025-01-31", "id_cliente_servico": 7002}
        listed = (await users(api))[MARIA["usuario"]]["produtos"]
        assert [p["produto"] for p in listed] == ["1001", "premium", "pro"]

    run(app, scenario)


@pytest.mark.parametrize(
    ("fields", "status", "erro"),
    [
        ({"data_expiracao": "2024-02-30"}, 422, "data_invalida"),
        ({"data_expiracao": "14/11/2024"}, 422, "data_invalida"),
        ({"data_expiracao": 20241114}, 422, "data_invalida"),
        ({"id_cliente_servico": "7001"}, 422, "dados_invalidos"),
        ({"id_cliente_servico": True}, 422, "dados_invalidos"),
        ({"produto": "nope"}, 422, "produto_inexistente"),
        ({"produto": None}, 422, "dados_invalidos"),
    ],
)
def test_grant_validates_the_body(fields: dict[str, Any], status: int, erro: str) -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        await create_user(api)
        response = await api.post(f"{MARIA_PATH}/produtos", json={"produto": "pro", **fields})
        assert (response.status_code, response.json()["erro"]) == (status, erro)
        assert (await users(api))[MARIA["usuario"]]["produtos"] == []

    run(make()[0], scenario)


def test_grant_conflicts_and_reactivation_of_a_cancelled_product() -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        missing = await grant(api, "pro")
        assert (missing.status_code, missing.json()["erro"]) == (404, "usuario_inexistente")
        await create_user(api)
        assert (await grant(api, "pro", id_cliente_servico=1)).status_code == 201
        again = await grant(api, "pro")
        assert (again.status_code, again.json()["erro"]) == (409, "produto_ja_vinculado")
        await api.patch(f"{MARIA_PATH}/produtos/pro", json={"status": "suspenso"})
        suspended = await grant(api, "pro")
        assert (suspended.status_code, suspended.json()["erro"]) == (409, "produto_ja_vinculado")
        for _ in range(2):
            cancelled = await api.delete(f"{MARIA_PATH}/produtos/pro")
            assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelado")
        listed = (await users(api))[MARIA["usuario"]]["produtos"]
        assert [(p["produto"], p["status"]) for p in listed] == [("pro", "cancelado")]
        back = await grant(api, "pro", data_expiracao="2026-06-30")
        assert back.status_code == 201
        assert back.json() == {"produto": "pro", "status": "ativo",
                               "data_expiracao": "2026-06-30", "id_cliente_servico": None}
        writes = (await counters(api))["writes"][f"{MARIA['usuario']}/pro"]
        assert writes == {"vincular": 1, "suspender": 1, "cancelar": 1, "reativar": 1}

    run(make()[0], scenario)


def test_patch_changes_status_expiry_and_service() -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        await create_user(api)
        await grant(api, "pro", id_cliente_servico=7001, data_expiracao="2024-12-31")
        path = f"{MARIA_PATH}/produtos/pro"
        for _ in range(2):
            suspended = await api.patch(path, json={"status": "suspenso"})
            assert (suspended.status_code, suspended.json()["status"]) == (200, "suspenso")
        resumed = await api.patch(path, json={"status": "ativo", "data_expiracao": "2025-12-31"})
        assert resumed.json() == {"produto": "pro", "status": "ativo",
                                  "data_expiracao": "2025-12-31", "id_cliente_servico": 7001}
        kept = await api.patch(path, json={"id_cliente_servico": 7002, "data_expiracao": None})
        assert kept.json()["data_expiracao"] == "2025-12-31"  # null keeps the expiry
        cleared = await api.patch(path, json={"id_cliente_servico": None})
        assert cleared.json()["id_cliente_servico"] is None  # null clears the service
        for body, erro in (({"status": "cancelado"}, "dados_invalidos"), ({}, "dados_invalidos"),
                           ({"data_expiracao": "2025-13-01"}, "data_invalida")):
            refused = await api.patch(path, json=body)
            assert (refused.status_code, refused.json()["erro"]) == (422, erro)
        writes = (await counters(api))["writes"][f"{MARIA['usuario']}/pro"]
        assert writes == {"vincular": 1, "suspender": 1, "ativar": 1, "alterar": 3}

    run(make()[0], scenario)


def test_patch_and_delete_of_missing_or_cancelled_entitlements() -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        await create_user(api)
        for method in ("PATCH", "DELETE"):
            absent = await api.request(method, f"{MARIA_PATH}/produtos/pro",
                                       json={"status": "ativo"})
            assert (absent.status_code, absent.json()["erro"]) == (404, "produto_nao_vinculado")
            nobody = await api.request(method, "/usuarios/nobody/produtos/pro",
                                       json={"status": "ativo"})
            assert (nobody.status_code, nobody.json()["erro"]) == (404, "usuario_inexistente")
        await grant(api, "pro")
        await api.delete(f"{MARIA_PATH}/produtos/pro")
        for status in ("ativo", "suspenso"):
            refused = await api.patch(f"{MARIA_PATH}/produtos/pro", json={"status": status})
            assert (refused.status_code, refused.json()["erro"]) == (409, "produto_cancelado")

    run(make()[0], scenario)


# -- listing -----------------------------------------------------------------------------------


def test_listing_is_sorted_and_paginated_from_page_zero() -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        empty = (await api.get("/usuarios")).json()
        assert empty == {"usuarios": [], "pagina": 0, "por_pagina": 100, "total": 0,
                         "paginas": 0}
        for name in ("g", "c", "a", "f", "b", "e", "d"):
            await create_user(api, usuario=name)
        seen = []
        for page in range(3):
            body = (await api.get("/usuarios", params={"pagina": page, "por_pagina": 3})).json()
            assert {k: body[k] for k in ("pagina", "por_pagina", "total", "paginas")} == {
                "pagina": page, "por_pagina": 3, "total": 7, "paginas": 3}
            seen += [u["usuario"] for u in body["usuarios"]]
        assert seen == ["a", "b", "c", "d", "e", "f", "g"]
        past = (await api.get("/usuarios", params={"pagina": 3, "por_pagina": 3})).json()
        assert past["usuarios"] == [] and past["total"] == 7

    run(make()[0], scenario)


# -- counters, reset, config -------------------------------------------------------------------


def test_counters_count_requests_per_route_and_only_effective_writes() -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        await create_user(api)
        await api.post("/usuarios", json=MARIA)  # exists: not a write
        await api.put(MARIA_PATH, json=MARIA)  # same data: not a write
        await grant(api, "pro")
        await grant(api, "pro")  # already granted: not a write
        await api.patch(f"{MARIA_PATH}/produtos/pro", json={"status": "ativo"})  # no change
        await api.delete(f"{MARIA_PATH}/produtos/pro")
        await api.delete(f"{MARIA_PATH}/produtos/pro")  # already cancelled: not a write
        await api.get("/produtos")
        assert await counters(api) == {
            "requests": {
                "POST /oauth/token": 1,
                "POST /usuarios": 2,
                "PUT /usuarios/{usuario}": 1,
                "POST /usuarios/{usuario}/produtos": 2,
                "PATCH /usuarios/{usuario}/produtos/{produto}": 1,
                "DELETE /usuarios/{usuario}/produtos/{produto}": 2,
                "GET /produtos": 1,
            },
            "writes": {MARIA["usuario"]: {"criar": 1},
                       f"{MARIA['usuario']}/pro": {"vincular": 1, "cancelar": 1}},
            "logins": 1,
        }

    run(make()[0], scenario)


def test_reset_empties_the_platform_and_keeps_settings_and_tokens() -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        await create_user(api)
        only = [{"codigo": "x", "nome": "X", "ativo": True}]
        await api.post("/_sim/config", json={"products": only, "token_ttl": 120})
        assert (await api.post("/_sim/reset")).json() == {"reset": True}
        assert (await counters(api)) == {"requests": {}, "writes": {}, "logins": 0}
        assert (await users(api)) == {}  # the token still works
        config = (await api.get("/_sim/config")).json()
        assert config["token_ttl"] == 120
        assert config["products"] == [dict(p) for p in DEFAULT_PRODUCTS]

    run(make()[0], scenario)


# -- persistence and embedding -----------------------------------------------------------------


def test_store_round_trips_through_json_without_tokens() -> None:
    app, clock = make()
    tokens: list[str] = []

    async def scenario(api: httpx.AsyncClient) -> None:
        tokens.append(api.headers["authorization"].split()[1])
        await create_user(api, senha="s")
        await create_user(api, usuario="joao", email=None)
        await grant(api, "pro", id_cliente_servico=7001)
        await grant(api, "premium", path="/usuarios/joao")
        await api.patch("/usuarios/joao/produtos/premium", json={"status": "suspenso"})
        await api.delete(f"{MARIA_PATH}/produtos/pro")

    run(app, scenario)
    data = json.loads(json.dumps(app.state.store.to_json()))
    assert tokens[0] not in json.dumps(data)
    copy = Store.from_json(data, clock=clock)
    assert copy.to_json() == data
    assert copy.keys == ["joao", MARIA["usuario"]]
    assert copy.users["joao"].produtos["premium"].status == "suspenso"
    assert copy.users[MARIA["usuario"]].senha_sha256 == hashlib.sha256(b"s").hexdigest()
    with pytest.raises(ValueError, match="version"):
        Store.from_json({**data, "version": 99})

    async def resumed() -> None:
        async with client(create_app(SECRET, client_id=CLIENT_ID, store=copy), tokens[0]) as api:
            assert (await api.get("/usuarios")).status_code == 401  # tokens are not persisted
            token = await login(api)
            body = (await api.get("/usuarios", headers={"Authorization": f"Bearer {token}"}))
            assert body.json()["total"] == 2

    asyncio.run(resumed())


def test_embedded_app_needs_both_credentials() -> None:
    for credentials in ({}, {"client_id": CLIENT_ID}, {"client_secret": SECRET},
                        {"client_id": "", "client_secret": SECRET}):
        with pytest.raises(SecretError, match=r"credentials\.client_id and credentials\.client_sec"):
            embedded_app(credentials, None)
    app = embedded_app({"client_id": CLIENT_ID, "client_secret": SECRET}, None)

    async def main() -> None:
        async with client(app) as api:
            assert (await api.post("/oauth/token", json=CREDENTIALS)).status_code == 200
            other = {**CREDENTIALS, "client_id": qualifica.DEFAULT_CLIENT_ID}
            assert (await api.post("/oauth/token", json=other)).status_code == 401

    asyncio.run(main())


def test_embedded_platform_persists_between_opens(tmp_path: Path) -> None:
    credentials = {"client_id": CLIENT_ID, "client_secret": SECRET}

    async def first() -> None:
        async with open_embedded("qualifica", "qualifica-sp", tmp_path, credentials) as platform:
            async with client(platform.app) as anonymous:
                token = await login(anonymous)
            async with client(platform.app, token) as api:
                await create_user(api)
                assert (await grant(api, "pro")).status_code == 201

    async def second() -> None:
        async with open_embedded("qualifica", "qualifica-sp", tmp_path, credentials) as platform:
            async with client(platform.app) as anonymous:
                token = await login(anonymous)
            async with client(platform.app, token) as api:
                listed = await users(api)
                assert [p["produto"] for p in listed[MARIA["usuario"]]["produtos"]] == ["pro"]

    asyncio.run(first())
    path = embedded_path("qualifica", "qualifica-sp", tmp_path)
    assert SECRET not in path.read_text() and CLIENT_ID not in path.read_text()
    asyncio.run(second())
    path.write_text('{"version": 99}')
    with pytest.raises(StateError, match="delete the file"):
        open_embedded("qualifica", "qualifica-sp", tmp_path, credentials)


def test_build_app_wires_the_secret_faults_and_options() -> None:
    app = build_app("qualifica", token=SECRET, seed=1, faults={"error_rate": 0.5},
                    options={"token_ttl": 5.0})
    assert app.state.tokens.ttl == 5.0 and app.state.faults.error_rate == 0.5
    assert simulator("qualifica") is qualifica

    async def main() -> None:
        app.state.faults.configure(error_rate=0.0)
        async with client(app) as api:
            body = {**CREDENTIALS, "client_id": "sim-client"}
            response = await api.post("/oauth/token", json=body)
            assert (response.status_code, response.json()["expires_in"]) == (200, 5)

    asyncio.run(main())
