"""The OZmap provider against its simulator, in process: what a real OZmap would see. Every call
the provider makes is recorded (method, path, query, GET body, Authorization) so that the tests
can say what went over the wire, not only what the platform ended up holding."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial
from typing import Any

import httpx
import pytest

from reconciler import errors
from reconciler.model import Action, Integration
from reconciler.platforms.ozmap.provider import OzmapProvider
from reconciler.platforms.ozmap.sim import create_app
from reconciler.providers.base import Applied
from reconciler.sim.faults import SimTransport
from tests.contract.harness import (
    DOCUMENT,
    LAT,
    LNG,
    PROJECT_NAME,
    LoseFirst,
    RecordedHarness,
    Wrap,
    drive,
    mapping_integration,
    port_change,
    wrong_shape,
)

NAME = "ozmap"
PROJECT = PROJECT_NAME
API_KEY = "contract-ozmap-key-4711"
USER, PASSWORD = "ozmap-api-user", "contract-ozmap-password-0815"
LOGIN = {"username": USER, "password": PASSWORD}
KEY = {"api_key": API_KEY}
LOGIN_PATH = "/api/v2/users/login"


class Harness(RecordedHarness):
    def __init__(self, *, credentials: Mapping[str, str] = KEY,
                 options: Mapping[str, Any] | None = None, wrap: Wrap | None = None) -> None:
        super().__init__()
        self.connect(create_app(API_KEY, username=USER, password=PASSWORD, clock=self.clock),
                     OzmapProvider, mapping_integration(NAME, "ozmap", credentials, options),
                     credentials, wrap, max_attempts=3)
        self.project = self.store.create("projects", {"name": PROJECT})["id"]

    def box(self, name: str, *, project: str | None = None, implanted: bool = True,
            draft: bool = False, reserve: int = 0, north: float = 0.0,
            splitters: Sequence[tuple[str, int, bool, Sequence[int]]] = (("S1", 8, True, ()),),
            ) -> dict[str, str]:
        """A box ``north`` metres north of the centre; its splitters (name, outputs, isDrop,
        blocked ports) by name -> id."""
        box = self.store.create("boxes", {
            "name": name, "project": project or self.project, "implanted": implanted,
            "draft": draft, "default_reserve": reserve,
            "coords": [LNG, LAT + north / 111_195.0]})
        return {label: self.store.create("splitters", {
            "parent": box["id"], "name": label, "isDrop": drop,
            "ratio": {"input": 1, "output": outputs},
            "ports": [{"index": n, "blocked": True} for n in blocked]})["id"]
            for label, outputs, drop, blocked in splitters}

    def premises(self, splitter: str, port: int, code: str | None = None,
                 observation: str = f"CPF/CNPJ {DOCUMENT}") -> dict[str, Any]:
        """A property on a port, with a client coded ``code`` (none: premises only)."""
        body: dict[str, Any] = {"connector": splitter, "port": port}
        if code is not None:
            body["client"] = {"code": code, "name": f"Client {code}", "observation": observation}
        return self.store.create("properties", body)

    def client(self, code: str) -> dict[str, Any] | None:
        found = self.store.by_code.get(code)
        return self.store.tables["ftth-clients"][found] if found else None

    def property_of(self, code: str) -> dict[str, Any] | None:
        client = self.client(code)
        prop = self.store.property_of_client.get(client["id"]) if client else None
        return self.store.tables["properties"][prop] if prop else None

    def where(self, code: str) -> tuple[str, int] | None:
        """(splitter id, port) of a client's property, None when it is not connected."""
        prop = self.property_of(code)
        if prop is None or not prop["connections"]:
            return None
        return prop["connections"][0]["id"], prop["connections"][0]["port"]


def run(scenario: Callable[[Harness], Awaitable[None]], **kwargs: Any) -> Harness:
    return drive(Harness(**kwargs), scenario)


def link(**attrs: Any) -> dict[str, Any]:
    """A port_link's target attributes, as the planner hands them over."""
    return {"service": 7001, "box": "CTO-A", "splitter": "S1", "port": 3, "document": DOCUMENT,
            "name": "Maria Silva", **attrs}


change = partial(port_change, NAME)


