"""The Campsoft simulator through its wire API, in process (httpx over ASGI)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from reconciler.errors import SecretError, StateError
from reconciler.platforms.campsoft.sim import create_app, embedded_app
from reconciler.platforms.campsoft.sim_store import Store, password_digest
from reconciler.sim.clock import FakeClock
from reconciler.sim.embedded import embedded_path, open_embedded

SECRET = "unit-api-secret"
KEY = "sim-key"
CUSTOMER = {"name": "Maria Silva", "document": "52998224725", "email": "maria@example.com",
            "phone": "11987654321", "login": "maria.pppoe", "password": "52998224725"}
Scenario = Callable[[httpx.AsyncClient], Awaitable[None]]


def make(**kwargs: Any) -> tuple[Starlette, FakeClock]:
    clock = FakeClock()
    return create_app(SECRET, clock=clock, **kwargs), clock


def plain(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim")


async def login(api: httpx.AsyncClient, key: str = KEY, secret: str = SECRET) -> str:
    response = await api.post("/authentication", json={"ApiKey": key, "ApiSecret": secret})
    assert response.status_code == 200, response.text
    token = response.json()["AccessToken"]
    api.headers["Authorization"] = f"Bearer {token}"
    return str(token)


def run(app: Starlette, scenario: Scenario) -> None:
    async def main() -> None:
        async with plain(app) as api:
            await login(api)
            await scenario(api)

    asyncio.run(main())


def subscription(contract: str = "7001", label: str = "livros-7001", product: str = "1234567",
                 **customer: Any) -> dict[str, Any]:
    return {"isp_identifier": "isp-sim", "contract_identifier": contract, "label": label,
            "product_code": product, "customer": {**CUSTOMER, **customer}}


async def subscribe(api: httpx.AsyncClient, **kwargs: Any) -> str:
    response = await api.post("/subscriptions", json=subscription(**kwargs))
    assert response.status_code == 201, response.text
    return str(response.json()["subscription_id"])


async def listing(api: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await api.get("/subscriptions", params=params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


# -- authentication ----------------------------------------------------------------------------


@pytest.mark.parametrize("names", [("ApiKey", "ApiSecret"), ("apiKey", "apiSecret")])
def test_authentication_accepts_both_casings_and_expires_in_is_an_epoch(
    names: tuple[str, str]
) -> None:
    app, clock = make(token_ttl=600)

    async def main() -> None:
        async with plain(app) as api:
            response = await api.post("/authentication", json={names[0]: KEY, names[1]: SECRET})
            assert response.status_code == 200
            body = response.json()
            assert set(body) == {"AccessToken", "ExpiresIn"}
            assert body["ExpiresIn"] == int(clock.now()) + 600
            assert isinstance(body["ExpiresIn"], int)
            headers = {"Authorization": f"Bearer {body['AccessToken']}"}
            assert (await api.get("/isps", headers=headers)).status_code == 200

    asyncio.run(main())
    assert app.state.store.logins == 1


@pytest.mark.parametrize("body", [{"ApiKey": KEY, "ApiSecret": "wrong"},
                                  {"ApiKey": "other-key", "ApiSecret": SECRET},
                                  {"ApiKey": KEY}, {"ApiKey": 1, "ApiSecret": SECRET}, {}])
def test_bad_credentials_are_401_and_never_echoed(body: dict[str, Any]) -> None:
    app, _ = make()

    async def main() -> None:
        async with plain(app) as api:
            response = await api.post("/authentication", json=body)
            assert response.status_code == 401
            assert response.json() == {"message": "invalid ApiKey or ApiSecret"}
            assert SECRET not in response.text and "wrong" not in response.text

    asyncio.run(main())
    assert app.state.store.logins == 0


@pytest.mark.parametrize("header", [None, "Bearer nope", "Basic abc", "Bearer "])
def test_every_platform_route_needs_a_valid_bearer_token(header: str | None) -> None:
    app, _ = make()

    async def main() -> None:
        headers = {"Authorization": header} if header else {}
        async with plain(app) as api:
            calls = [("GET", "/isps"), ("GET", "/products"), ("GET", "/subscriptions"),
                     ("POST", "/subscriptions"), ("PUT", "/subscriptions/sub-000001"),
                     ("POST", "/subscriptions/sub-000001/cancel"), ("POST", "/validation")]
            for method, path in calls:
                response = await api.request(method, path, headers=headers, json={})
                assert response.status_code == 401, path
                assert response.json() == {"message": "invalid or expired access token"}

    asyncio.run(main())
    assert app.state.store.subscriptions == {}


def test_tokens_expire_by_the_clock_and_by_the_admin_endpoint() -> None:
    app, clock = make(token_ttl=100)

    async def main() -> None:
        async with plain(app) as api:
            await login(api)
            clock.advance(99)
            assert (await api.get("/isps")).status_code == 200
            clock.advance(1)
            assert (await api.get("/isps")).status_code == 401
            first = await login(api)
            second = await login(api)
            assert first != second
            expired = await api.post("/_sim/tokens/expire")
            assert expired.json() == {"expired": 2}
            assert (await api.get("/isps")).status_code == 401
            await login(api)
            assert (await api.get("/isps")).status_code == 200
            counters = (await api.get("/_sim/counters")).json()
            assert counters["logins"] == 4
            assert counters["requests"]["POST /authentication"] == 4

    asyncio.run(main())


# -- ISPs and products -------------------------------------------------------------------------


def test_isps_default_to_one_and_can_be_given() -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        isps = (await api.get("/isps")).json()
        assert isps == [{"isp_identifier": "isp-sim", "name": "Provedor Simulado"}]

    run(make()[0], scenario)
    several = [{"isp_identifier": "a", "name": "A"}, {"isp_identifier": "b", "name": "B"}]

    async def configured(api: httpx.AsyncClient) -> None:
        assert (await api.get("/isps")).json() == several

    run(make(isps=several)[0], configured)


def test_products_list_only_active_ones_unless_status_all() -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        active = (await api.get("/products")).json()["products"]
        assert active and all(p["status"] == "active" for p in active)
        assert all(p["code"].isdigit() and len(p["code"]) == 7 for p in active)
        assert (await api.get("/products", params={"status": "active"})).json()[
            "products"] == active
        every = (await api.get("/products", params={"status": "all"})).json()["products"]
        inactive = [p for p in every if p["status"] == "inactive"]
        assert len(inactive) == 1 and len(every) == len(active) + 1
        only = (await api.get("/products", params={"status": "inactive"})).json()["products"]
        assert only == inactive
        bad = await api.get("/products", params={"status": "ativo"})
        assert bad.status_code == 422 and "status" in bad.json()["message"]

    run(make()[0], scenario)


# -- subscriptions -----------------------------------------------------------------------------


def test_subscribe_and_list_without_the_password() -> None:
    app, _ = make()

    async def scenario(api: httpx.AsyncClient) -> None:
        response = await api.post("/subscriptions", json=subscription(password="s3nha-clara"))
        assert response.status_code == 201
        assert response.json() == {"subscription_id": "sub-000001", "status": "active"}
        body = await listing(api)
        assert body["items"] == [{
            "subscription_id": "sub-000001", "isp_identifier": "isp-sim",
            "contract_identifier": "7001", "label": "livros-7001", "product_code": "1234567",
            "status": "active",
            "customer": {k: v for k, v in CUSTOMER.items() if k != "password"},
        }]
        assert "password" not in json.dumps(body)

    run(app, scenario)
    customer = app.state.store.subscriptions["sub-000001"].customer
    assert customer.password_sha256 == password_digest("s3nha-clara")
    assert "s3nha-clara" not in json.dumps(app.state.store.to_json())  # only the digest


@pytest.mark.parametrize("customer", [{"email": None}, {"email": ""}, {"phone": ""},
                                      {"phone": None, "email": None}])
def test_subscribe_needs_email_and_phone(customer: dict[str, Any]) -> None:
    app, _ = make()

    async def scenario(api: httpx.AsyncClient) -> None:
        response = await api.post("/subscriptions", json=subscription(**customer))
        assert response.status_code == 422
        assert response.json() == {"message": "customer e-mail and phone are required"}
        without = subscription()
        for name in customer:
            del without["customer"][name]
        missing = await api.post("/subscriptions", json=without)
        assert missing.json() == {"message": "customer e-mail and phone are required"}

    run(app, scenario)
    assert app.state.store.subscriptions == {} and app.state.store.writes == {}


@pytest.mark.parametrize("product", ["9000001", "1111111"])  # inactive, unknown
def test_subscribe_refuses_unknown_or_inactive_products(product: str) -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        response = await api.post("/subscriptions", json=subscription(product=product))
        assert response.status_code == 422
        message = response.json()["message"]
        assert product in message and "1234567" in message and "9000001" not in message.split(
            "active products:")[1]
        assert (await listing(api))["total"] == 0

    run(make()[0], scenario)


def test_subscribe_validates_the_body() -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        assert (await api.post("/subscriptions", content=b"{")).status_code == 400
        assert (await api.post("/subscriptions", json=[1])).status_code == 400
        for broken in ({"contract_identifier": 7001}, {"label": ""}, {"customer": "x"},
                       {"isp_identifier": "other-isp"}):
            response = await api.post("/subscriptions", json={**subscription(), **broken})
            assert response.status_code == 422, broken
        no_name = subscription(name=None)
        assert (await api.post("/subscriptions", json=no_name)).status_code == 422
        no_login = subscription(login=None, password=None)
        assert (await api.post("/subscriptions", json=no_login)).status_code == 201
        assert (await listing(api))["total"] == 1

    run(make()[0], scenario)


def test_duplicate_is_409_with_the_id_and_a_cancelled_one_is_reactivated() -> None:
    app, _ = make()

    async def scenario(api: httpx.AsyncClient) -> None:
        first = await subscribe(api)
        again = await api.post("/subscriptions", json=subscription(product="7654321"))
        assert again.status_code == 409
        assert again.json()["subscription_id"] == first and again.json()["message"]
        await api.post(f"/subscriptions/{first}/suspend")
        suspended = await api.post("/subscriptions", json=subscription())
        assert (suspended.status_code, suspended.json()["subscription_id"]) == (409, first)
        assert (await api.post(f"/subscriptions/{first}/cancel")).status_code == 200
        back = await api.post("/subscriptions", json=subscription(product="7654321",
                                                                   name="Maria S."))
        assert back.status_code == 201
        assert back.json() == {"subscription_id": first, "status": "active"}
        item = (await listing(api))["items"][0]
        assert (item["product_code"], item["status"], item["customer"]["name"]) == (
            "7654321", "active", "Maria S.")
        assert (await listing(api))["total"] == 1

    run(app, scenario)
    assert app.state.store.writes == {"7001/livros-7001": {"create": 2, "suspend": 1,
                                                           "cancel": 1}}


def test_update_changes_product_and_customer_fields() -> None:
    app, _ = make()

    async def scenario(api: httpx.AsyncClient) -> None:
        sub = await subscribe(api)
        changed = await api.put(f"/subscriptions/{sub}", json={
            "product_code": "7654321", "customer": {"phone": "11900000000", "password": "x1"}})
        assert changed.status_code == 200
        item = changed.json()
        assert item["product_code"] == "7654321"
        assert item["customer"] == {**{k: v for k, v in CUSTOMER.items() if k != "password"},
                                    "phone": "11900000000"}
        same = await api.put(f"/subscriptions/{sub}", json={"product_code": "7654321"})
        assert same.status_code == 200
        inactive = await api.put(f"/subscriptions/{sub}", json={"product_code": "9000001"})
        assert inactive.status_code == 422
        cleared = await api.put(f"/subscriptions/{sub}", json={"customer": {"email": ""}})
        assert cleared.json() == {"message": "customer e-mail and phone are required"}
        assert (await api.put("/subscriptions/sub-999999", json={})).status_code == 404
        await api.post(f"/subscriptions/{sub}/cancel")
        gone = await api.put(f"/subscriptions/{sub}", json={"product_code": "1234567"})
        assert gone.status_code == 409

    run(app, scenario)
    store: Store = app.state.store
    assert store.subscriptions["sub-000001"].customer.password_sha256 == password_digest("x1")
    assert store.writes["7001/livros-7001"] == {"create": 1, "update": 1, "cancel": 1}


def test_suspend_reactivate_cancel_are_idempotent() -> None:
    app, _ = make()

    async def scenario(api: httpx.AsyncClient) -> None:
        sub = await subscribe(api)
        path = f"/subscriptions/{sub}"
        expected = [("reactivate", "active"), ("suspend", "suspended"),
                    ("suspend", "suspended"), ("reactivate", "active"),
                    ("reactivate", "active"), ("cancel", "cancelled"), ("cancel", "cancelled")]
        for operation, status in expected:
            response = await api.post(f"{path}/{operation}")
            assert (response.status_code, response.json()["status"]) == (200, status)
        for operation in ("suspend", "reactivate"):
            refused = await api.post(f"{path}/{operation}")
            assert refused.status_code == 409 and "cancelled" in refused.json()["message"]
        assert (await api.post("/subscriptions/sub-000404/cancel")).status_code == 404

    run(app, scenario)
    assert app.state.store.writes["7001/livros-7001"] == {
        "create": 1, "suspend": 1, "reactivate": 1, "cancel": 1}


def test_listing_filters_and_paginates_from_page_one() -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        for n in range(7):
            await subscribe(api, contract=str(8000 + n), label=f"livros-{8000 + n}")
        await subscribe(api, contract="8000", label="kids-8000", product="2468013")
        await api.post("/subscriptions/sub-000002/suspend")
        await api.post("/subscriptions/sub-000003/cancel")
        seen = []
        for page in (1, 2, 3):
            body = await listing(api, page=page, per_page=3)
            assert (body["page"], body["per_page"], body["total"], body["pages"]) == (
                page, 3, 8, 3)
            seen += [item["subscription_id"] for item in body["items"]]
        assert seen == [f"sub-{n:06d}" for n in range(1, 9)]
        assert (await listing(api, page=4, per_page=3))["items"] == []
        default = await listing(api)
        assert (default["page"], default["per_page"], default["pages"]) == (1, 100, 1)

        async def ids(**params: Any) -> list[str]:
            body = await listing(api, **params)
            assert body["total"] == len(body["items"])
            return [item["subscription_id"] for item in body["items"]]

        assert await ids(contract_identifier="8000") == ["sub-000001", "sub-000008"]
        assert await ids(contract_identifier="8000", label="kids-8000") == ["sub-000008"]
        assert await ids(label="livros-8001") == ["sub-000002"]
        assert await ids(status="suspended") == ["sub-000002"]
        assert await ids(status="cancelled") == ["sub-000003"]
        assert len(await ids(status="active")) == 6
        assert await ids(contract_identifier="800") == []  # exact, not a substring
        empty = await listing(api, label="nobody")
        assert (empty["total"], empty["pages"]) == (0, 0)

    run(make()[0], scenario)


def test_validation_checks_login_and_password() -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        await subscribe(api)
        await subscribe(api, label="kids-7001", product="2468013")
        await api.post("/subscriptions/sub-000002/suspend")
        good = {"isp_identifier": "isp-sim", "login": "maria.pppoe", "password": "52998224725"}
        response = await api.post("/validation", json=good)
        assert response.status_code == 200
        body = response.json()
        assert body["userkey"].startswith("usr-") and body["email"] == {
            "data": "maria@example.com"}
        assert body["products"] == [{"code": "1234567", "status": "active"},
                                    {"code": "2468013", "status": "suspended"}]
        for wrong in ({"password": "123"}, {"login": "joao"}, {"isp_identifier": "x"}):
            refused = await api.post("/validation", json={**good, **wrong})
            assert refused.status_code == 401 and refused.json() == {
                "message": "invalid login or password"}

    run(make()[0], scenario)


# -- counters, reset, config -------------------------------------------------------------------


def test_counters_count_routes_and_only_real_changes() -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        sub = await subscribe(api)
        await api.post("/subscriptions", json=subscription())  # 409: not a write
        await api.post("/subscriptions", json=subscription(email=""))  # 422: not a write
        await api.put(f"/subscriptions/{sub}", json={"product_code": "1234567"})  # unchanged
        await api.post(f"/subscriptions/{sub}/reactivate")  # already active
        await api.post(f"/subscriptions/{sub}/suspend")
        await api.post(f"/subscriptions/{sub}/suspend")  # already suspended
        await api.get("/products")
        counters = (await api.get("/_sim/counters")).json()
        assert counters == {
            "requests": {
                "POST /authentication": 1,
                "POST /subscriptions": 3,
                "PUT /subscriptions/{subscription_id}": 1,
                "POST /subscriptions/{subscription_id}/reactivate": 1,
                "POST /subscriptions/{subscription_id}/suspend": 2,
                "GET /products": 1,
            },
            "writes": {"7001/livros-7001": {"create": 1, "suspend": 1}},
            "logins": 1,
        }

    run(make()[0], scenario)


def test_reset_empties_the_platform_and_keeps_settings() -> None:
    app, _ = make(token_ttl=42)

    async def scenario(api: httpx.AsyncClient) -> None:
        await subscribe(api)
        only = [{"code": "5555555", "name": "Only", "status": "active"}]
        await api.post("/_sim/config", json={"products": only})
        assert (await api.post("/_sim/reset")).json() == {"reset": True}
        assert (await listing(api))["items"] == []  # the token survives a reset
        counters = (await api.get("/_sim/counters")).json()
        assert counters == {"requests": {"GET /subscriptions": 1}, "writes": {}, "logins": 0}
        config = (await api.get("/_sim/config")).json()
        assert config["token_ttl"] == 42.0
        assert "1234567" in {p["code"] for p in config["products"]}
        assert (await subscribe(api)) == "sub-000001"

    run(app, scenario)


def test_config_changes_products_isps_and_token_ttl() -> None:
    app, clock = make()

    async def scenario(api: httpx.AsyncClient) -> None:
        products = [{"code": "1000001", "name": "Novo", "status": "active"},
                    {"code": "1000002", "name": "Velho", "status": "inactive"}]
        isps = [{"isp_identifier": "a", "name": "A"}, {"isp_identifier": "b", "name": "B"}]
        changed = await api.post("/_sim/config", json={"products": products, "isps": isps,
                                                       "token_ttl": 10})
        assert changed.status_code == 200
        assert changed.json()["products"] == products and changed.json()["token_ttl"] == 10.0
        assert (await api.get("/products")).json()["products"] == products[:1]
        assert (await api.get("/isps")).json() == isps
        token = (await api.post("/authentication", json={"ApiKey": KEY, "ApiSecret": SECRET}))
        assert token.json()["ExpiresIn"] == int(clock.now()) + 10

    run(app, scenario)


def test_unknown_routes_answer_a_message() -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        response = await api.get("/nothing-here")
        assert response.status_code == 404 and "not found" in response.json()["message"]

    run(make()[0], scenario)


# -- persistence and wiring --------------------------------------------------------------------


def test_store_round_trips_through_json() -> None:
    app, _ = make()

    async def scenario(api: httpx.AsyncClient) -> None:
        await subscribe(api)
        second = await subscribe(api, contract="7002", label="livros-7002", login=None)
        await api.post(f"/subscriptions/{second}/suspend")
        await api.post("/_sim/config", json={"isps": [{"isp_identifier": "isp-sim",
                                                       "name": "Renomeado"}]})

    run(app, scenario)
    data = json.loads(json.dumps(app.state.store.to_json()))
    copy = Store.from_json(data)
    assert copy.to_json() == data
    assert copy.isps[0]["name"] == "Renomeado"
    assert copy.subscriptions["sub-000002"].status == "suspended"
    assert copy.by_key[("isp-sim", "7001", "livros-7001")] == "sub-000001"
    assert copy.next_id == 3
    with pytest.raises(ValueError, match="version"):
        Store.from_json({**data, "version": 99})


def test_embedded_app_checks_credentials() -> None:
    for credentials in ({}, {"api_key": KEY}, {"api_secret": SECRET},
                        {"api_key": "", "api_secret": SECRET}):
        with pytest.raises(SecretError, match=r"credentials\.api_"):
            embedded_app(credentials, None)
    app = embedded_app({"api_key": "k-1", "api_secret": "s-1"}, None)

    async def main() -> None:
        async with plain(app) as api:
            assert (await api.post("/authentication",
                                   json={"ApiKey": KEY, "ApiSecret": SECRET})).status_code == 401
            await login(api, "k-1", "s-1")
            assert (await api.get("/isps")).status_code == 200

    asyncio.run(main())


def test_embedded_platform_persists_between_opens(tmp_path: Path) -> None:
    credentials = {"api_key": "key-embedded", "api_secret": "secret-embedded"}

    def client(platform: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=platform.transport, base_url="http://e")

    async def first() -> None:
        platform = open_embedded("campsoft", "livros", tmp_path, credentials)
        async with platform, client(platform) as api:
            await login(api, "key-embedded", "secret-embedded")
            await subscribe(api)

    async def second() -> str:
        platform = open_embedded("campsoft", "livros", tmp_path, credentials)
        async with platform, client(platform) as api:
            await login(api, "key-embedded", "secret-embedded")  # tokens are not persisted
            return str((await listing(api))["items"][0]["subscription_id"])

    asyncio.run(first())
    path = embedded_path("campsoft", "livros", tmp_path)
    text = path.read_text()
    assert "secret-embedded" not in text and "key-embedded" not in text
    assert asyncio.run(second()) == "sub-000001"
    path.write_text('{"version": 99}')
    with pytest.raises(StateError, match="delete the file"):
        open_embedded("campsoft", "livros", tmp_path, credentials)
