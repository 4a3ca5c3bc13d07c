"""The SaperX v2 simulator through its wire API, in process (httpx over ASGI)."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from reconciler.errors import SecretError
from reconciler.platforms.saperx_v2.sim import create_app, embedded_app
from reconciler.platforms.saperx_v2.sim_store import DEFAULT_PLANS, Store
from reconciler.sim.clock import FakeClock
from reconciler.sim.faults import Faults
from tests.unit.sim_helpers import ok

SECRET = "unit-api-secret"
LOGIN = {"username": "ixc", "password": "pw", "api_key": "key", "api_secret": SECRET}
HOMOLOG_LOGIN = {"username": "ixc-h", "password": "pw-h", "api_key": "key-h",
                 "api_secret": "secret-h"}
DAY = 86400.0
RANGE = {"name": "Florianópolis", "prefix": "5548", "start": "32001000", "end": "32001099"}
LINE = {"password": "s3cret-sip", "plan_id": 102, "closing_day": 10, "billing": "postpaid",
        "route": "SCM", "call_limit": 2, "contract": 7001,
        "dids": [{"number": "554832001000", "monthly_value": "29.90", "collect_calls": True}],
        "caller_id": "554832001000"}
Scenario = Callable[[httpx.AsyncClient], Awaitable[None]]


def make(seed: int | None = 7, **kwargs: Any) -> tuple[Starlette, FakeClock]:
    """The app on a fake clock; tokens live a year unless ``token_ttl`` says otherwise, so
    tests that move the clock by days keep their token."""
    clock = FakeClock()  # 2023-11-14T22:13:20Z
    kwargs.setdefault("token_ttl", 365 * DAY)
    app = create_app(SECRET, username="ixc", password="pw", api_key="key", clock=clock,
                     seed=seed, homologation_credentials=HOMOLOG_LOGIN, **kwargs)
    return app, clock


def client(app: Starlette, token: str | None = None, base: str = "") -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                             base_url=f"http://sim{base}", headers=headers)


async def login(app: Starlette, base: str = "", body: dict[str, str] = LOGIN) -> dict[str, Any]:
    async with client(app, base=base) as anonymous:
        response = await anonymous.post("/api/v2/auth/token", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def run(app: Starlette, scenario: Scenario, base: str = "") -> None:
    """Run ``scenario`` with a client logged in to one environment."""

    async def main() -> None:
        tokens = await login(app, base, HOMOLOG_LOGIN if base else LOGIN)
        async with client(app, tokens["access_token"], base) as api:
            await scenario(api)

    asyncio.run(main())


async def refused(response: Awaitable[httpx.Response], status: int, erro: str) -> str:
    done = await response
    assert (done.status_code, done.json()["erro"]) == (status, erro), done.text
    return str(done.json()["mensagem"])


async def setup_line(api: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    await ok(api.post("/api/v2/ranges", json=RANGE), 201)
    return await ok(api.post("/api/v2/extensions", json={**LINE, **overrides}), 201)


async def writes(api: httpx.AsyncClient) -> dict[str, Any]:
    return (await api.get("/_sim/counters")).json()["writes"]


# -- auth --------------------------------------------------------------------------------------


def test_login_issues_short_access_and_refresh_tokens_and_refuses_bad_credentials() -> None:
    app, _ = make(token_ttl=120)

    async def main() -> None:
        tokens = await login(app)
        assert tokens["expires_in"] == 120 and tokens["refresh_expires_in"] == 7 * 86400
        assert tokens["token_type"] == "Bearer" and tokens["access_token"] != tokens["refresh_token"]
        async with client(app) as anonymous:
            for name in LOGIN:
                await refused(anonymous.post("/api/v2/auth/token", json={**LOGIN, name: "x"}),
                              401, "credenciais_invalidas")
            await refused(anonymous.post("/api/v2/auth/token", json={"username": "ixc"}),
                          422, "dados_invalidos")
            await refused(anonymous.get("/api/v2/extensions"), 401, "token_invalido")
        async with client(app, tokens["refresh_token"]) as wrong:
            await refused(wrong.get("/api/v2/plans"), 401, "token_invalido")

    asyncio.run(main())


def test_refresh_rotates_and_revokes_the_old_refresh_token() -> None:
    app, _ = make()

    async def main() -> None:
        first = await login(app)
        async with client(app) as anonymous:
            body = {"refresh_token": first["refresh_token"]}
            second = await ok(anonymous.post("/api/v2/auth/refresh", json=body))
            assert second["refresh_token"] != first["refresh_token"]
            await refused(anonymous.post("/api/v2/auth/refresh", json=body), 401,
                          "refresh_token_invalido")
            third = await ok(anonymous.post("/api/v2/auth/refresh",
                                            json={"refresh_token": second["refresh_token"]}))
        async with client(app, third["access_token"]) as api:
            await ok(api.get("/api/v2/plans"))
            counters = (await api.get("/_sim/counters")).json()
            assert (counters["logins"], counters["refreshes"]) == (1, 2)

    asyncio.run(main())


def test_expired_access_token_is_refused_then_refresh_works() -> None:
    app, clock = make(token_ttl=60, refresh_ttl=600)

    async def main() -> None:
        tokens = await login(app)
        async with client(app, tokens["access_token"]) as api:
            await ok(api.get("/api/v2/ranges"))
            clock.advance(61)
            await refused(api.get("/api/v2/ranges"), 401, "token_invalido")
            renewed = await ok(api.post("/api/v2/auth/refresh",
                                        json={"refresh_token": tokens["refresh_token"]}))
            await ok(api.get("/api/v2/ranges",
                             headers={"Authorization": f"Bearer {renewed['access_token']}"}))
            assert (await api.post("/_sim/tokens/expire")).json() == {"expired": 1}
            clock.advance(601)  # the refresh token lapses too: only a new login helps
            await refused(api.post("/api/v2/auth/refresh",
                                   json={"refresh_token": renewed["refresh_token"]}),
                          401, "refresh_token_invalido")

    asyncio.run(main())


def test_admin_expire_refresh_invalidates_refresh_tokens_only() -> None:
    app, _ = make()

    async def main() -> None:
        tokens = await login(app)
        async with client(app, tokens["access_token"]) as api:
            assert (await api.post("/_sim/tokens/expire-refresh")).json() == {"expired": 1}
            await ok(api.get("/api/v2/plans"))
            await refused(api.post("/api/v2/auth/refresh",
                                   json={"refresh_token": tokens["refresh_token"]}),
                          401, "refresh_token_invalido")

    asyncio.run(main())


# -- environments ------------------------------------------------------------------------------


def test_homologation_has_its_own_credentials_tokens_and_data() -> None:
    app, _ = make()

    async def main() -> None:
        async with client(app, base="/homolog") as anonymous:
            await refused(anonymous.post("/api/v2/auth/token", json=LOGIN), 401,
                          "credenciais_invalidas")
        production = await login(app)
        homolog = await login(app, "/homolog", HOMOLOG_LOGIN)
        async with client(app, production["access_token"], "/homolog") as crossed:
            await refused(crossed.get("/api/v2/ranges"), 401, "token_invalido")
            await refused(crossed.post("/api/v2/auth/refresh",
                                       json={"refresh_token": production["refresh_token"]}),
                          401, "refresh_token_invalido")
        async with client(app, homolog["access_token"], "/homolog") as api:
            line = await setup_line(api, account_code="123456")
            assert line["account_code"] == "123456"
        async with client(app, production["access_token"]) as api:
            assert (await ok(api.get("/api/v2/extensions")))["total"] == 0
            assert (await ok(api.get("/api/v2/ranges")))["total"] == 0
            await refused(api.get("/api/v2/extensions/123456"), 404, "ramal_inexistente")
            line = await setup_line(api, account_code="123456")  # the same code and DID: fine
            assert line["dids"][0]["number"] == "554832001000"
            assert set(await writes(api)) == {"homologation/123456", "homologation/range/1",
                                              "production/123456", "production/range/1"}

    asyncio.run(main())


def test_without_homologation_credentials_both_environments_take_the_same() -> None:
    app = create_app(SECRET, username="ixc", password="pw", api_key="key")

    async def main() -> None:
        await login(app, "/homolog", LOGIN)

    asyncio.run(main())


# -- catalogs ----------------------------------------------------------------------------------


def test_plan_catalogs_have_defaults_and_are_configurable() -> None:
    app, _ = make()
    plans = [{"id": 7, "name": "Só local", "allowance_minutes": dict.fromkeys(
        ("LC", "LDN", "LDI", "VC1", "VC2", "VC3"), 0),
        "price_per_minute": dict.fromkeys(("LC", "LDN", "LDI", "VC1", "VC2", "VC3"), "0.12")}]

    async def scenario(api: httpx.AsyncClient) -> None:
        listed = await ok(api.get("/api/v2/plans"))
        assert listed["items"] == [dict(p) for p in DEFAULT_PLANS]
        intl = (await ok(api.get("/api/v2/international-plans")))["items"]
        assert {p["id"] for p in intl} == {901, 902} and set(intl[0]["price_per_minute"]) == {"LDI"}
        bad = [{**plans[0], "price_per_minute": {"LC": "0.12"}}]
        await refused(api.post("/_sim/config", json={"plans": bad}), 422, "dados_invalidos")
        await ok(api.post("/_sim/config", json={"plans": plans}))
        assert (await ok(api.get("/api/v2/plans")))["items"] == plans
        await setup_line(api, plan_id=7)
        await refused(api.post("/_sim/config", json={"plans": [{**plans[0], "id": 8}]}), 422,
                      "dados_invalidos")  # plan 7 is in use

    run(app, scenario)


# -- ranges ------------------------------------------------------------------------------------


def test_ranges_are_created_listed_changed_and_deleted() -> None:
    app, _ = make()

    async def scenario(api: httpx.AsyncClient) -> None:
        created = await ok(api.post("/api/v2/ranges", json=RANGE), 201)
        assert created == {"id": 1, **RANGE, "status": "available"}
        assert await ok(api.get("/api/v2/ranges/1")) == created
        wider = {**RANGE, "end": "32001199"}
        assert (await ok(api.put("/api/v2/ranges/1", json=wider)))["end"] == "32001199"
        await ok(api.put("/api/v2/ranges/1", json=wider))  # the same body: no write
        assert (await writes(api))["production/range/1"] == {"create": 1, "update": 1}
        await ok(api.post("/api/v2/ranges", json={**RANGE, "start": "32002000",
                                                  "end": "32002999"}), 201)
        page = await ok(api.get("/api/v2/ranges", params={"per_page": 1, "page": 2}))
        assert (page["total"], page["pages"], [r["id"] for r in page["items"]]) == (2, 2, [2])
        assert await ok(api.delete("/api/v2/ranges/2")) == {"deleted": 2}
        await refused(api.delete("/api/v2/ranges/2"), 404, "range_inexistente")
        await refused(api.put("/api/v2/ranges/9", json=RANGE), 404, "range_inexistente")

    run(app, scenario)


@pytest.mark.parametrize("overrides", [
    {"prefix": "48"}, {"prefix": "5508"}, {"prefix": "1148"}, {"start": "3200100"},
    {"end": "320011000"}, {"start": "32001100", "end": "32001000"}, {"name": None},
    {"start": 32001000},
])
def test_range_fields_are_validated(overrides: dict[str, Any]) -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        await refused(api.post("/api/v2/ranges", json={**RANGE, **overrides}), 422,
                      "dados_invalidos")

    run(make()[0], scenario)


def test_overlapping_ranges_are_refused() -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        await ok(api.post("/api/v2/ranges", json=RANGE), 201)
        for start, end in (("32001099", "32001200"), ("32000000", "32001000"),
                           ("32001010", "32001020")):
            await refused(api.post("/api/v2/ranges", json={**RANGE, "start": start, "end": end}),
                          409, "range_sobreposta")
        await ok(api.post("/api/v2/ranges", json={**RANGE, "prefix": "5547"}), 201)
        await ok(api.post("/api/v2/ranges", json={**RANGE, "start": "32001100",
                                                  "end": "32001199"}), 201)
        await refused(api.put("/api/v2/ranges/3", json={**RANGE, "end": "32001199"}), 409,
                      "range_sobreposta")

    run(make()[0], scenario)


def test_a_range_in_use_cannot_shrink_below_a_used_number_nor_be_deleted() -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        await setup_line(api, dids=[{"number": "554832001050", "monthly_value": "10.00"}],
                         caller_id=None)
        assert (await ok(api.get("/api/v2/ranges/1")))["status"] == "in_use"
        await refused(api.put("/api/v2/ranges/1", json={**RANGE, "end": "32001049"}), 409,
                      "range_em_uso")
        await refused(api.put("/api/v2/ranges/1", json={**RANGE, "prefix": "5547"}), 409,
                      "range_em_uso")
        await ok(api.put("/api/v2/ranges/1", json={**RANGE, "end": "32001050"}))
        await refused(api.delete("/api/v2/ranges/1"), 409, "range_em_uso")
        await ok(api.post("/api/v2/extensions/100000/deactivate"))  # inactive still holds it
        await refused(api.delete("/api/v2/ranges/1"), 409, "range_em_uso")
        await ok(api.put("/api/v2/extensions/100000", json={"dids": []}))
        assert (await ok(api.get("/api/v2/ranges/1")))["status"] == "available"
        await ok(api.delete("/api/v2/ranges/1"))

    run(make()[0], scenario)


# -- extensions --------------------------------------------------------------------------------


def test_create_fills_defaults_and_never_returns_the_password() -> None:
    app, _ = make()

    async def scenario(api: httpx.AsyncClient) -> None:
        line = await setup_line(api)
        assert line["account_code"] == "100000"
        assert {k: line[k] for k in ("active", "blocked", "line_type", "international_plan_id",
                                     "plan_name", "created_on")} == {
            "active": True, "blocked": False, "line_type": "new", "international_plan_id": None,
            "plan_name": "Fixo Brasil 500", "created_on": "2023-11-14"}
        assert line["dids"] == [{"number": "554832001000", "monthly_value": "29.90",
                                 "collect_calls": True, "city": "Florianópolis"}]
        assert line["permissions"]["LC"] is True and line["permissions"]["LDI"] is False
        listed = await ok(api.get("/api/v2/extensions"))
        fetched = await ok(api.get("/api/v2/extensions/100000"))
        for shown in (line, fetched, listed, await writes(api)):
            assert "s3cret-sip" not in json.dumps(shown) and "password" not in json.dumps(shown)
        stored = app.state.store.envs["production"].extensions["100000"].password_sha256
        assert stored == hashlib.sha256(b"s3cret-sip").hexdigest()
        assert "s3cret-sip" not in json.dumps(app.state.store.to_json())

    run(app, scenario)


def test_account_codes_are_filled_in_unique_and_checked() -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        await ok(api.post("/api/v2/ranges", json=RANGE), 201)
        bare = {**LINE, "dids": [], "caller_id": None}
        await ok(api.post("/api/v2/extensions", json={**bare, "account_code": "100001"}), 201)
        codes = [(await ok(api.post("/api/v2/extensions", json=bare), 201))["account_code"]
                 for _ in range(3)]
        assert codes == ["100000", "100002", "100003"]  # 100001 was taken: skipped
        await refused(api.post("/api/v2/extensions", json={**bare, "account_code": "100002"}),
                      409, "codigo_em_uso")
        for code in ("12345", "1234567", "12a456", 123456):
            await refused(api.post("/api/v2/extensions", json={**bare, "account_code": code}),
                          422, "dados_invalidos")
        created = await ok(api.post("/api/v2/extensions/654321", json=bare), 201)
        assert created["account_code"] == "654321"
        await refused(api.post("/api/v2/extensions/654322",
                               json={**bare, "account_code": "654323"}), 422, "dados_invalidos")
        await refused(api.get("/api/v2/extensions/999999"), 404, "ramal_inexistente")
        await refused(api.put("/api/v2/extensions/999999", json={}), 404, "ramal_inexistente")

    run(make()[0], scenario)


@pytest.mark.parametrize(("overrides", "status", "erro"), [
    ({"call_limit": 0}, 422, "dados_invalidos"),
    ({"closing_day": 0}, 422, "dados_invalidos"),
    ({"closing_day": 29}, 422, "dados_invalidos"),
    ({"plan_id": 999}, 422, "plano_inexistente"),
    ({"international_plan_id": 101}, 422, "plano_inexistente"),
    ({"billing": "controle"}, 422, "dados_invalidos"),
    ({"route": "VOIP"}, 422, "dados_invalidos"),
    ({"line_type": "ported"}, 422, "dados_invalidos"),
    ({"password": None}, 422, "dados_invalidos"),
    ({"plan_id": None}, 422, "dados_invalidos"),
    ({"active": "yes"}, 422, "dados_invalidos"),
    ({"permissions": {"LC": "sim"}}, 422, "dados_invalidos"),
    ({"permissions": {"LC": True}}, 422, "dados_invalidos"),  # a create gives all six
    ({"caller_id": "554832001001"}, 422, "bina_invalida"),
    ({"dids": [{"number": "554832009999", "monthly_value": "1.00"}], "caller_id": None},
     422, "did_fora_da_range"),
    ({"dids": [{"number": "554832001000", "monthly_value": "29.9"}]}, 422, "dados_invalidos"),
    ({"dids": [{"number": "554832001000", "monthly_value": "29.90"}] * 2}, 422,
     "dados_invalidos"),
    ({"dids": [{"number": "32001000", "monthly_value": "1.00"}]}, 422, "dados_invalidos"),
])
def test_create_enforces_the_platform_rules(overrides: dict[str, Any], status: int,
                                            erro: str) -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        await ok(api.post("/api/v2/ranges", json=RANGE), 201)
        await refused(api.post("/api/v2/extensions", json={**LINE, **overrides}), status, erro)
        assert (await ok(api.get("/api/v2/extensions")))["total"] == 0

    run(make()[0], scenario)


def test_a_did_held_by_another_extension_is_a_conflict_and_can_move() -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        await setup_line(api)
        other = {**LINE, "account_code": "200000"}
        await refused(api.post("/api/v2/extensions", json=other), 409, "did_em_uso")
        await ok(api.post("/api/v2/extensions", json={**other, "dids": [], "caller_id": None}),
                 201)
        await refused(api.put("/api/v2/extensions/200000", json={"dids": LINE["dids"]}), 409,
                      "did_em_uso")
        # the move: off one extension (its caller id with it), then onto the other
        await refused(api.put("/api/v2/extensions/100000", json={"dids": []}), 422,
                      "bina_invalida")
        await ok(api.put("/api/v2/extensions/100000", json={"dids": [], "caller_id": None}))
        moved = await ok(api.put("/api/v2/extensions/200000", json={"dids": LINE["dids"]}))
        assert [d["number"] for d in moved["dids"]] == ["554832001000"]

    run(make()[0], scenario)


def test_put_changes_only_what_differs_and_repeating_it_writes_nothing() -> None:
    app, _ = make()

    async def scenario(api: httpx.AsyncClient) -> None:
        await setup_line(api)
        change = {"call_limit": 4, "permissions": {"LDI": True}, "international_plan_id": 901,
                  "blocked": True, "route": "STFC", "password": "new-pw"}
        changed = await ok(api.put("/api/v2/extensions/100000", json=change))
        assert (changed["call_limit"], changed["permissions"]["LDI"], changed["blocked"]) == (
            4, True, True)
        assert changed["permissions"]["LC"] is True  # merged, not replaced
        assert changed["international_plan_name"] == "Internacional Américas"
        for _ in range(3):
            await ok(api.put("/api/v2/extensions/100000", json=change))
        await ok(api.put("/api/v2/extensions/100000", json={}))
        assert (await writes(api))["production/100000"] == {"create": 1, "update": 1}
        await refused(api.put("/api/v2/extensions/100000", json={"call_limit": 0}), 422,
                      "dados_invalidos")
        await refused(api.put("/api/v2/extensions/100000", json={"account_code": "100001"}),
                      422, "dados_invalidos")
        ext = app.state.store.envs["production"].extensions["100000"]
        assert ext.password_sha256 == hashlib.sha256(b"new-pw").hexdigest()

    run(app, scenario)


def test_deactivate_is_idempotent_and_put_active_reactivates() -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        await setup_line(api)
        for _ in range(2):
            assert (await ok(api.post("/api/v2/extensions/100000/deactivate")))["active"] is False
        assert (await ok(api.put("/api/v2/extensions/100000", json={"active": True})))["active"]
        assert (await writes(api))["production/100000"] == {"create": 1, "deactivate": 1,
                                                            "update": 1}
        await refused(api.post("/api/v2/extensions/999999/deactivate"), 404, "ramal_inexistente")

    run(make()[0], scenario)


def test_extension_listing_is_paginated_sorted_and_filters_by_contract() -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        await ok(api.post("/api/v2/ranges", json=RANGE), 201)
        bare = {**LINE, "dids": [], "caller_id": None}
        for code in ("300000", "100000", "200000", "400000", "500000"):
            await ok(api.post("/api/v2/extensions", json={
                **bare, "account_code": code, "contract": int(code) // 100000}), 201)
        seen: list[str] = []
        for page in range(1, 4):
            body = await ok(api.get("/api/v2/extensions", params={"page": page, "per_page": 2}))
            assert (body["total"], body["pages"], body["page"]) == (5, 3, page)
            seen += [e["account_code"] for e in body["items"]]
        assert seen == ["100000", "200000", "300000", "400000", "500000"]
        past = await ok(api.get("/api/v2/extensions", params={"page": 9}))
        assert past["items"] == [] and past["total"] == 5
        only = await ok(api.get("/api/v2/extensions", params={"contract": 3}))
        assert [e["account_code"] for e in only["items"]] == ["300000"]
        for params in ({"per_page": 0}, {"per_page": 1001}, {"page": 0}, {"contract": "x"}):
            await refused(api.get("/api/v2/extensions", params=params), 422, "parametro_invalido")

    run(make()[0], scenario)


# -- CDRs --------------------------------------------------------------------------------------


def cdrs_of(app: Starlette, clock: FakeClock, days: int = 20) -> list[dict[str, Any]]:
    """Two lines created 2023-11-14, ``days`` days on the clock, every CDR of the month."""
    out: list[dict[str, Any]] = []

    async def scenario(api: httpx.AsyncClient) -> None:
        await setup_line(api)
        await ok(api.post("/api/v2/extensions", json={**LINE, "account_code": "200000",
                                                      "dids": [], "caller_id": None}), 201)
        clock.advance(days * DAY)
        for page in range(1, 100):
            body = await ok(api.get("/api/v2/cdr", params={
                "from": "2023-11-01", "to": "2023-11-30", "page": page, "per_page": 7}))
            out.extend(body["items"])
            if page >= body["pages"]:
                assert len(out) == body["total"]
                break
        whole = await ok(api.get("/api/v2/cdr", params={
            "from": "2023-11-01", "to": "2023-11-30", "per_page": 1000}))
        assert whole["items"] == out  # pages cut mid-day give the same records as one page

    run(app, scenario)
    return out


def test_cdrs_are_deterministic_by_seed_and_paginated_exactly_once() -> None:
    first = cdrs_of(*make(seed=7))
    assert first == cdrs_of(*make(seed=7))
    assert first != cdrs_of(*make(seed=8))
    assert len({c["id"] for c in first}) == len(first) > 20
    days = sorted({c["started_at"][:10] for c in first})
    assert days[0] >= "2023-11-14" and days[-1] <= "2023-11-30"
    for record in first:
        assert set(record) == {"id", "account_code", "started_at", "destination", "call_type",
                               "duration_seconds", "cost"}
        assert record["call_type"] in ("LC", "LDN", "LDI", "VC1", "VC2", "VC3")
        assert record["account_code"] in ("100000", "200000")
    assert [(c["started_at"][:10], c["account_code"]) for c in first] == sorted(
        (c["started_at"][:10], c["account_code"]) for c in first)


def test_cdr_cost_is_the_plan_price_per_started_minute() -> None:
    prices = DEFAULT_PLANS[1]["price_per_minute"]  # plan 102
    records = cdrs_of(*make(seed=3))
    for record in records:
        minutes = -(-record["duration_seconds"] // 60)
        assert Decimal(record["cost"]) == Decimal(prices[record["call_type"]]) * minutes
        assert len(record["cost"].split(".")[1]) == 2


def test_cdrs_only_for_days_the_extension_existed_and_was_active() -> None:
    app, clock = make(seed=1, international_plans=None)

    async def scenario(api: httpx.AsyncClient) -> None:
        await setup_line(api)
        await ok(api.post("/_sim/config", json={"cdr_max_per_day": 8}))

        async def days(**params: str) -> set[str]:
            body = await ok(api.get("/api/v2/cdr", params={
                "from": "2023-11-01", "to": "2023-12-31", "per_page": 1000, **params}))
            return {c["started_at"][:10] for c in body["items"]}

        clock.advance(5 * DAY)  # today 2023-11-19
        seen = await days()
        assert seen and min(seen) >= "2023-11-14" and max(seen) <= "2023-11-19"
        await ok(api.post("/api/v2/extensions/100000/deactivate"))  # on 11-19: that day counts
        clock.advance(5 * DAY)
        assert await days() == seen
        await ok(api.put("/api/v2/extensions/100000", json={"active": True}))  # 11-24
        later = await days()
        assert later - seen <= {"2023-11-24"}
        assert await days(account_code="999999") == set()
        backdated = await ok(api.post("/_sim/backdate", json={
            "account_code": "100000", "created_on": "2023-11-01"}))
        assert backdated["created_on"] == "2023-11-01"
        assert min(await days()) < "2023-11-14"
        await refused(api.post("/_sim/backdate", json={"account_code": "100000",
                                                       "created_on": "2023-12-01"}),
                      422, "dados_invalidos")
        for params in ({"from": "2023-11-30", "to": "2023-11-01"}, {"from": "2023-1-01"},
                       {"from": "2022-01-01", "to": "2023-12-31"}, {"account_code": "12"}):
            await refused(api.get("/api/v2/cdr", params={"from": "2023-11-01",
                                                         "to": "2023-11-30", **params}),
                          422, "parametro_invalido" if "account_code" not in params
                          else "dados_invalidos")

    run(app, scenario)


# -- admin, faults, body limit (one smoke test each; the conformance suite covers them) --------


def test_admin_counters_reset_and_config() -> None:
    app, _ = make()

    async def scenario(api: httpx.AsyncClient) -> None:
        await setup_line(api)
        counters = (await api.get("/_sim/counters")).json()
        assert counters["requests"]["POST /api/v2/extensions"] == 1
        assert (counters["logins"], counters["refreshes"]) == (1, 0)
        await ok(api.post("/_sim/config", json={"token_ttl": 30, "refresh_ttl": 90}))
        await refused(api.post("/_sim/config", json={"bogus": 1}), 422, "dados_invalidos")
        assert (await ok(api.post("/_sim/reset"))) == {"reset": True}
        assert (await ok(api.get("/api/v2/extensions")))["total"] == 0  # token kept
        config = await ok(api.get("/_sim/config"))
        assert (config["token_ttl"], config["refresh_ttl"], config["cdr_max_per_day"]) == (
            30, 90, 8)

    run(app, scenario)


def test_fault_layer_and_body_limit_apply() -> None:
    app = create_app(SECRET, username="ixc", password="pw", api_key="key",
                     faults=Faults(seed=1, error_rate=1.0))

    async def main() -> None:
        async with client(app) as api:
            assert (await api.post("/api/v2/auth/token", json=LOGIN)).status_code == 503
            assert (await api.get("/_sim/counters")).status_code == 200  # admin never faulted
            app.state.faults.configure(error_rate=0.0)
            huge = await api.post("/api/v2/auth/token", content=b"x" * (9 << 20))
            assert huge.status_code == 413
            await refused(api.get("/api/v2/nowhere"), 404, "rota_inexistente")

    asyncio.run(main())


# -- persistence and embedding -----------------------------------------------------------------


def test_embedded_round_trip_keeps_both_environments() -> None:
    credentials = {**LOGIN}
    app = embedded_app(credentials, None)

    async def fill() -> None:
        for base in ("", "/homolog"):
            tokens = await login(app, base)
            async with client(app, tokens["access_token"], base) as api:
                await setup_line(api, account_code="111111" if base else "222222")
                await ok(api.post("/api/v2/extensions/222222/deactivate") if not base
                         else api.get("/api/v2/plans"))

    asyncio.run(fill())
    data = json.loads(json.dumps(app.state.store.to_json()))
    assert SECRET not in json.dumps(data) and "s3cret-sip" not in json.dumps(data)
    reloaded = embedded_app(credentials, data)
    assert reloaded.state.store.to_json() == data
    assert Store.from_json(data).to_json() == data
    with pytest.raises(ValueError, match="version"):
        Store.from_json({**data, "version": 99})

    async def check() -> None:
        tokens = await login(reloaded, "/homolog")
        async with client(reloaded, tokens["access_token"], "/homolog") as api:
            assert (await ok(api.get("/api/v2/extensions/111111")))["dids"][0]["city"]
            assert (await ok(api.get("/api/v2/ranges/1")))["status"] == "in_use"
        tokens = await login(reloaded)
        async with client(reloaded, tokens["access_token"]) as api:
            assert (await ok(api.get("/api/v2/extensions/222222")))["active"] is False
            await refused(api.post("/api/v2/extensions", json={**LINE, "account_code": "333333"}),
                          409, "did_em_uso")  # the DID index was rebuilt

    asyncio.run(check())


def test_embedded_app_needs_every_credential() -> None:
    for name in LOGIN:
        with pytest.raises(SecretError, match=f"credentials.{name}"):
            embedded_app({**LOGIN, name: ""}, None)