async def link_one(h: Harness) -> tuple[dict[str, str], dict[str, Any]]:
    """Box CTO-A (one 1x8 customer splitter S1) observed, then service 7001 linked to its port
    3: the splitters by name and the client made, which the Applied names."""
    splitters = h.box("CTO-A")
    await h.provider.observe()
    applied = await h.provider.execute(change(Action.LINK, after=link()))
    client = h.client("7001")
    assert client is not None and applied == Applied(remote_ids={"7001": client["id"]})
    return splitters, client


# -- authentication ----------------------------------------------------------------------------


def test_the_api_key_is_sent_raw_and_no_login_is_made() -> None:
    async def scenario(h: Harness) -> None:
        h.box("CTO-A")
        await h.provider.observe()
        assert h.recorder.calls and {c.authorization for c in h.recorder.calls} == {API_KEY}
        assert not h.calls("POST", LOGIN_PATH) and h.store.logins == 0

    run(scenario)


def test_the_login_token_is_sent_raw_and_a_401_logs_in_again_once() -> None:
    async def scenario(h: Harness) -> None:
        h.box("CTO-A")
        await h.provider.observe()
        (login,) = h.calls("POST", LOGIN_PATH)
        assert login.params == {"type": "API"} and login.authorization is None
        assert login.body == {"login": USER, "password": PASSWORD}
        first = {c.authorization for c in h.recorder.calls if c.path != LOGIN_PATH}
        (token,) = first
        assert token and not token.startswith("Bearer") and h.app.state.tokens.valid(token)

        assert (await h.admin("POST", "/_sim/tokens/expire"))["expired"] == 1
        before = len(h.recorder.calls)
        await h.provider.observe()
        again = h.recorder.calls[before:]
        assert [c.path for c in again][:3] == ["/api/v2/boxes", LOGIN_PATH, "/api/v2/boxes"]
        assert [c.status for c in again[:3]] == [401, 200, 200]
        assert again[0].authorization == token and again[2].authorization != token
        assert h.store.logins == 2 and len(h.calls("POST", LOGIN_PATH)) == 2

    run(scenario, credentials=LOGIN)


def test_a_token_refused_right_after_a_new_login_is_an_auth_error_not_a_loop() -> None:
    class Refuse(httpx.AsyncBaseTransport):
        def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
            self.inner = inner

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path == LOGIN_PATH:
                return await self.inner.handle_async_request(request)
            return httpx.Response(401, json={"message": "expired", "code": "UNAUTHORIZED"})

    async def scenario(h: Harness) -> None:
        with pytest.raises(errors.AuthError) as refused:
            await h.provider.observe()
        assert refused.value.status == 401 and h.store.logins == 2
        assert len(h.calls("GET", "/api/v2/projects")) == 2

    run(scenario, credentials=LOGIN, wrap=Refuse)


def test_refused_or_missing_credentials_are_clear_and_never_show_the_secret() -> None:
    async def wrong(h: Harness) -> None:
        with pytest.raises(errors.AuthError, match=r"credentials\.username and "
                           r"credentials\.password") as refused:
            await h.provider.observe()
        assert "wrong-password-31337" not in f"{refused.value} {refused.value.detail}"
        health = await h.provider.check()
        assert not health.ok and health.message.endswith(
            "refused the credentials (HTTP 401); check credentials.username and "
            "credentials.password")

    run(wrong, credentials={"username": USER, "password": "wrong-password-31337"})

    async def bad_key(h: Harness) -> None:
        with pytest.raises(errors.AuthError) as refused:
            await h.provider.observe()
        assert refused.value.status == 401 and h.store.logins == 0
        assert "bad-key-27182" not in f"{refused.value} {refused.value!r} {refused.value.detail}"
        health = await h.provider.check()  # names the credential it was given
        assert not health.ok and health.message.endswith("check credentials.api_key")

    run(bad_key, credentials={"api_key": "bad-key-27182"})

    integration = Integration(NAME, "ozmap", "embedded", {}, {"project": PROJECT})
    with pytest.raises(errors.AuthError, match=r"credentials\.api_key is missing"):
        OzmapProvider(integration, {}, SimTransport(app=create_app(API_KEY)))
    with pytest.raises(errors.AuthError, match=r"credentials\.password is missing"):
        OzmapProvider(integration, {"username": USER}, SimTransport(app=create_app(API_KEY)))


# -- observing ---------------------------------------------------------------------------------


