"""The SaperX v2 provider against its simulator, in process: what a real platform would see."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from reconciler import errors
from reconciler.model import Action, Change, Integration, Resource, SecretRef
from reconciler.platforms.saperx_v2.provider import SaperxV2Provider
from reconciler.platforms.saperx_v2.sim import create_app
from reconciler.platforms.saperx_v2.sim_store import Environment, Extension, Store
from reconciler.providers.base import Applied
from reconciler.providers.http import MASK
from reconciler.sim.clock import FakeClock
from reconciler.sim.faults import Faults, SimTransport
from tests.contract.harness import SimHarness, collector, drive

NAME = "voip"
SECRET = "contract-v2-secret-1234"
CREDENTIALS = {"username": "ixc-voip", "password": "contract-pass-5678",
               "api_key": "contract-v2-key-9012", "api_secret": SECRET}
HOMOLOG = {"username": "ixc-homolog", "password": "homolog-pass-3456",
           "api_key": "homolog-key-7890", "api_secret": "homolog-secret-1234"}
SIP_PASSWORD = "sip-Secret-Value-31415"
PERMISSIONS = {"LC": True, "LDN": True, "LDI": False, "VC1": True, "VC2": False, "VC3": False}
RANGE = {"country_code": 55, "area_code": 48, "first": "32001000", "last": "32001099",
         "status": "available"}
Wrap = Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport]


def line(**attrs: Any) -> dict[str, Any]:
    """The target attributes of a SIP line, as the planner hands them over."""
    base: dict[str, Any] = {
        "service": 7001, "line_type": "new", "active": True, "blocked": False, "call_limit": 2,
        "plan": "Fixo Brasil 500", "international_plan": "Internacional Mundo",
        "closing_day": 10, "billing": "postpaid", "route": "SCM", "caller_id": "4832001000",
        "permissions": dict(PERMISSIONS),
        "dids": [{"number": "4832001000", "monthly_value": "12.50", "collect_calls": True,
                  "city": "Florianópolis"}],
    }
    return {**base, **attrs}


class Harness(SimHarness):
    def __init__(self, *, environment: str | None = None, options: Mapping[str, Any] | None = None,
                 token_ttl: float = 300.0, wrap: Wrap | None = None,
                 credentials: Mapping[str, str] = CREDENTIALS, app: Starlette | None = None,
                 max_attempts: int = 3,
                 clock: FakeClock | None = None, faults: Faults | None = None) -> None:
        super().__init__()
        self.clock = clock or FakeClock()
        self.app = app or create_app(
            SECRET, username=CREDENTIALS["username"], password=CREDENTIALS["password"],
            api_key=CREDENTIALS["api_key"], homologation_credentials=HOMOLOG, clock=self.clock,
            token_ttl=token_ttl, faults=faults)
        self.transport: httpx.AsyncBaseTransport = SimTransport(app=self.app)
        if wrap is not None:
            self.transport = wrap(self.transport)
        opts = dict(options or {})
        if environment is not None:
            opts["environment"] = environment
        refs = {name: SecretRef("env", f"V2_{name.upper()}") for name in CREDENTIALS}
        integration = Integration(NAME, "saperx-v2", "embedded", refs, opts)
        self.provider = SaperxV2Provider(integration, dict(credentials), self.transport,
                                         max_attempts=max_attempts, sleep=self._sleep, clock=self.clock.now)

    @property
    def store(self) -> Store:
        return self.app.state.store  # type: ignore[no-any-return]

    def env(self, name: str = "production") -> Environment:
        return self.store.envs[name]

    def ext(self, code: str, env: str = "production") -> Extension:
        return self.env(env).extensions[code]

    def ext_fields(self) -> dict[str, Any]:
        """Complete store fields of a line with no DIDs (seeding past the wire)."""
        return {"password_sha256": "0" * 64, "active": True, "blocked": False, "call_limit": 1,
                "plan_id": 101, "international_plan_id": None, "closing_day": 5,
                "billing": "prepaid", "route": "STFC", "caller_id": None,
                "permissions": dict(PERMISSIONS), "line_type": "new", "dids": [],
                "contract": None}

    def seed_range(self, name: str = "Florianópolis", prefix: str = "5548",
                   start: str = "32001000", end: str = "32001099", env: str = "production") -> int:
        return self.store.create_range(self.env(env), name, prefix, start, end).id


def run(scenario: Callable[[Harness], Awaitable[None]], **kwargs: Any) -> Harness:
    return drive(Harness(**kwargs), scenario)


def change(action: Action, keys: Sequence[str], after: Mapping[str, Any] | None = None,
           kind: str = "extension", before: Mapping[str, Any] | None = None) -> Change:
    return Change(NAME, kind, action, tuple(keys), before, after, reason="test")


async def create_line(h: Harness, key: str = "300001", **attrs: Any) -> Applied:
    after = {**line(**attrs), "password": SIP_PASSWORD}
    return await h.provider.execute(change(Action.CREATE, [key], after))


async def create_range(h: Harness, key: str = "Florianópolis", **attrs: Any) -> Applied:
    return await h.provider.execute(change(Action.CREATE, [key], {**RANGE, **attrs},
                                           kind="voip_range"))


# -- observe -----------------------------------------------------------------------------------


def test_observe_reads_every_page_and_maps_every_field_of_both_kinds_and_the_catalogs() -> None:
    async def scenario(h: Harness) -> None:
        h.seed_range()
        h.seed_range("Joinville", "5547", "930010000", "930010009")
        h.seed_range("Reserva", "5548", "33000000", "33000009")
        await create_line(h)
        await create_line(h, "300002", service=7002, international_plan=None, caller_id=None,
                          active=False, blocked=True, line_type="portability", billing="prepaid",
                          route="custom", plan="Fixo Local 100", call_limit=5, closing_day=28,
                          dids=[{"number": "47930010005", "monthly_value": "0.00",
                                 "collect_calls": False, "city": ""},
                                {"number": "4832001001", "monthly_value": "29.9",
                                 "collect_calls": False, "city": "Floripa"}])
        await create_line(h, "300003", service=7003, dids=[], caller_id=None)
        h.ext("300003").plan_id = 777  # a plan the catalog lacks (gone from it since)
        h.ext("300003").international_plan_id = 999
        before = h.requests()
        observed = await h.provider.observe()

        assert observed.integration == NAME
        assert h.requests()["GET /api/v2/extensions"] - before.get("GET /api/v2/extensions",
                                                                     0) == 2
        assert h.requests()["GET /api/v2/ranges"] - before.get("GET /api/v2/ranges", 0) == 2
        assert observed.reads == 4 + 2  # two catalogs, first pages, one more page of each
        ranges = {r.key: r for r in observed.resources.values() if r.kind == "voip_range"}
        assert ranges["Florianópolis"] == Resource(
            NAME, "voip_range", "Florianópolis",
            {"country_code": 55, "area_code": 48, "first": "32001000", "last": "32001099",
             "status": "in_use"}, remote_id="1")
        assert ranges["Joinville"].attrs == {"country_code": 55, "area_code": 47,
                                             "first": "930010000", "last": "930010009",
                                             "status": "in_use"}
        assert (ranges["Reserva"].attrs["status"], ranges["Reserva"].remote_id) == (
            "available", "3")
        lines = {r.key: r for r in observed.resources.values() if r.kind == "extension"}
        assert set(lines) == {"300001", "300002", "300003"}
        assert lines["300001"] == Resource(NAME, "extension", "300001", line(), remote_id="300001")
        assert lines["300002"].attrs == line(
            service=7002, international_plan=None, caller_id=None, active=False, blocked=True,
            line_type="portability", billing="prepaid", route="custom", plan="Fixo Local 100",
            call_limit=5, closing_day=28,
            dids=[{"number": "47930010005", "monthly_value": "0.00", "collect_calls": False,
                   "city": "Joinville"},  # the platform filled the city in
                  {"number": "4832001001", "monthly_value": "29.90", "collect_calls": False,
                   "city": "Floripa"}])
        assert (lines["300003"].attrs["plan"], lines["300003"].attrs["international_plan"]) == (
            "#777", "#999")
        assert all("password" not in r.attrs for r in lines.values())
        plans = observed.catalogs["plans"]
        assert [(p["id"], p["name"]) for p in plans] == [
            (101, "Fixo Local 100"), (102, "Fixo Brasil 500"), (103, "Fixo Ilimitado")]
        assert plans[0]["allowance_minutes"]["LC"] == 100
        assert [p["name"] for p in observed.catalogs["international_plans"]] == [
            "Internacional Américas", "Internacional Mundo"]
        assert await h.provider.catalogs() == observed.catalogs

    run(scenario, options={"page_size": 2})


def test_a_range_name_held_twice_keeps_both_visible() -> None:
    async def scenario(h: Harness) -> None:
        h.seed_range("Centro")
        h.seed_range("Centro", start="32002000", end="32002009")
        keys = {r.key: r.remote_id for r in (await h.provider.observe()).resources.values()}
        assert keys == {"Centro": "1", "Centro#2": "2"}

    run(scenario)


# -- extensions: writes on the wire ------------------------------------------------------------


def test_create_with_an_account_code_sends_every_field_and_the_password() -> None:
    async def scenario(h: Harness) -> None:
        h.seed_range()
        applied = await create_line(h)
        assert applied == Applied(remote_ids={"300001": "300001"})
        assert h.requests()["POST /api/v2/extensions/{account_code}"] == 1
        ext = h.ext("300001")
        assert ext.password_sha256 == hashlib.sha256(SIP_PASSWORD.encode()).hexdigest()
        assert (ext.plan_id, ext.international_plan_id, ext.contract) == (102, 902, 7001)
        assert (ext.caller_id, ext.call_limit, ext.closing_day) == ("554832001000", 2, 10)
        assert (ext.billing, ext.route, ext.line_type, ext.active, ext.blocked) == (
            "postpaid", "SCM", "new", True, False)
        assert ext.permissions == PERMISSIONS
        assert [(d.number, d.monthly_value, d.collect_calls, d.city) for d in ext.dids] == [
            ("554832001000", "12.50", True, "Florianópolis")]

    run(scenario)


def test_create_without_an_account_code_records_the_one_the_platform_assigned() -> None:
    async def scenario(h: Harness) -> None:
        h.seed_range()
        h.store.create_extension(h.env(), "100000", {**h.ext_fields(), "contract": 1})
        key = "7001/4832001000"
        applied = await create_line(h, key)
        assert applied == Applied(remote_ids={key: "100001"})
        assert h.requests()["POST /api/v2/extensions"] == 1
        assert h.ext("100001").contract == 7001
        # the same create again (its answer lost, say): the DIDs show it is done, no second line
        assert await create_line(h, key) == applied
        assert len(h.env().extensions) == 2
        assert h.store.writes["production/100001"] == {"create": 1}

    run(scenario)


def test_a_create_without_code_whose_dids_another_contract_holds_is_a_clear_conflict() -> None:
    async def scenario(h: Harness) -> None:
        h.seed_range()
        await create_line(h)
        with pytest.raises(errors.ConflictError, match="a DID is held by another extension") as e:
            await create_line(h, "7002/4832001000", service=7002)
        assert "did_em_uso" in str(e.value) and "300001" in str(e.value)

    run(scenario)


def test_create_again_with_the_same_code_converges_and_another_contracts_code_is_refused() -> None:
    async def scenario(h: Harness) -> None:
        h.seed_range()
        first = await create_line(h)
        assert await create_line(h) == first  # the same line: done, nothing written
        assert h.store.writes["production/300001"] == {"create": 1}
        assert await create_line(h, call_limit=4) == first  # same contract: converged
        assert h.ext("300001").call_limit == 4
        with pytest.raises(errors.ConflictError, match="account code 300001 is already taken") as e:
            await create_line(h, service=9999, dids=[], caller_id=None)
        assert "codigo_em_uso" in str(e.value) and e.value.status == 409

    run(scenario)


def test_update_puts_every_target_field_and_repeating_it_writes_nothing() -> None:
    async def scenario(h: Harness) -> None:
        h.seed_range()
        await create_line(h)
        after = line(call_limit=6, plan="Fixo Ilimitado", international_plan=None,
                     permissions={**PERMISSIONS, "LDI": True}, route="STFC", closing_day=20,
                     dids=[{"number": "4832001000", "monthly_value": "15.00",
                            "collect_calls": False, "city": "Florianópolis"},
                           {"number": "4832001002", "monthly_value": "5", "collect_calls": True,
                            "city": ""}])
        update = change(Action.UPDATE, ["300001"], after, before=line())
        assert await h.provider.execute(update) == Applied()
        assert await h.provider.execute(update) == Applied()
        assert h.store.writes["production/300001"] == {"create": 1, "update": 1}
        assert h.requests()["PUT /api/v2/extensions/{account_code}"] == 2
        ext = h.ext("300001")
        assert (ext.call_limit, ext.plan_id, ext.international_plan_id, ext.route,
                ext.closing_day, ext.permissions["LDI"]) == (6, 103, None, "STFC", 20, True)
        assert [(d.number, d.monthly_value) for d in ext.dids] == [
            ("554832001000", "15.00"), ("554832001002", "5.00")]
        digest = ext.password_sha256
        new = change(Action.UPDATE, ["300001"], {**after, "password": "another-sip-secret"})
        await h.provider.execute(new)  # a password change is sent when the change carries one
        assert h.ext("300001").password_sha256 != digest
        observed = (await h.provider.observe()).resources['voip.extension["300001"]']
        assert observed.attrs["dids"][1] == {"number": "4832001002", "monthly_value": "5.00",
                                             "collect_calls": True, "city": "Florianópolis"}

    run(scenario)


def test_suspend_and_resume_set_blocked_only() -> None:
    async def scenario(h: Harness) -> None:
        h.seed_range()
        await create_line(h)
        await h.provider.execute(change(Action.SUSPEND, ["300001"], line(blocked=True)))
        assert (h.ext("300001").blocked, h.ext("300001").active) == (True, True)
        await h.provider.execute(change(Action.SUSPEND, ["300001"], line(blocked=True)))
        await h.provider.execute(change(Action.RESUME, ["300001"], line()))
        assert h.ext("300001").blocked is False
        assert h.store.writes["production/300001"] == {"create": 1, "update": 2}

    run(scenario)


def test_delete_deactivates_idempotently_and_an_update_reactivates() -> None:
    async def scenario(h: Harness) -> None:
        h.seed_range()
        await create_line(h)
        for _ in range(2):
            assert await h.provider.execute(change(Action.DELETE, ["300001"])) == Applied()
        assert h.ext("300001").active is False and "300001" in h.env().extensions
        assert h.store.writes["production/300001"] == {"create": 1, "deactivate": 1}
        assert h.requests()["POST /api/v2/extensions/{account_code}/deactivate"] == 2
        await h.provider.execute(change(Action.DELETE, ["399999"]))  # never there: done
        await h.provider.execute(change(Action.UPDATE, ["300001"], line()))
        assert h.ext("300001").active is True

    run(scenario)


def test_a_did_moves_off_one_line_then_onto_the_other_and_the_wrong_order_is_a_conflict() -> None:
    async def scenario(h: Harness) -> None:
        h.seed_range()
        two = [{"number": "4832001000", "monthly_value": "10.00", "collect_calls": False,
                "city": "Florianópolis"},
               {"number": "4832001001", "monthly_value": "10.00", "collect_calls": False,
                "city": "Florianópolis"}]
        await create_line(h, dids=two)
        await create_line(h, "300002", service=7002, caller_id="4832001050",
                          dids=[{"number": "4832001050", "monthly_value": "10.00",
                                 "collect_calls": False, "city": "Florianópolis"}])
        onto = line(service=7002, caller_id="4832001050",
                    dids=[two[1], {"number": "4832001050", "monthly_value": "10.00",
                                   "collect_calls": False, "city": "Florianópolis"}])
        with pytest.raises(errors.ConflictError, match="did_em_uso"):
            await h.provider.execute(change(Action.UPDATE, ["300002"], onto))
        await h.provider.execute(change(Action.UPDATE, ["300001"], line(dids=[two[0]])))
        await h.provider.execute(change(Action.UPDATE, ["300002"], onto))
        assert [d.number for d in h.ext("300001").dids] == ["554832001000"]
        assert [d.number for d in h.ext("300002").dids] == ["554832001001", "554832001050"]
        assert h.env().did_owner["554832001001"] == "300002"

    run(scenario)


@pytest.mark.parametrize(("attrs", "cls", "expected"), [
    ({"call_limit": 0}, errors.RejectedError, "call_limit"),
    ({"closing_day": 29}, errors.RejectedError, "closing_day"),
    ({"caller_id": "4832001099"}, errors.RejectedError, "caller id must be one of"),
    ({"dids": [{"number": "4833000000", "monthly_value": "1.00", "collect_calls": False,
                "city": ""}], "caller_id": None},
     errors.RejectedError, "outside every number range"),
    ({"dids": [{"number": "4832001000", "monthly_value": "1.00", "collect_calls": False,
                "city": ""}] * 2}, errors.RejectedError, "dados_invalidos"),
    ({"plan": "#555"}, errors.RejectedError, "plano_inexistente"),
])
def test_each_platform_refusal_of_an_extension_is_a_clear_error_with_its_message(
    attrs: dict[str, Any], cls: type[errors.ProviderError], expected: str,
) -> None:
    async def scenario(h: Harness) -> None:
        h.seed_range()
        with pytest.raises(cls, match=expected) as caught:
            await create_line(h, **attrs)
        assert type(caught.value) is cls and caught.value.status == 422
        assert "extension 300001" in str(caught.value) and "saperx-v2" in str(caught.value)
        assert SIP_PASSWORD not in f"{caught.value} {caught.value!r} {caught.value.detail}"
        assert h.env().extensions == {}

    run(scenario)


def test_a_plan_name_the_catalog_lacks_is_refused_before_any_write_naming_the_valid_ones() -> None:
    async def scenario(h: Harness) -> None:
        h.seed_range()
        with pytest.raises(errors.RejectedError, match="plan 'Fixo Mundo' does not exist") as e:
            await create_line(h, plan="Fixo Mundo")
        assert "'Fixo Local 100', 'Fixo Brasil 500', 'Fixo Ilimitado'" in str(e.value)
        with pytest.raises(errors.RejectedError, match="valid international plans: "
                           "'Internacional Américas', 'Internacional Mundo'"):
            await create_line(h, international_plan="Europa")
        assert not any(k.startswith("POST") for k in h.requests() if "extensions" in k)

    run(scenario)


def test_a_create_without_password_and_an_update_of_a_missing_line_are_clear() -> None:
    async def scenario(h: Harness) -> None:
        with pytest.raises(errors.PlanError, match="needs its password"):
            await h.provider.execute(change(Action.CREATE, ["300001"], line()))
        with pytest.raises(errors.PlanError, match="incomplete or malformed"):
            await h.provider.execute(change(Action.CREATE, ["300001"],
                                            {"password": SIP_PASSWORD}))
        unresolved = {**line(), "password": SecretRef("env", "SIP_PASSWORD")}
        with pytest.raises(errors.PlanError, match="must be resolved to its text"):
            await h.provider.execute(change(Action.UPDATE, ["300001"], unresolved))
        assert h.requests() == {}  # nothing reached the platform
        with pytest.raises(errors.NotFoundError, match="extension 300009 does not exist"):
            await h.provider.execute(change(Action.UPDATE, ["300009"], line()))
        with pytest.raises(errors.ReconcilerError, match="cannot link a extension"):
            await h.provider.execute(change(Action.LINK, ["300009"], line()))

    run(scenario)


# -- ranges ------------------------------------------------------------------------------------


def test_ranges_are_created_again_safely_updated_and_deleted_and_their_rules_surface() -> None:
    async def scenario(h: Harness) -> None:
        applied = await create_range(h)
        assert applied == Applied(remote_ids={"Florianópolis": "1"})
        assert await create_range(h) == applied  # the same range again: done
        assert len(h.env().ranges) == 1
        assert h.requests()["POST /api/v2/ranges"] == 2
        created = h.env().ranges[1]
        assert (created.name, created.prefix, created.start, created.end) == (
            "Florianópolis", "5548", "32001000", "32001099")
        with pytest.raises(errors.ConflictError, match="range Centro overlaps") as e:
            await create_range(h, "Centro", first="32001050", last="32001200")
        assert "range_sobreposta" in str(e.value) and "Florianópolis" in str(e.value)
        await create_line(h)  # uses 4832001000
        with pytest.raises(errors.ConflictError, match="range Florianópolis is in use"):
            await h.provider.execute(change(Action.UPDATE, ["Florianópolis"],
                                            {**RANGE, "first": "32001010"}, kind="voip_range"))
        await h.provider.execute(change(Action.UPDATE, ["Florianópolis"],
                                        {**RANGE, "last": "32001199"}, kind="voip_range"))
        assert h.env().ranges[1].end == "32001199"
        with pytest.raises(errors.ConflictError, match="range_em_uso"):
            await h.provider.execute(change(Action.DELETE, ["Florianópolis"], kind="voip_range"))
        await create_range(h, "Joinville", area_code=47, first="930010000", last="930010009")
        fresh = Harness(app=h.app, clock=h.clock)  # knows no id: finds it by name
        try:
            for _ in range(2):
                await fresh.provider.execute(change(Action.DELETE, ["Joinville"],
                                                    kind="voip_range"))
            with pytest.raises(errors.NotFoundError, match="range Nowhere does not exist"):
                await fresh.provider.execute(change(Action.UPDATE, ["Nowhere"], RANGE,
                                                    kind="voip_range"))
        finally:
            await fresh.provider.aclose()
        assert set(h.env().ranges) == {1}
        with pytest.raises(errors.RejectedError, match="dados_invalidos"):
            await create_range(h, "Ruim", area_code=40, first="1", last="2")

    run(scenario)


# -- tokens ------------------------------------------------------------------------------------


def test_the_access_token_is_renewed_by_the_rotating_refresh_token_then_by_login() -> None:
    async def scenario(h: Harness) -> None:
        await h.provider.check()
        first_refresh = h.provider._refresh[0]
        assert (h.store.logins, h.store.refreshes) == (1, 0)
        h.clock.advance(301)  # the access token lapsed
        await h.provider.catalogs()
        second_refresh = h.provider._refresh[0]
        assert (h.store.logins, h.store.refreshes) == (1, 1) and second_refresh != first_refresh
        h.clock.advance(301)
        await h.provider.catalogs()  # the rotated refresh token renews again
        assert (h.store.logins, h.store.refreshes) == (1, 2)
        await h.admin("POST", "/_sim/tokens/expire")  # revoked early: a 401, refreshed once
        await h.provider.catalogs()
        assert (h.store.logins, h.store.refreshes) == (1, 3)
        await h.admin("POST", "/_sim/tokens/expire-refresh")
        await h.admin("POST", "/_sim/tokens/expire")
        await h.provider.catalogs()  # the refresh is refused: a full login
        assert (h.store.logins, h.store.refreshes) == (2, 3)
        h.clock.advance(8 * 86400)  # both tokens lapsed: straight to a login
        await h.provider.catalogs()
        assert (h.store.logins, h.store.refreshes) == (3, 3)
        assert h.provider.token.logins == 6 and h.slept == []
        for token in (first_refresh, second_refresh, h.provider._refresh[0],
                      *h.provider.token.seen):
            assert h.provider._client.scrub(f"x{token}x") == f"x{MASK}x"

    run(scenario)


# -- environments ------------------------------------------------------------------------------


def test_homologation_sees_and_writes_only_homologation_data() -> None:
    clock = FakeClock()

    async def production(h: Harness) -> None:
        h.seed_range()
        await create_line(h)
        await create_line(h, "300002", service=7002, dids=[], caller_id=None)

    prod = run(production, clock=clock)
    app = prod.app

    async def homologation(h: Harness) -> None:
        assert (await h.provider.observe()).resources == {}
        await create_range(h, "Teste", first="32001000", last="32001009")
        applied = await create_line(h, "7001/4832001000")
        assert applied == Applied(remote_ids={"7001/4832001000": "100000"})
        await create_line(h, dids=[], caller_id=None)  # production's code: another data set
        observed = await h.provider.observe()
        assert sorted(r.key for r in observed.resources.values()) == [
            "100000", "300001", "Teste"]
        assert h.requests()["GET /homolog/api/v2/extensions"] == 2
        health = await h.provider.check()
        assert health.ok and "homologation" in health.message

    h = run(homologation, app=app, clock=clock, environment="homologation",
            credentials=HOMOLOG)
    assert set(h.env("production").extensions) == {"300001", "300002"}
    assert set(h.env("homologation").extensions) == {"100000", "300001"}
    assert set(h.env("production").ranges) == {1} and len(h.env("homologation").ranges) == 1

    async def refused(h: Harness) -> None:  # production's credentials in homologation
        health = await h.provider.check()
        assert not health.ok and "saperx-v2 (homologation) platform refused the credentials" in health.message

    run(refused, app=app, clock=clock, environment="homologation")
    with pytest.raises(errors.ReconcilerError, match="environment must be production or "
                       "homologation"):
        Harness(environment="staging")


# -- secrets -----------------------------------------------------------------------------------


def test_no_password_credential_or_token_in_any_error_repr_or_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Even a platform that echoes the request into its error is masked."""
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    collect = collector(seen)

    class Echo(httpx.AsyncBaseTransport):
        def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
            self.inner, self.armed = inner, False

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if self.armed and "/auth/" not in request.url.path:
                body = request.content.decode() if request.method != "GET" else ""
                return httpx.Response(422, json={"erro": "dados_invalidos", "mensagem": body},
                                      headers={"x-auth": request.headers.get("authorization", "")})
            return await self.inner.handle_async_request(request)

    echoes: list[Echo] = []

    def wrap(inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        echoes.append(Echo(inner))
        return echoes[0]

    async def scenario(h: Harness) -> None:
        h.seed_range()
        await collect(create_line(h, call_limit=0))  # the platform's own refusal
        await create_line(h)
        echoes[0].armed = True
        await collect(create_line(h, "7009/4832001009", service=7009))
        await collect(h.provider.execute(change(Action.UPDATE, ["300001"],
                                                {**line(), "password": SIP_PASSWORD})))
        await collect(h.provider.observe())
        echoes[0].armed = False
        h.clock.advance(301)
        await h.provider.observe()  # renewed by the refresh token
        seen.append(repr(h.provider))
        seen.append(repr(h.provider._client))
        seen.append((await h.provider.check()).message)
        seen.append(str(await h.provider.observe()))

    h = run(scenario, wrap=wrap)
    assert len(seen) == 8 and all(MASK in text for text in seen[1:3])  # echoed, masked
    secrets = [SIP_PASSWORD, *CREDENTIALS.values(), *h.provider.token.seen,
               h.provider._refresh[0]]
    for secret in secrets:
        assert all(secret not in text for text in (*seen, caplog.text)), secret


def test_check_reports_health_and_refused_credentials() -> None:
    async def scenario(h: Harness) -> None:
        health = await h.provider.check()
        assert health.ok and health.details == {"plans": 3, "environment": "production"}
        assert health.message == "voip: saperx-v2 (production) answered with 3 plans"

    run(scenario)

    async def wrong(h: Harness) -> None:
        health = await h.provider.check()
        assert not health.ok and "credentials.api_secret" in health.message
        with pytest.raises(errors.AuthError, match="refused the credentials"):
            await h.provider.observe()

    run(wrong, credentials={**CREDENTIALS, "api_secret": "wrong-secret-value"})


def test_a_create_without_code_whose_answer_was_lost_is_retried_into_one_line() -> None:
    class LoseFirstCreate(httpx.AsyncBaseTransport):
        def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
            self.inner, self.lost = inner, 0

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            response = await self.inner.handle_async_request(request)
            if (request.method, request.url.path) == ("POST", "/api/v2/extensions") and not self.lost:
                self.lost += 1
                raise httpx.RemoteProtocolError("the platform did it, the answer was lost")
            return response

    async def scenario(h: Harness) -> None:
        h.seed_range()
        applied = await create_line(h, "7001/4832001000")
        assert applied == Applied(remote_ids={"7001/4832001000": "100000"})
        assert set(h.env().extensions) == {"100000"} and len(h.slept) == 1
        assert h.requests()["POST /api/v2/extensions"] == 2  # the retry found it by its DIDs

    run(scenario, wrap=LoseFirstCreate)


def test_clearing_the_caller_id_and_the_international_plan_on_update() -> None:
    async def scenario(h: Harness) -> None:
        h.seed_range()
        await create_line(h)
        await h.provider.execute(change(Action.UPDATE, ["300001"],
                                        line(caller_id=None, international_plan=None)))
        ext = h.ext("300001")
        assert (ext.caller_id, ext.international_plan_id) == (None, None)

    run(scenario)


def test_ranges_and_lines_without_codes_survive_the_fault_layer_and_a_second_apply() -> None:
    faults = Faults(seed=11, error_rate=0.15, rate_limit_rate=0.1, drop_rate=0.05,
                    lost_response_rate=0.15)

    async def scenario(h: Harness) -> None:
        for _ in range(2):
            await create_range(h)
            for n in range(6):
                number = f"48320010{n:02d}"
                did = {"number": number, "monthly_value": "9.90", "collect_calls": False,
                       "city": "Florianópolis"}
                await create_line(h, f"{7100 + n}/{number}", service=7100 + n, caller_id=number,
                                  dids=[did])
            h.clock.advance(400)  # the next round renews its token too
        assert len(h.env().ranges) == 1 and len(h.env().extensions) == 6
        assert sorted(e.contract for e in h.env().extensions.values()) == list(range(7100, 7106))
        observed = await h.provider.observe()
        assert len(observed.resources) == 7 and h.slept

    run(scenario, faults=faults, max_attempts=12)


def test_the_environment_is_a_base_path_under_the_endpoint_as_given() -> None:
    seen: list[str] = []

    def platform(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.url.host}{request.url.path}")
        if request.url.path.endswith("/auth/token"):
            return httpx.Response(200, json={"access_token": "a-1", "refresh_token": "r-1",
                                             "expires_in": 300, "refresh_expires_in": 600})
        return httpx.Response(200, json={"items": []})

    async def main() -> None:
        integration = Integration(NAME, "saperx-v2", "https://voip.example/saperx", {},
                                  {"environment": "homologation"})
        provider = SaperxV2Provider(integration, CREDENTIALS, httpx.MockTransport(platform))
        try:
            await provider.catalogs()
        finally:
            await provider.aclose()

    asyncio.run(main())
    assert seen == ["voip.example/saperx/homolog/api/v2/auth/token",
                    "voip.example/saperx/homolog/api/v2/plans",
                    "voip.example/saperx/homolog/api/v2/international-plans"]


def test_an_answer_of_the_wrong_shape_is_a_provider_error_naming_the_call() -> None:
    def platform(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/auth/token"):
            return httpx.Response(200, json={"access_token": "a-1", "expires_in": 300})
        if request.url.path.endswith("/extensions"):
            return httpx.Response(200, json={"items": [{"account_code": "300001"}], "pages": 1})
        if request.url.path.endswith("/ranges"):
            return httpx.Response(200, json={"items": [], "pages": 1})
        return httpx.Response(200, json={"items": []})

    async def main() -> None:
        integration = Integration(NAME, "saperx-v2", "https://voip.example", {})
        provider = SaperxV2Provider(integration, CREDENTIALS, httpx.MockTransport(platform))
        try:
            with pytest.raises(errors.ProviderError, match="GET /extensions: unexpected"):
                await provider.observe()
        finally:
            await provider.aclose()

    asyncio.run(main())


# -- call records ------------------------------------------------------------------------------


def test_call_records_read_every_page_of_the_period_normalized() -> None:
    from datetime import date, datetime

    async def scenario(h: Harness) -> None:
        h.seed_range()
        await create_line(h, "300001")
        await create_line(h, "300002", caller_id="4832001001", dids=[
            {"number": "4832001001", "monthly_value": "0.00", "collect_calls": False}])
        for code in ("300001", "300002"):
            h.store.backdate(h.env(), code, "2023-01-01")
        first, last = date(2023, 1, 1), date(2023, 11, 10)  # the fake clock is in 2023-11
        pages = [page async for page in h.provider.call_records(first, last)]
        listed = h.store.cdr_page(h.env(), first, last, None, 0, 100_000)[0]
        assert len(listed) > 1000  # more than one page of the platform's largest size
        assert len(pages) == -(-len(listed) // 1000)
        records = [r for page in pages for r in page]
        assert [r["record_id"] for r in records] == [r["id"] for r in listed]
        one = records[0]
        assert set(one) == {"record_id", "account_code", "started_at", "call_type",
                            "duration_seconds", "cost", "destination"}
        assert isinstance(one["started_at"], datetime) and one["started_at"].tzinfo is None
        assert one["started_at"].date() == first and one["cost"] == listed[0]["cost"]
        assert h.requests()["GET /api/v2/cdr"] == len(pages)

    run(scenario, options={"page_size": 10})


def test_a_malformed_call_record_is_an_error_naming_the_call() -> None:
    from datetime import date

    def platform(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/auth/token"):
            return httpx.Response(200, json={"access_token": "a-1", "expires_in": 300})
        return httpx.Response(200, json={"items": [{"id": "cdr-1", "account_code": "300001",
                                                    "started_at": "2026-11-02T10:00:00Z",
                                                    "call_type": "XX", "duration_seconds": 60,
                                                    "cost": "0.10"}], "pages": 1})

    async def main() -> None:
        integration = Integration(NAME, "saperx-v2", "https://voip.example", {})
        provider = SaperxV2Provider(integration, CREDENTIALS, httpx.MockTransport(platform))
        try:
            with pytest.raises(errors.ProviderError, match="GET /cdr: unexpected"):
                async for _ in provider.call_records(date(2026, 11, 2), date(2026, 11, 2)):
                    pass
        finally:
            await provider.aclose()

    asyncio.run(main())
