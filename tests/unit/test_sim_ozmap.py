"""The OZmap simulator through its wire API, in process (httpx over ASGI)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from reconciler.errors import SecretError
from reconciler.platforms.ozmap.sim import create_app, embedded_app
from reconciler.platforms.ozmap.sim_store import Store
from reconciler.sim.clock import FakeClock
from reconciler.sim.faults import Faults, SimTransport

KEY = "unit-api-key"
LOGIN = {"login": "hubsoft", "password": "pw"}
Scenario = Callable[[httpx.AsyncClient], Awaitable[None]]


def oid(n: int) -> str:
    return f"65000000{n:016x}"


PROJECT, BOX_A, BOX_B, BOX_D, BOX_FAR = oid(1), oid(10), oid(11), oid(12), oid(13)
SPL_A, SPL_A_DIST, SPL_B, SPL_D, SPL_FAR = oid(20), oid(21), oid(22), oid(23), oid(24)
LAT, LNG = -27.5954, -48.5480
NETWORK = {
    "projects": [{"id": PROJECT, "name": "Centro"}],
    "boxes": [
        {"id": BOX_A, "name": "CTO-A", "project": PROJECT, "coords": [LNG, LAT],
         "implanted": True, "default_reserve": 2},
        {"id": BOX_B, "name": "CTO-B", "project": PROJECT, "coords": [LNG, LAT + 0.00045],
         "implanted": True},  # ~50 m north of A
        {"id": BOX_D, "name": "CTO-D", "project": PROJECT, "coords": [LNG, LAT - 0.00009],
         "implanted": False},  # ~10 m south of A, in design
        {"id": BOX_FAR, "name": "CTO-FAR", "project": PROJECT, "coords": [LNG, LAT + 0.009],
         "implanted": True},  # ~1 km
    ],
    "splitters": [
        {"id": SPL_A, "parent": BOX_A, "name": "Splitter 1", "ratio": {"input": 1, "output": 16},
         "isDrop": True, "ports": [{"index": 3, "blocked": True, "observation": "broken"}]},
        {"id": SPL_A_DIST, "parent": BOX_A, "name": "Splitter D",
         "ratio": {"input": 1, "output": 8}},
        {"id": SPL_B, "parent": BOX_B, "name": "Splitter 1", "ratio": {"input": 1, "output": 8},
         "isDrop": True},
        {"id": SPL_D, "parent": BOX_D, "name": "Splitter 1", "ratio": {"input": 1, "output": 8},
         "isDrop": True},
        {"id": SPL_FAR, "parent": BOX_FAR, "name": "Splitter 1",
         "ratio": {"input": 1, "output": 8}, "isDrop": True},
    ],
}


def make(**kwargs: Any) -> tuple[Starlette, FakeClock]:
    clock = FakeClock()
    kwargs.setdefault("network", NETWORK)
    app = create_app(KEY, username=LOGIN["login"], password=LOGIN["password"], clock=clock,
                     **kwargs)
    return app, clock


def client(app: Starlette, authorization: str | None = KEY) -> httpx.AsyncClient:
    headers = {"Authorization": authorization} if authorization is not None else {}
    return httpx.AsyncClient(transport=SimTransport(app=app), base_url="http://sim",
                             headers=headers)


def run(app: Starlette, scenario: Scenario) -> None:
    async def main() -> None:
        async with client(app) as api:
            await scenario(api)

    asyncio.run(main())


async def ok(response: Awaitable[httpx.Response], status: int = 200) -> Any:
    done = await response
    assert done.status_code == status, done.text
    return done.json() if done.content else None


async def refused(response: Awaitable[httpx.Response], status: int, code: str) -> dict[str, Any]:
    done = await response
    body = done.json()
    assert (done.status_code, body["code"]) == (status, code), done.text
    assert body["errors"][0]["message"] == body["message"]
    return dict(body)


def listing(api: httpx.AsyncClient, resource: str, filter_: Any = None,
            **params: Any) -> Awaitable[httpx.Response]:
    body = None if filter_ is None else {"filter": filter_}
    return api.request("GET", f"/api/v2/{resource}", params=params, json=body)


async def names(api: httpx.AsyncClient, resource: str, filter_: Any = None,
                **params: Any) -> list[str]:
    body = await ok(listing(api, resource, filter_, limit=-1, select="name", **params))
    return [row["name"] for row in body["rows"]]


async def connect(api: httpx.AsyncClient, splitter: str, port: int, code: str,
                  **extra: Any) -> Any:
    body = {"connector": splitter, "port": port, "client": {"code": code, "name": f"C {code}"},
            **extra}
    return await ok(api.post("/api/v2/properties", json=body), 201)


async def output(api: httpx.AsyncClient, splitter: str) -> list[str | None]:
    found = await ok(api.get(f"/api/v2/splitters/{splitter}"))
    return list(found["connectables"]["output"])


# -- authentication ----------------------------------------------------------------------------


def test_the_api_key_goes_raw_and_login_tokens_expire() -> None:
    app, clock = make(token_ttl=60)

    async def main() -> None:
        for authorization in (None, f"Bearer {KEY}", "nope"):
            async with client(app, authorization) as api:
                done = await api.get("/api/v2/projects")
                assert (done.status_code, done.json()["code"]) == (401, "UNAUTHORIZED")
                assert "www-authenticate" not in done.headers
        async with client(app, None) as anonymous:
            await refused(anonymous.post("/api/v2/users/login?type=API",
                                         json={**LOGIN, "password": "x"}), 401,
                          "INVALID_CREDENTIALS")
            await refused(anonymous.post("/api/v2/users/login", json={"login": "hubsoft"}),
                          422, "VALIDATION_ERROR")
            # the SDK posts its whole options object, with the header Authorization: false
            body = await ok(anonymous.post("/api/v2/users/login?type=API",
                                           json={**LOGIN, "timeoutRetries": 2},
                                           headers={"Authorization": "false"}))
        token = body["authorization"]
        assert token != KEY
        async with client(app, token) as api:
            assert (await ok(api.get("/api/v2/authenticated"))) == {"authenticated": True}
            assert (await ok(api.get("/api/v2/projects")))["total"] == 1
            clock.advance(61)
            await refused(api.get("/api/v2/projects"), 401, "UNAUTHORIZED")
        async with client(app) as api:  # the API key itself never expires
            await ok(api.get("/api/v2/projects"))
            assert (await ok(api.get("/_sim/counters")))["logins"] == 1
        async with client(app, None) as anonymous:
            again = await ok(anonymous.post("/api/v2/users/login", json=LOGIN))
        async with client(app, again["authorization"]) as api:
            await ok(api.get("/api/v2/boxes"))
            assert (await ok(api.post("/_sim/tokens/expire"))) == {"expired": 1}
            await refused(api.get("/api/v2/boxes"), 401, "UNAUTHORIZED")

    asyncio.run(main())


# -- listings ----------------------------------------------------------------------------------


def test_pages_of_100_follow_next_url_to_the_end() -> None:
    app, _ = make(network={"generate": {"boxes": 250, "seed": 4}})

    async def scenario(api: httpx.AsyncClient) -> None:
        url: str | None = "/api/v2/boxes?limit=100&select=name"
        pages = []
        while url is not None:
            page = await ok(api.get(url))
            pages.append(page)
            url = page["nextUrl"]
            assert page["hasNextPage"] is (url is not None)
        assert [(p["start"], p["count"], p["total"], p["limit"]) for p in pages] == [
            (0, 100, 250, 100), (100, 100, 250, 100), (200, 50, 250, 100)]
        followed = [row["name"] for p in pages for row in p["rows"]]
        assert followed == [f"CTO-{n:04d}" for n in range(1, 251)]
        assert set(pages[0]["rows"][0]) == {"id", "name"}
        # the SDK's findAll: pages until an empty one
        past = await ok(api.get("/api/v2/boxes", params={"page": 4, "limit": 100}))
        assert (past["rows"], past["hasNextPage"], past["nextUrl"]) == ([], False, None)
        everything = await ok(api.get("/api/v2/boxes", params={"limit": -1}))
        assert (everything["count"], everything["limit"]) == (250, -1)
        assert [row["name"] for row in everything["rows"]] == followed
        default = await ok(api.get("/api/v2/splitters"))
        assert (default["count"], default["total"]) == (100, 250)
        for bad in ({"page": 0}, {"limit": "ten"}, {"limit": -2}):
            await refused(api.get("/api/v2/boxes", params=bad), 400, "INVALID_QUERY")

    run(app, scenario)


def test_filters_travel_in_the_get_body() -> None:
    app, _ = make()

    async def scenario(api: httpx.AsyncClient) -> None:
        assert await names(api, "boxes", [{"property": "implanted", "operator": "=",
                                           "value": False}]) == ["CTO-D"]
        assert await names(api, "boxes", [{"property": "name", "operator": "!=",
                                           "value": "CTO-A"}]) == ["CTO-B", "CTO-D", "CTO-FAR"]
        assert await names(api, "boxes", [{"property": "name", "operator": "like",
                                           "value": "cto-f"}]) == ["CTO-FAR"]
        assert await names(api, "boxes", [{"property": "name", "operator": "like",
                                           "value": "CTO-_"}]) == ["CTO-A", "CTO-B", "CTO-D"]
        assert await names(api, "boxes", [{"property": "lat", "operator": ">",
                                           "value": LAT}]) == ["CTO-B", "CTO-FAR"]
        assert await names(api, "boxes", [{"property": "id", "operator": "in",
                                           "value": [BOX_B, BOX_D]}]) == ["CTO-B", "CTO-D"]
        assert await names(api, "boxes", [{"property": "id", "operator": "notin",
                                           "value": [BOX_B, BOX_D]}]) == ["CTO-A", "CTO-FAR"]
        # an id condition is looked up by key (the clients of 500 properties at a time);
        # the rest of the filter still applies, and unknown ids are no rows
        assert await names(api, "boxes", [{"property": "id", "operator": "in",
                                           "value": [BOX_D, "0" * 24, BOX_B]}]) == ["CTO-B", "CTO-D"]
        assert await names(api, "boxes", [{"property": "id", "operator": "=", "value": BOX_D},
                                          {"property": "implanted", "operator": "=",
                                           "value": True}]) == []
        assert await names(api, "boxes", [{"property": "implanted", "operator": "=",
                                           "value": False},
                                          {"property": "id", "operator": "in",
                                           "value": [BOX_B, BOX_D]}]) == ["CTO-D"]
        # "in" over strings (one set lookup) and over mixed values mean the same: a string is
        # never the number it spells, nor a boolean a number
        assert await names(api, "boxes", [{"property": "default_reserve", "operator": "in",
                                           "value": ["0", "1"]}]) == []
        assert await names(api, "boxes", [{"property": "implanted", "operator": "in",
                                           "value": [0, "CTO-D"]}]) == []
        assert await names(api, "boxes", [{"property": "name", "operator": "in",
                                           "value": ["CTO-A", 7, "CTO-FAR"]}]) == ["CTO-A", "CTO-FAR"]
        assert await names(api, "boxes", [{"property": "name", "operator": "notin",
                                           "value": ["CTO-A", "CTO-B", "CTO-D"]}]) == ["CTO-FAR"]
        assert await names(api, "boxes", [{"property": "address", "operator": "exists",
                                           "value": True}]) == []
        # a nested list is an OR group; the top level is AND
        either = [{"property": "project", "operator": "=", "value": PROJECT},
                  [{"property": "name", "operator": "=", "value": "CTO-A"},
                   {"property": "default_reserve", "operator": ">=", "value": 1},
                   {"property": "name", "operator": "=", "value": "CTO-FAR"}]]
        assert await names(api, "boxes", either) == ["CTO-A", "CTO-FAR"]
        # dotted paths, and a boolean is not the number 1
        eights = await ok(listing(api, "splitters", [
            {"property": "ratio.output", "operator": "<=", "value": 8},
            {"property": "isDrop", "operator": "=", "value": True}], limit=-1))
        assert {row["id"] for row in eights["rows"]} == {SPL_B, SPL_D, SPL_FAR}
        assert await names(api, "splitters", [{"property": "isDrop", "operator": "=",
                                               "value": 1}]) == []
        blocked = await ok(listing(api, "splitters", [
            {"property": "ports.blocked", "operator": "=", "value": True}]))
        assert [row["id"] for row in blocked["rows"]] == [SPL_A]
        # near: within the radius, nearest first (D is 10 m from A, B 50 m)
        near = {"property": "coords", "operator": "near",
                "value": {"lat": LAT, "lng": LNG, "radius": 60}}
        assert await names(api, "boxes", [near]) == ["CTO-A", "CTO-D", "CTO-B"]
        by_name = await ok(api.request("GET", "/api/v2/boxes", params={"limit": 2}, json={
            "sort": [{"property": "name", "direction": -1}]}))
        assert [row["name"] for row in by_name["rows"]] == ["CTO-FAR", "CTO-D"]
        # the old SDK's URL mode: filter as a JSON query parameter
        url_mode = await ok(api.get("/api/v2/boxes", params={"filter": json.dumps(
            [{"property": "name", "operator": "=", "value": "CTO-B"}])}))
        assert [row["id"] for row in url_mode["rows"]] == [BOX_B]
        await refused(listing(api, "boxes", [{"property": "name", "operator": "~", "value": 1}]),
                      400, "INVALID_FILTER")
        await refused(listing(api, "boxes", [{"property": "id", "operator": "in",
                                              "value": BOX_A}]), 400, "INVALID_FILTER")
        await refused(api.request("GET", "/api/v2/boxes", content=b"{nope"), 400, "INVALID_JSON")

    run(app, scenario)


def test_select_and_populate_shape_the_rows() -> None:
    app, _ = make()

    async def scenario(api: httpx.AsyncClient) -> None:
        prop = await connect(api, SPL_A, 1, "1001")
        for resource in ("projects", "boxes", "splitters", "properties", "ftth-clients"):
            row = (await ok(api.get(f"/api/v2/{resource}")))["rows"][0]
            assert {"id", "external_id", "createdAt", "updatedAt", "creatorData"} <= set(row)
            assert len(row["id"]) == 24 and int(row["id"], 16) >= 0
        shaped = await ok(api.get("/api/v2/properties", params={
            "select": "client box", "populate": "client"}))
        row = shaped["rows"][0]
        assert set(row) == {"id", "client", "box"} and row["box"] == BOX_A
        assert (row["client"]["code"], row["client"]["kind"]) == ("1001", "FTTHClient")
        one = await ok(api.get(f"/api/v2/properties/{prop['id']}", params={"populate": "box"}))
        assert one["box"]["name"] == "CTO-A" and isinstance(one["client"], str)

    run(app, scenario)


# -- ports -------------------------------------------------------------------------------------


def test_an_occupied_blocked_or_reserved_port_refuses_a_property() -> None:
    app, _ = make()

    async def scenario(api: httpx.AsyncClient) -> None:
        first = await connect(api, SPL_A, 1, "1001")
        assert first["box"] == BOX_A and first["client"]
        assert first["connections"] == [{"id": SPL_A, "name": "Splitter 1", "kind": "Splitter",
                                         "port": 1, "implanted": True,
                                         "fiber": (await output(api, SPL_A))[0]}]
        taken = await refused(api.post("/api/v2/properties", json={
            "connector": SPL_A, "port": 1, "client": {"code": "1002"}}), 409, "PORT_IN_USE")
        assert taken["errors"][0]["field"] == "port" and "'1001'" in taken["message"]
        await refused(api.post("/api/v2/properties", json={"connector": SPL_A, "port": 3}),
                      409, "PORT_BLOCKED")
        for port in (15, 16):  # the box's default_reserve of 2
            await refused(api.post("/api/v2/properties", json={"connector": SPL_A,
                                                                "port": port}),
                          409, "PORT_RESERVED")
        forced = await ok(api.post("/api/v2/properties", json={
            "connector": SPL_A, "port": 16, "force": True}), 201)
        assert forced["connections"][0]["port"] == 16
        await refused(api.post("/api/v2/properties", json={"connector": SPL_A, "port": 3,
                                                            "force": True}),
                      409, "PORT_BLOCKED")
        for body in ({"connector": SPL_A, "port": 17}, {"connector": SPL_A_DIST},
                     {"connector": SPL_A}, {"port": 2, "project": PROJECT},
                     {"connector": SPL_B, "port": 1, "box": BOX_A},
                     {"connector": oid(99), "port": 1}):
            await refused(api.post("/api/v2/properties", json=body), 422, "VALIDATION_ERROR")
        assert (await ok(api.get("/api/v2/properties")))["total"] == 2
        clients = await ok(api.get("/api/v2/ftth-clients"))
        assert [c["code"] for c in clients["rows"]] == ["1001"]  # refused ones made none
        taken_ports = [n for n, fiber in enumerate(await output(api, SPL_A), 1) if fiber]
        assert taken_ports == [1, 16]
        # a splitter without isDrop takes a property too (customer_splitters networks), but
        # auto_connect never picks it
        unflagged = await ok(api.post("/api/v2/properties", json={"connector": SPL_A_DIST,
                                                                   "port": 1}), 201)
        assert unflagged["connections"][0]["id"] == SPL_A_DIST

    run(app, scenario)


def test_auto_connect_takes_the_first_free_customer_port() -> None:
    app, _ = make()

    async def scenario(api: httpx.AsyncClient) -> None:
        await connect(api, SPL_A, 1, "1")
        auto = await ok(api.post("/api/v2/properties", json={"box": BOX_A, "auto_connect": True,
                                                             "client": {"code": "2"}}), 201)
        assert auto["connections"][0]["id"] == SPL_A  # not the distribution splitter
        assert auto["connections"][0]["port"] == 2  # 1 taken, 3 blocked next
        ports = []
        for _ in range(11):  # 4..14: the reserve keeps 15 and 16
            made = await ok(api.post("/api/v2/properties", json={
                "connector": SPL_A, "auto_connect": True}), 201)
            ports.append(made["connections"][0]["port"])
        assert ports == [*range(4, 15)]
        await refused(api.post("/api/v2/properties", json={"box": BOX_A, "auto_connect": True}),
                      409, "NO_FREE_PORT")
        forced = await ok(api.post("/api/v2/properties", json={
            "box": BOX_A, "auto_connect": True, "force": True}), 201)
        assert forced["connections"][0]["port"] == 15
        await refused(api.post("/api/v2/properties", json={"auto_connect": True,
                                                            "project": PROJECT}),
                      422, "VALIDATION_ERROR")

    run(app, scenario)


def test_a_patch_moves_or_frees_a_port_and_answers_an_empty_body() -> None:
    app, _ = make()

    async def scenario(api: httpx.AsyncClient) -> None:
        prop = await connect(api, SPL_A, 1, "1001", external_id="erp-1")
        url = f"/api/v2/properties/{prop['id']}"
        moved = await api.patch(url, json={"connector": SPL_B, "port": 4})
        assert (moved.status_code, moved.content) == (204, b"")
        now = await ok(api.get(url))
        assert (now["box"], now["connections"][0]["id"], now["connections"][0]["port"]) == (
            BOX_B, SPL_B, 4)
        assert (await output(api, SPL_A))[0] is None
        assert (await output(api, SPL_B))[3] == now["connections"][0]["fiber"]
        counters = await ok(api.get("/_sim/counters"))
        assert counters["writes"][f"port/{SPL_A}/1"] == {"take": 1, "free": 1}
        assert (await api.patch(url, json={"port": 5})).status_code == 204  # same splitter
        assert (await ok(api.get(url)))["connections"][0]["port"] == 5
        assert (await api.patch(url, json={"observation": "same", "port": 5})).status_code == 204
        writes = (await ok(api.get("/_sim/counters")))["writes"][f"properties/{prop['id']}"]
        assert (await api.patch(url, json={"observation": "same"})).status_code == 204
        again = (await ok(api.get("/_sim/counters")))["writes"][f"properties/{prop['id']}"]
        assert again == writes  # nothing changed, no write counted
        await refused(api.patch(url, json={"external_id": "erp-1"}), 409,
                      "DUPLICATE_EXTERNAL_ID")  # the SDK strips external_id for this reason
        await refused(api.patch(url, json={"project": oid(98)}), 422, "VALIDATION_ERROR")
        await refused(api.patch(url, json={"connector": SPL_A, "port": 3}), 409, "PORT_BLOCKED")
        assert (await ok(api.get(url)))["connections"][0]["port"] == 5  # a refusal moves nothing
        assert (await api.patch(url, json={"connector": None})).status_code == 204
        freed = await ok(api.get(url))
        assert (freed["connections"], freed["drop"], freed["box"]) == ([], None, BOX_B)
        assert all(fiber is None for fiber in await output(api, SPL_B))
        await refused(api.patch(f"/api/v2/properties/{oid(97)}", json={}), 404, "NOT_FOUND")
        await refused(api.patch(f"/api/v2/boxes/{BOX_A}", json={"coords": [1, 200]}), 422,
                      "VALIDATION_ERROR")
        assert (await api.patch(f"/api/v2/boxes/{BOX_A}",
                                json={"coords": [-48.5, -27.5]})).status_code == 204
        box = await ok(api.get(f"/api/v2/boxes/{BOX_A}"))
        assert (box["lng"], box["lat"]) == (-48.5, -27.5)

    run(app, scenario)


def test_deleting_a_property_frees_its_port_and_a_deleted_client_leaves_its_property() -> None:
    app, clock = make()

    async def scenario(api: httpx.AsyncClient) -> None:
        prop = await connect(api, SPL_A, 2, "1001")
        url = f"/api/v2/properties/{prop['id']}"
        clock.advance(60)
        gone = await ok(api.delete(f"/api/v2/ftth-clients/{prop['client']}"))
        assert gone["code"] == "1001"
        left = await ok(api.get(url))
        assert left["client"] is None and left["connections"][0]["port"] == 2
        entry = left["history"]["clients"][0]
        assert (entry["code"], entry["exit_date"] > entry["enter_date"]) == ("1001", True)
        await refused(api.post("/api/v2/properties", json={"connector": SPL_A, "port": 2}),
                      409, "PORT_IN_USE")  # the property keeps occupying the port
        deleted = await ok(api.delete(url))
        assert deleted["id"] == prop["id"]
        assert (await output(api, SPL_A))[1] is None
        await refused(api.get(url), 404, "NOT_FOUND")
        await refused(api.delete(url), 404, "NOT_FOUND")
        await refused(api.get("/api/v2/properties/not-an-id"), 400, "INVALID_ID")
        await connect(api, SPL_A, 2, "1002")
        await refused(api.delete(f"/api/v2/splitters/{SPL_A}"), 409, "IN_USE")
        await refused(api.delete(f"/api/v2/boxes/{BOX_A}"), 409, "IN_USE")
        await refused(api.delete(f"/api/v2/projects/{PROJECT}"), 409, "IN_USE")
        await ok(api.delete(f"/api/v2/splitters/{SPL_FAR}"))
        await ok(api.delete(f"/api/v2/boxes/{BOX_FAR}"))

    run(app, scenario)


def test_client_codes_are_unique_and_batch_update_goes_by_filter() -> None:
    app, _ = make()

    async def scenario(api: httpx.AsyncClient) -> None:
        one = await ok(api.post("/api/v2/ftth-clients", json={"code": "1", "status": "ERROR"}),
                       201)
        assert (one["status"], one["implanted"], one["onu"]["serial_number"]) == (1, False, "")
        two = await ok(api.post("/api/v2/ftth-clients", json={"code": "2"}), 201)
        await refused(api.post("/api/v2/ftth-clients", json={"code": "1"}), 409, "DUPLICATE_CODE")
        await refused(api.patch(f"/api/v2/ftth-clients/{two['id']}", json={"code": "1"}), 409,
                      "DUPLICATE_CODE")
        await refused(api.post("/api/v2/properties", json={"connector": SPL_A, "port": 1,
                                                            "client": {"code": "2"}}),
                      409, "DUPLICATE_CODE")
        on_port = await ok(api.post("/api/v2/properties", json={
            "connector": SPL_A, "port": 1, "client": two["id"]}), 201)
        await refused(api.post("/api/v2/properties", json={"connector": SPL_A, "port": 2,
                                                            "client": two["id"]}),
                      409, "CLIENT_IN_USE")
        assert on_port["client"] == two["id"]
        done = await ok(api.post("/api/v2/ftth-clients/batch-update", json={
            "filter": [{"property": "code", "operator": "in", "value": ["1", "2"]}],
            "data": {"implanted": True}}))
        assert done == {"matched": 2, "modified": 2}
        again = await ok(api.post("/api/v2/ftth-clients/batch-update", json={
            "filter": [{"property": "code", "operator": "=", "value": "1"}],
            "data": {"implanted": True}}))
        assert again == {"matched": 1, "modified": 0}
        await refused(api.post("/api/v2/ftth-clients/batch-update", json={
            "filter": [], "data": {"name": "x"}}), 422, "VALIDATION_ERROR")

    run(app, scenario)


# -- viability ---------------------------------------------------------------------------------


def test_viability_is_by_distance_and_a_box_in_design_is_never_viable() -> None:
    app, _ = make()

    async def scenario(api: httpx.AsyncClient) -> None:
        point = {"lat": LAT + 0.0003, "lng": LNG}  # 33 m from A, 17 m from B, 43 m from D
        found = await ok(api.get("/api/v2/ftth-viability/radius", params={**point,
                                                                         "radius": 100}))
        assert found["viable"] is True and found["radius"] == 100
        assert [b["name"] for b in found["boxes"]] == ["CTO-B", "CTO-A"]
        assert [round(b["distance"]) for b in found["boxes"]] == [17, 33]
        a = found["boxes"][1]
        assert a["availablePorts"] == 13  # 16 less blocked port 3 and the reserve (15, 16)
        assert [s["id"] for s in a["splitters"]] == [SPL_A]  # the customer splitter only
        assert [(b["name"], b["reason"]) for b in found["boxesWithoutViability"]] == [
            ("CTO-D", "not_implanted")]
        for port in range(1, 9):  # fill B
            await connect(api, SPL_B, port, f"b{port}")
        full = await ok(api.get("/api/v2/ftth-viability/radius", params=point))  # default 250
        assert full["radius"] == 250 and [b["name"] for b in full["boxes"]] == ["CTO-A"]
        assert [(b["name"], b["reason"]) for b in full["boxesWithoutViability"]] == [
            ("CTO-B", "no_free_port"), ("CTO-D", "not_implanted")]
        await ok(api.post("/_sim/config", json={"viability_radius": 2000}))
        wide = await ok(api.get("/api/v2/ftth-viability/radius", params=point))
        assert [b["name"] for b in wide["boxes"]] == ["CTO-A", "CTO-FAR"]
        nothing = await ok(api.get("/api/v2/ftth-viability/radius", params={
            "lat": 0, "lng": 0}))
        assert (nothing["viable"], nothing["boxes"], nothing["boxesWithoutViability"]) == (
            False, [], [])
        for bad in ({"lat": "x", "lng": 1}, {"lng": LNG}, {**point, "radius": 0},
                    {"lat": 95, "lng": 0}):
            await refused(api.get("/api/v2/ftth-viability/radius", params=bad), 400,
                          "INVALID_QUERY")

    run(app, scenario)


# -- seeding -----------------------------------------------------------------------------------


def test_a_generated_network_of_80000_ports_is_deterministic() -> None:
    spec = {"boxes": 5000, "ports": 16, "design_every": 10, "blocked_rate": 0.05, "reserve": 1,
            "seed": 7}
    app, _ = make(network=None)

    async def scenario(api: httpx.AsyncClient) -> None:
        made = await ok(api.post("/_sim/seed", json={"generate": spec}))
        assert made["generated"]["ports"] == 80000
        assert made["created"]["boxes"] == 5000 and made["created"]["splitters"] == 5000
        design = await ok(listing(api, "boxes", [{"property": "implanted", "operator": "=",
                                                  "value": False}], limit=1))
        assert design["total"] == 500
        blocked = await ok(listing(api, "splitters", [
            {"property": "ports.blocked", "operator": "=", "value": True}], limit=1))
        assert 2000 < blocked["total"] < 3000  # about 1 - 0.95**16 of them
        assert (await ok(api.get("/_sim/counters")))["writes"] == {}  # seeding is not traffic

    run(app, scenario)
    small = {"boxes": 30, "blocked_rate": 0.2, "occupied_rate": 0.5, "distribution": True}
    first = Store(clock=FakeClock(), network={"generate": {**small, "seed": 1}}).to_json()
    assert first == Store(clock=FakeClock(), network={"generate": {**small, "seed": 1}}).to_json()
    other = Store(clock=FakeClock(), network={"generate": {**small, "seed": 2}}).to_json()
    assert other["tables"]["splitters"] != first["tables"]["splitters"]
    occupied = first["tables"]["properties"]
    assert 100 < len(occupied) < 300 and len(first["tables"]["ftth-clients"]) == len(occupied)
    assert all(p["connections"] and p["client"] for p in occupied)


def test_seed_takes_explicit_records_and_names_the_one_it_refuses() -> None:
    app, _ = make(network=None)

    async def scenario(api: httpx.AsyncClient) -> None:
        done = await ok(api.post("/_sim/seed", json=NETWORK))
        assert done["created"]["splitters"] == 5
        port = (await ok(api.get(f"/api/v2/splitters/{SPL_A}")))["ports"][2]
        assert (port["index"], port["blocked"], port["observation"]) == (3, True, "broken")
        bad = await refused(api.post("/_sim/seed", json={"boxes": [
            {"name": "ok", "project": PROJECT, "coords": [LNG, LAT]},
            {"name": "no coords", "project": PROJECT}]}), 422, "VALIDATION_ERROR")
        assert bad["message"].startswith("boxes[1]:")
        assert (await ok(api.get("/api/v2/boxes")))["total"] == 5  # the one before it stays
        await refused(api.post("/_sim/seed", json={"cables": []}), 422, "VALIDATION_ERROR")
        await refused(api.post("/_sim/seed", json={"generate": {"boxes": 0}}), 422,
                      "VALIDATION_ERROR")
        assert (await ok(api.post("/_sim/reset"))) == {"reset": True}
        assert (await ok(api.get("/api/v2/boxes")))["total"] == 0

    run(app, scenario)


# -- persistence, admin, faults ----------------------------------------------------------------


def test_the_embedded_snapshot_round_trips_and_keeps_its_indexes() -> None:
    credentials = {"api_key": KEY, "username": "u", "password": "p"}
    app = embedded_app(credentials, None)

    async def fill() -> None:
        async with client(app) as api:
            await ok(api.post("/_sim/seed", json=NETWORK))
            await connect(api, SPL_A, 1, "1001", external_id="erp-1")

    asyncio.run(fill())
    data = json.loads(json.dumps(app.state.store.to_json()))
    assert KEY not in json.dumps(data)
    reloaded = embedded_app(credentials, data)
    assert reloaded.state.store.to_json() == data
    with pytest.raises(ValueError, match="version"):
        Store.from_json({**data, "version": 99})

    async def check() -> None:
        async with client(reloaded, None) as anonymous:
            token = (await ok(anonymous.post("/api/v2/users/login",
                                             json={"login": "u", "password": "p"})))
        async with client(reloaded, token["authorization"]) as api:
            await refused(api.post("/api/v2/properties", json={"connector": SPL_A, "port": 1}),
                          409, "PORT_IN_USE")
            await refused(api.post("/api/v2/ftth-clients", json={"code": "1001"}), 409,
                          "DUPLICATE_CODE")
            await refused(api.post("/api/v2/properties", json={
                "connector": SPL_A, "port": 2, "external_id": "erp-1"}), 409,
                "DUPLICATE_EXTERNAL_ID")
            made = await ok(api.post("/api/v2/projects", json={"name": "Norte"}), 201)
            assert made["id"] not in {r["id"] for t in data["tables"].values() for r in t}

    asyncio.run(check())
    with pytest.raises(SecretError, match="api_key"):
        embedded_app({"username": "u"}, None)
    login_only = embedded_app({"username": "u", "password": "p"}, None)

    async def key_refused() -> None:
        async with client(login_only, "") as api:
            await refused(api.get("/api/v2/projects"), 401, "UNAUTHORIZED")

    asyncio.run(key_refused())


def test_admin_config_unknown_routes_and_the_fault_layer() -> None:
    app, _ = make(faults=Faults(seed=1, error_rate=1.0))

    async def scenario(api: httpx.AsyncClient) -> None:
        assert (await api.get("/api/v2/boxes")).status_code == 503
        assert (await api.get("/_sim/counters")).status_code == 200  # admin never faulted
        await ok(api.post("/_sim/config", json={"error_rate": 0.0, "token_ttl": 30}))
        config = await ok(api.get("/_sim/config"))
        assert (config["token_ttl"], config["viability_radius"], config["error_rate"]) == (
            30, 250, 0)
        for bad in ({"viability_radius": -1}, {"bogus": 1}):
            await refused(api.post("/_sim/config", json=bad), 422, "VALIDATION_ERROR")
        await refused(api.get("/api/v2/cables"), 404, "NOT_FOUND")
        await refused(api.put(f"/api/v2/boxes/{BOX_A}", json={}), 405, "NOT_FOUND")
        await refused(api.post("/api/v2/boxes", content=b"x" * (9 << 20)), 413,
                      "PAYLOAD_TOO_LARGE")
        counters = await ok(api.get("/_sim/counters"))
        assert "GET /api/v2/boxes" not in counters["requests"]  # the 503 never reached it
        await ok(api.post("/api/v2/projects", json={"name": "Sul"}), 201)
        await ok(api.post("/_sim/reset"))
        assert (await ok(api.get("/api/v2/projects")))["total"] == 1  # the network again
        assert (await ok(api.get("/_sim/counters")))["requests"] == {"GET /api/v2/projects": 1}

    run(app, scenario)


def test_a_lost_response_took_the_port_and_the_retry_is_refused() -> None:
    app, _ = make(faults=Faults(seed=3, lost_response_rate=1.0))

    async def scenario(api: httpx.AsyncClient) -> None:
        with pytest.raises(httpx.RemoteProtocolError):
            await api.post("/api/v2/properties", json={"connector": SPL_A, "port": 1,
                                                       "client": {"code": "1001"}})
        app.state.faults.configure(lost_response_rate=0.0)
        assert (await output(api, SPL_A))[0] is not None
        await refused(api.post("/api/v2/properties", json={
            "connector": SPL_A, "port": 1, "client": {"code": "1001"}}), 409, "PORT_IN_USE")

    run(app, scenario)