def test_observe_reads_every_page_of_the_project_with_its_filter_in_the_body() -> None:
    async def scenario(h: Harness) -> None:
        generated = h.store.generate({"project": PROJECT, "boxes": 30, "ports": 8,
                                      "occupied_rate": 0.9, "seed": 5})
        other = h.store.generate({"project": "Outro", "boxes": 4, "ports": 8,
                                  "occupied_rate": 1.0, "code_prefix": "X", "prefix": "OUT-"})
        made = generated["created"]["properties"]
        assert 200 < made < 240 and other["created"]["properties"] == 32
        observed = await h.provider.observe()

        assert len(observed.resources) == made
        assert all(not r.key.startswith("X") for r in observed.resources.values())
        boxes = observed.catalogs["elements"]
        assert len(boxes) == 30 and all(b["name"].startswith("CTO-") for b in boxes)
        (project,) = h.calls("GET", "/api/v2/projects")
        assert project.body == {"filter": [{"property": "name", "operator": "=",
                                            "value": PROJECT}]}
        mine = {"filter": [{"property": "project", "operator": "=", "value": h.project}]}
        pages = h.calls("GET", "/api/v2/properties")
        assert sorted(c.params["page"] for c in pages) == ["1", "2", "3"]
        assert {c.params["limit"] for c in pages} == {"100"}
        assert all(c.body == mine for c in pages)
        assert [c.body for c in h.calls("GET", "/api/v2/boxes")] == [mine]
        clients = h.calls("GET", "/api/v2/ftth-clients")
        assert len(clients) == 3 and all(c.body["filter"][0]["operator"] == "in"
                                         for c in clients)
        one = next(iter(observed.resources.values()))
        assert one.attrs["box"].startswith("CTO-") and one.attrs["splitter"] == "Splitter 1"

    run(scenario)

    async def small_pages(h: Harness) -> None:
        h.store.generate({"project": PROJECT, "boxes": 5, "ports": 8, "occupied_rate": 1.0})
        observed = await h.provider.observe()
        assert len(observed.resources) == 40
        pages = h.calls("GET", "/api/v2/properties")
        assert sorted(int(c.params["page"]) for c in pages) == list(range(1, 7))
        assert {c.params["limit"] for c in pages} == {"7"}

    run(small_pages, options={"page_size": 7})


def test_links_carry_service_box_splitter_port_document_and_name() -> None:
    async def scenario(h: Harness) -> None:
        splitters = h.box("CTO-A", splitters=(("S1", 8, True, ()), ("S2", 8, True, ())))
        h.premises(splitters["S2"], 5, "1001", observation="Casa amarela. CPF/CNPJ 11144477735")
        h.premises(splitters["S1"], 1, "ABC", observation="")
        h.premises(splitters["S1"], 2)  # premises without a client: no link, but occupied
        observed = await h.provider.observe()
        found = {r.key: r for r in observed.resources.values()}
        assert set(found) == {"1001", "ABC"}
        assert found["1001"].attrs == {"service": 1001, "box": "CTO-A", "splitter": "S2",
                                       "port": 5, "document": "11144477735",
                                       "name": "Client 1001"}
        assert found["1001"].remote_id == h.client("1001")["id"]  # type: ignore[index]
        assert (found["ABC"].attrs["service"], found["ABC"].attrs["document"]) == (None, "")
        (box,) = observed.catalogs["elements"]
        occupied = {s["name"]: s["occupied"] for s in box["splitters"]}
        assert occupied == {"S1": {"1": "ABC", "2": ""}, "S2": {"5": "1001"}}

    run(scenario)


def test_the_catalog_says_which_splitters_serve_customers_and_which_ports_are_reserved() -> None:
    async def scenario(h: Harness) -> None:
        h.box("CTO-A", reserve=2, splitters=(("S1", 8, True, (3,)), ("D1", 8, False, ())))
        h.box("CTO-B", splitters=(("Atendimento", 16, False, (1, 16)),))
        h.box("CTO-C", implanted=False)
        h.box("CTO-D", draft=True)
        boxes = {b["name"]: b for b in (await h.provider.observe()).catalogs["elements"]}
        a = {s["name"]: s for s in boxes["CTO-A"]["splitters"]}
        assert (a["S1"]["customer"], a["S1"]["ports"], a["S1"]["reserved"]) == (True, 8,
                                                                                 [3, 7, 8])
        assert (a["D1"]["customer"], a["D1"]["reserved"]) == (False, [])  # reserve: customers'
        (b,) = boxes["CTO-B"]["splitters"]
        assert (b["customer"], b["reserved"]) == (True, [1, 16])  # named by the option
        assert [boxes[n]["implanted"] for n in ("CTO-A", "CTO-B", "CTO-C", "CTO-D")] == [
            True, True, False, False]
        assert boxes["CTO-A"]["lat"] == pytest.approx(LAT)

    run(scenario, options={"customer_splitters": ["Atendimento"]})

    async def without_the_option(h: Harness) -> None:
        h.box("CTO-B", splitters=(("Atendimento", 16, False, ()),))
        (box,) = (await h.provider.observe()).catalogs["elements"]
        assert box["splitters"][0]["customer"] is False

    run(without_the_option)


def test_a_splitter_named_by_customer_splitters_takes_a_client() -> None:
    async def scenario(h: Harness) -> None:
        splitters = h.box("CTO-B", splitters=(("Atendimento", 16, False, ()),))
        await h.provider.observe()
        await h.provider.execute(change(Action.LINK, after=link(box="CTO-B",
                                                                splitter="Atendimento")))
        assert h.where("7001") == (splitters["Atendimento"], 3)

    run(scenario, options={"customer_splitters": ["Atendimento"]})


def test_an_unknown_project_or_none_is_a_clear_error() -> None:
    async def unknown(h: Harness) -> None:
        with pytest.raises(errors.NotFoundError, match="project 'Nenhum' does not exist on "
                           "ozmap"):
            await h.provider.observe()

    run(unknown, options={"project": "Nenhum"})

    async def missing(h: Harness) -> None:
        with pytest.raises(errors.ReconcilerError, match="option project"):
            await h.provider.observe()

    run(missing, options={"project": ""})


# -- linking, moving, freeing ------------------------------------------------------------------


def test_a_link_creates_the_property_on_the_port_with_its_client_and_repeats_as_done() -> None:
    async def scenario(h: Harness) -> None:
        splitters, client = await link_one(h)
        assert (client["name"], client["observation"], client["implanted"]) == (
            "Maria Silva", f"CPF/CNPJ {DOCUMENT}", True)
        assert h.where("7001") == (splitters["S1"], 3)
        (post,) = h.calls("POST", "/api/v2/properties")
        assert post.body["connector"] == splitters["S1"] and post.body["port"] == 3
        assert post.body["project"] == h.project and post.body["client"]["code"] == "7001"

        observed = await h.provider.observe()
        (res,) = observed.resources.values()
        assert res.attrs == link()
        writes = dict(h.store.writes)
        assert await h.provider.execute(change(Action.LINK, after=link())) == Applied(
            remote_ids={"7001": client["id"]})
        assert len(h.store.tables["ftth-clients"]) == len(h.store.tables["properties"]) == 1
        assert h.store.writes == writes  # nothing changed the second time

    run(scenario)


def test_an_occupied_reserved_or_blocked_port_is_a_clear_refusal_that_writes_nothing() -> None:
    async def scenario(h: Harness) -> None:
        splitters = h.box("CTO-A", reserve=1, splitters=(("S1", 8, True, (4,)),))
        h.premises(splitters["S1"], 2, "1001")
        h.premises(splitters["S1"], 3)  # premises, no client
        await h.provider.observe()
        writes = dict(h.store.writes)
        for port, cls, text in ((2, errors.ConflictError, "box CTO-A port 2 is held by another "
                                 "client or premises on ozmap (ozmap PORT_IN_USE"),
                                (3, errors.ConflictError, "box CTO-A port 3 is held by another"),
                                (4, errors.ConflictError, "box CTO-A port 4 is blocked on ozmap"),
                                (8, errors.ConflictError, "box CTO-A port 8 is reserved on "
                                 "ozmap")):
            with pytest.raises(cls) as refused:
                await h.provider.execute(change(Action.LINK, after=link(port=port)))
            assert text in str(refused.value) and refused.value.status == 409
        assert h.client("7001") is None and len(h.store.tables["properties"]) == 2
        assert h.store.writes == writes

    run(scenario)


def test_a_move_patches_the_property_to_its_new_connector_and_port() -> None:
    async def scenario(h: Harness) -> None:
        a, b = h.box("CTO-A"), h.box("CTO-B", north=50)
        await h.provider.observe()
        await h.provider.execute(change(Action.LINK, after=link()))
        prop = h.property_of("7001")
        await h.provider.observe()
        before = len(h.recorder.calls)
        await h.provider.execute(change(Action.UPDATE, before=link(), after=link(
            box="CTO-B", port=6, name="Maria S. Silva")))
        assert h.where("7001") == (b["S1"], 6)
        assert h.property_of("7001")["id"] == prop["id"]  # type: ignore[index]
        assert h.client("7001")["name"] == "Maria S. Silva"  # type: ignore[index]
        assert h.store.tables["splitters"][a["S1"]]["connectables"]["output"][2] is None
        patches = [c for c in h.recorder.calls[before:] if c.method == "PATCH"]
        assert [c.path.split("/")[3] for c in patches] == ["ftth-clients", "properties"]
        assert patches[1].body == {"box": h.store.tables["splitters"][b["S1"]]["parent"],
                                   "connector": b["S1"], "port": 6}
        assert not [c for c in h.recorder.calls[before:] if c.method in ("POST", "DELETE")]

    run(scenario)


@pytest.mark.parametrize("on_cancel", ["remove_client", "keep_property"])
def test_a_freed_port_follows_on_cancel(on_cancel: str) -> None:
    async def scenario(h: Harness) -> None:
        splitters, _ = await link_one(h)
        prop = h.property_of("7001")
        assert prop is not None
        await h.provider.observe()
        assert await h.provider.execute(change(Action.UNLINK, before=link())) == Applied()
        assert h.client("7001") is None and not h.store.tables["ftth-clients"]
        output = h.store.tables["splitters"][splitters["S1"]]["connectables"]["output"]
        assert output[2] is None  # the port is free either way
        kept = h.store.tables["properties"].get(prop["id"])
        if on_cancel == "keep_property":
            assert kept is not None and kept["connections"] == [] and kept["client"] is None
        else:
            assert kept is None and not h.store.tables["properties"]
        writes = dict(h.store.writes)
        assert await h.provider.execute(change(Action.UNLINK, before=link())) == Applied()
        assert h.store.writes == writes  # gone already: nothing more written

    run(scenario, options={"on_cancel": on_cancel})


def test_a_swap_disconnects_the_displaced_client_first_then_both_move() -> None:
    async def scenario(h: Harness) -> None:
        splitters = h.box("CTO-A")
        h.premises(splitters["S1"], 1, "7001")
        h.premises(splitters["S1"], 2, "7002")
        displaced = h.property_of("7002")["id"]  # type: ignore[index]
        await h.provider.observe()
        before = len(h.recorder.calls)
        # as the planner breaks the ring: 7001 takes port 2 displacing 7002, then 7002 moves
        await h.provider.execute(change(Action.UPDATE, before=link(port=1), after=link(
            port=2, displace="7002")))
        writes = [c for c in h.recorder.calls[before:] if c.method != "GET"]
        assert (writes[0].method, writes[0].path, writes[0].body) == (
            "PATCH", f"/api/v2/properties/{displaced}", {"connector": None})
        assert h.where("7001") == (splitters["S1"], 2) and h.where("7002") is None
        await h.provider.execute(change(Action.UPDATE, "7002", before=link(
            service=7002, port=2), after=link(service=7002, port=1)))
        assert h.where("7002") == (splitters["S1"], 1)
        assert h.property_of("7002")["id"] == displaced  # type: ignore[index]
        assert len(h.store.tables["properties"]) == 2

    run(scenario)


def test_a_link_whose_answer_was_lost_is_retried_into_one_client() -> None:
    async def scenario(h: Harness) -> None:
        splitters, _ = await link_one(h)
        assert len(h.store.tables["ftth-clients"]) == len(h.store.tables["properties"]) == 1
        assert h.where("7001") == (splitters["S1"], 3) and len(h.slept) == 1
        # the first answer lost, the retry refused (the port is taken: by that first try)
        assert [c.status for c in h.calls("POST", "/api/v2/properties")] == [0, 409]

    run(scenario, wrap=lambda inner: LoseFirst(inner, "POST", "/api/v2/properties"))


# -- feasibility -------------------------------------------------------------------------------


def test_feasibility_lists_viable_boxes_by_distance_then_the_others_with_their_reason() -> None:
    async def scenario(h: Harness) -> None:
        h.box("CTO-FAR", north=180)
        full = h.box("CTO-FULL", north=20, splitters=(("S1", 2, True, ()),))
        h.premises(full["S1"], 1, "1")
        h.premises(full["S1"], 2, "2")
        h.box("CTO-NEAR", north=40, reserve=2, splitters=(("S1", 8, True, (1,)),))
        h.box("CTO-DESIGN", north=10, implanted=False)
        h.box("CTO-DRAFT", north=60, draft=True)
        h.box("CTO-DIST", north=70, splitters=(("D1", 8, False, ()),))
        h.box("CTO-OUT", north=900)
        outro = h.store.create("projects", {"name": "Outro"})["id"]
        h.box("CTO-OTHER", project=outro, north=5)
        found = await h.provider.feasibility(LAT, LNG, 200)
        (call,) = h.calls("GET", "/api/v2/ftth-viability/radius")
        assert call.params == {"lat": str(LAT), "lng": str(LNG), "project": h.project,
                               "radius": "200"}
        assert found.viable and found.radius_m == 200
        shown = [(c.box, c.viable, c.free_ports, c.reason) for c in found.candidates]
        assert shown == [("CTO-NEAR", True, 5, ""), ("CTO-FAR", True, 8, ""),
                         ("CTO-DESIGN", False, 0, "in design"),
                         ("CTO-FULL", False, 0, "no free customer port"),
                         ("CTO-DRAFT", False, 0, "a draft"),
                         ("CTO-DIST", False, 0, "no customer splitter")]
        near = found.candidates[0]
        assert near.distance_m == pytest.approx(40, abs=0.5) and near.lat > LAT

        default = await h.provider.feasibility(LAT, LNG, None)
        assert default.radius_m == 250 and "radius" not in h.calls(
            "GET", "/api/v2/ftth-viability/radius")[1].params

    run(scenario)


# -- answers of the wrong shape ----------------------------------------------------------------


REAL = Integration(NAME, "ozmap", "https://isp.ozmap.example:9994", {}, {"project": PROJECT})


def _platform(overrides: Mapping[str, Any]) -> Callable[[httpx.Request], httpx.Response]:
    """A fake OZmap answering every listing empty, the project found, except ``overrides``
    ("METHOD /path" -> the JSON body to answer)."""
    project = {"total": 1, "count": 1, "start": 0, "limit": 100, "hasNextPage": False,
               "rows": [{"id": "6" * 24, "name": PROJECT}]}
    empty = {"total": 0, "count": 0, "start": 0, "limit": 100, "rows": [], "hasNextPage": False}

    def answer(request: httpx.Request) -> httpx.Response:
        key = f"{request.method} {request.url.path}"
        if key in overrides:
            return httpx.Response(200, json=overrides[key])
        if key == f"POST {LOGIN_PATH}":
            return httpx.Response(200, json={"authorization": "token-1"})
        return httpx.Response(200, json=project if key.endswith("/projects") else empty)

    return answer


@pytest.mark.parametrize(("overrides", "call", "credentials"), [
    ({"POST /api/v2/users/login": {"token": "x"}}, "POST /api/v2/users/login: unexpected", LOGIN),
    ({"GET /api/v2/projects": {"rows": "none"}}, "GET /projects: unexpected", KEY),
    ({"GET /api/v2/boxes": {"total": "1", "rows": []}}, "GET /boxes: unexpected", KEY),
    ({"GET /api/v2/properties": {"total": 1, "rows": [{"id": "p", "client": "c",
                                                       "connections": [{"port": 1}]}]},
      "GET /api/v2/ftth-clients": {"total": 1, "rows": [{"id": "c", "code": "7"}]}},
     "GET /properties: unexpected", KEY),
], ids=["login", "projects", "boxes", "properties"])
def test_an_answer_of_the_wrong_shape_is_a_provider_error_naming_the_call(
        overrides: Mapping[str, Any], call: str, credentials: Mapping[str, str]) -> None:
    wrong_shape(OzmapProvider(REAL, credentials, httpx.MockTransport(_platform(overrides))),
                call)


def test_a_viability_answer_of_the_wrong_shape_names_the_call() -> None:
    overrides = {"GET /api/v2/ftth-viability/radius": {"radius": 100, "boxes": [
        {"name": "CTO-1", "distance": "far"}]}}
    wrong_shape(OzmapProvider(REAL, KEY, httpx.MockTransport(_platform(overrides))),
                "GET /ftth-viability/radius: unexpected",
                lambda provider: provider.feasibility(LAT, LNG, 100))
