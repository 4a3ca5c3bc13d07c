"""The SaperX STFC provider against its simulator, in process: what a real platform would see."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from reconciler import errors
from reconciler.model import Action, Change, Integration, Resource, SecretRef
from reconciler.platforms.saperx_stfc.provider import SaperxStfcProvider, consecutive_runs
from reconciler.platforms.saperx_stfc.sim import create_app
from reconciler.providers.base import Applied
from reconciler.sim.clock import FakeClock
from reconciler.sim.faults import Faults
from tests.contract.harness import SimHarness, drive

TOKEN = "contract-secret-token-1234"
NAME = "stfc-sp"
LINK = {"service": 7001, "plan": "STFC Ilimitado", "params": {"numero_telefone_nf": "1130001001"},
        "blocked": False, "document": "52998224725", "name": "Maria Silva"}


class Harness(SimHarness):
    """A simulator, a provider bound to it, and helpers to look at the platform directly."""

    def __init__(self, *, token: str = TOKEN, options: Mapping[str, Any] | None = None,
                 faults: Faults | None = None, transport: httpx.AsyncBaseTransport | None = None,
                 max_attempts: int = 5,
                 wrap: Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport] | None = None,
                 ) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.app: Starlette = create_app(TOKEN, clock=self.clock, removal_delay=5.0, faults=faults)
        self.transport = transport or httpx.ASGITransport(app=self.app)
        if wrap is not None:
            self.transport = wrap(self.transport)
        integration = Integration(NAME, "saperx-stfc", "embedded",
                                  {"token": SecretRef("env", "STFC_TOKEN")}, dict(options or {}))
        self.provider = SaperxStfcProvider(integration, {"token": token}, self.transport,
                                           max_attempts=max_attempts, sleep=self._sleep)

    def numbers(self) -> dict[str, Any]:
        return {k: n.to_wire() for k, n in self.app.state.store.numbers.items()}


def run(scenario: Callable[[Harness], Awaitable[None]], **kwargs: Any) -> Harness:
    return drive(Harness(**kwargs), scenario)


def change(kind: str, action: Action, keys: list[str], after: Mapping[str, Any] | None = None,
           before: Mapping[str, Any] | None = None) -> Change:
    return Change(NAME, kind, action, tuple(keys), before, after, reason="test")


def block(first: int, count: int) -> list[str]:
    return [str(n) for n in range(first, first + count)]


async def create(h: Harness, keys: list[str]) -> Applied:
    return await h.provider.execute(change("number", Action.CREATE, keys, {"country_code": 55}))


async def link(h: Harness, key: str, **attrs: Any) -> Applied:
    return await h.provider.execute(change("link", Action.LINK, [key], {**LINK, **attrs}))


# -- observe -----------------------------------------------------------------------------------


def test_observe_reads_every_page_and_maps_numbers_and_links() -> None:
    async def scenario(h: Harness) -> None:
        await create(h, block(1130001000, 10))
        await link(h, "1130001001")
        await link(h, "1130001002", service=7002, plan="STFC Básico 100", blocked=True, params={})
        await link(h, "1130001003", service=7003)
        await h.provider.execute(change("link", Action.UNLINK, ["1130001003"]))
        observed = await h.provider.observe()

        assert observed.integration == NAME
        assert observed.reads == 2 + 3  # plans + pages 0..3 of 3 numbers
        numbers = [r for r in observed.resources.values() if r.kind == "number"]
        assert sorted(r.key for r in numbers) == block(1130001000, 10)
        ids = {k: str(n["id"]) for k, n in h.numbers().items()}
        assert observed.resources['stfc-sp.number["1130001003"]'] == Resource(
            NAME, "number", "1130001003",
            {"country_code": 55, "status": "removing", "transmission": "sent"},
            remote_id=ids["1130001003"])
        links = {r.key: r for r in observed.resources.values() if r.kind == "link"}
        assert set(links) == {"1130001001", "1130001002"}  # not the one in the removal queue
        assert links["1130001001"].attrs == LINK
        assert links["1130001002"].attrs == {**LINK, "service": 7002, "plan": "STFC Básico 100",
                                             "blocked": True, "params": {}}
        assert links["1130001001"].remote_id == ids["1130001001"]
        plans = observed.catalogs["plans"]
        assert "STFC Ilimitado" in {p["nome"] for p in plans}
        assert set(plans[0]) == {"id", "nome", "tipo", "valor", "franquia_minutos"}
        assert h.requests()["GET /api/numeros"] == 4

    run(scenario, options={"page_size": 3})


def test_observe_names_a_plan_missing_from_the_catalog_by_id() -> None:
    async def scenario(h: Harness) -> None:
        await create(h, ["1130001000"])
        await link(h, "1130001000", plan="STFC Empresarial")
        await h.admin("POST", "/_sim/config", json={"plans": [
            {"id": 1, "nome": "Outro", "tipo": "pre", "valor": "1.00", "franquia_minutos": 0}]})
        observed = await h.provider.observe()
        assert observed.resources['stfc-sp.link["1130001000"]'].attrs["plan"] == "#104"

    run(scenario)


# -- numbers -----------------------------------------------------------------------------------


def test_register_a_block_in_one_call_and_again_as_duplicates() -> None:
    async def scenario(h: Harness) -> None:
        keys = block(1130001000, 20)
        first = await create(h, keys)
        assert set(first.remote_ids) == set(keys) and not first.failed
        assert h.requests() == {"POST /api/numeros": 1}
        again = await create(h, keys)
        assert again.remote_ids == first.remote_ids
        assert len(h.numbers()) == 20
        single = await create(h, ["1140045000"])
        assert list(single.remote_ids) == ["1140045000"]
        writes = h.app.state.store.writes
        assert all(ops == {"cadastrar": 1} for ops in writes.values())

    run(scenario)


def test_register_splits_keys_that_are_not_one_run() -> None:
    assert consecutive_runs(["1130001003", "1130001001", "1130001002", "1140000000"]) == [
        ("1130001001", "1130001003"), ("1140000000", "1140000000")]
    assert consecutive_runs(block(1130000000, 10_001)) == [
        ("1130000000", "1130009999"), ("1130010000", "1130010000")]

    async def scenario(h: Harness) -> None:
        applied = await create(h, ["1130001000", "1130001001", "1130001005"])
        assert set(applied.remote_ids) == {"1130001000", "1130001001", "1130001005"}
        assert h.requests() == {"POST /api/numeros": 2}

    run(scenario)


def test_delete_one_number_and_one_already_gone() -> None:
    async def scenario(h: Harness) -> None:
        await create(h, ["1130001000"])
        delete = change("number", Action.DELETE, ["1130001000"], before={})
        assert await h.provider.execute(delete) == Applied()
        assert await h.provider.execute(delete) == Applied()  # 404 counts as done
        assert h.numbers() == {}

    run(scenario)


def test_delete_a_linked_number_is_a_conflict() -> None:
    async def scenario(h: Harness) -> None:
        await create(h, ["1130001000"])
        await link(h, "1130001000")
        with pytest.raises(errors.ConflictError, match="unlink it") as caught:
            await h.provider.execute(change("number", Action.DELETE, ["1130001000"]))
        assert caught.value.status == 409 and "numero_vinculado" in caught.value.detail

    run(scenario)


def test_delete_a_block_reports_refused_numbers_and_lands_the_rest() -> None:
    async def scenario(h: Harness) -> None:
        await create(h, block(1130001000, 5))
        await link(h, "1130001002")
        applied = await h.provider.execute(
            change("number", Action.DELETE, block(1130001000, 5) + ["1130009999"]))
        assert list(applied.failed) == ["1130001002"]
        assert applied.failed["1130001002"].startswith("numero_vinculado: number 1130001002 is")
        assert list(h.numbers()) == ["1130001002"]
        assert h.requests()["POST /api/numeros/remover"] == 2

    run(scenario)


def test_update_of_a_number_retransmits_it() -> None:
    async def scenario(h: Harness) -> None:
        await create(h, ["1130001005"])
        await h.admin("POST", "/_sim/numbers/1130001005/transmission", json={"transmissao": "erro"})
        observed = await h.provider.observe()
        assert observed.resources['stfc-sp.number["1130001005"]'].attrs["transmission"] == "error"
        retransmit = change("number", Action.UPDATE, ["1130001005"], {"transmission": "sent"},
                            {"transmission": "error"})
        assert await h.provider.execute(retransmit) == Applied()
        observed = await h.provider.observe()
        assert observed.resources['stfc-sp.number["1130001005"]'].attrs["transmission"] == "sent"

    run(scenario)


# -- links -------------------------------------------------------------------------------------


def test_link_twice_counts_as_done() -> None:
    async def scenario(h: Harness) -> None:
        await create(h, ["1130001001"])
        applied = await link(h, "1130001001", blocked=True)
        number = h.numbers()["1130001001"]
        assert applied.remote_ids == {"1130001001": str(number["id"])}
        assert number["vinculo"] == {"id_externo": 7001, "id_plano": 103,
                                     "documento": "52998224725", "nome": "Maria Silva",
                                     "parametros": {"numero_telefone_nf": "1130001001"}}
        assert number["bloqueado"] is True
        assert await link(h, "1130001001", blocked=True) == Applied()  # ja_vinculado
        assert h.app.state.store.writes["1130001001"]["vincular"] == 1

    run(scenario)


def test_link_to_a_number_held_by_another_service_is_a_conflict() -> None:
    async def scenario(h: Harness) -> None:
        await create(h, ["1130001001"])
        await link(h, "1130001001", service=1)
        with pytest.raises(errors.ConflictError, match="linked to another client service"):
            await link(h, "1130001001")
        with pytest.raises(errors.NotFoundError, match="register it first"):
            await link(h, "1130009999")

    run(scenario)


def test_unknown_plan_is_rejected_naming_the_valid_ones() -> None:
    async def scenario(h: Harness) -> None:
        await create(h, ["1130001001"])
        with pytest.raises(errors.RejectedError) as caught:
            await link(h, "1130001001", plan="STFC Galáctico")
        message = str(caught.value)
        assert "'STFC Galáctico' does not exist" in message and "'STFC Ilimitado'" in message
        assert h.numbers()["1130001001"]["status"] == "livre"
        new_plan = {"id": 200, "nome": "STFC Galáctico", "tipo": "pos", "valor": "1.00",
                    "franquia_minutos": 1}
        await h.admin("POST", "/_sim/config", json={"plans": [new_plan]})
        await link(h, "1130001001", plan="STFC Galáctico")  # the catalog is fetched again
        assert h.numbers()["1130001001"]["vinculo"]["id_plano"] == 200

    run(scenario)


def test_update_changes_plan_params_and_block() -> None:
    async def scenario(h: Harness) -> None:
        await create(h, ["1130001001", "1130001002"])
        await link(h, "1130001001")
        after = {**LINK, "plan": "STFC Controle 300", "params": {}, "name": "Maria S.",
                 "blocked": True}
        await h.provider.execute(change("link", Action.UPDATE, ["1130001001"], after, LINK))
        observed = await h.provider.observe()
        assert observed.resources['stfc-sp.link["1130001001"]'].attrs == after
        with pytest.raises(errors.ConflictError, match="not linked"):
            await h.provider.execute(change("link", Action.UPDATE, ["1130001002"], LINK, LINK))
        with pytest.raises(errors.PlanError, match="unlink it and link it again"):
            moved = {**LINK, "service": 1}
            await h.provider.execute(change("link", Action.UPDATE, ["1130001001"], moved, LINK))

    run(scenario)


def test_suspend_and_resume_are_idempotent() -> None:
    async def scenario(h: Harness) -> None:
        await create(h, ["1130001001"])
        await link(h, "1130001001")
        for _ in range(2):
            await h.provider.execute(change("link", Action.SUSPEND, ["1130001001"], LINK))
            assert h.numbers()["1130001001"]["bloqueado"] is True
        for _ in range(2):
            await h.provider.execute(change("link", Action.RESUME, ["1130001001"], LINK))
            assert h.numbers()["1130001001"]["bloqueado"] is False
        assert h.app.state.store.writes["1130001001"] == {"cadastrar": 1, "vincular": 1,
                                                          "bloquear": 1, "desbloquear": 1}

    run(scenario)


def test_unlink_twice_and_after_the_queue_drained_counts_as_done() -> None:
    async def scenario(h: Harness) -> None:
        await create(h, ["1130001001"])
        await link(h, "1130001001")
        unlink = change("link", Action.UNLINK, ["1130001001"], before=LINK)
        assert await h.provider.execute(unlink) == Applied()
        assert h.numbers()["1130001001"]["status"] == "em_remocao"
        assert await h.provider.execute(unlink) == Applied()
        h.clock.advance(5)
        assert await h.provider.execute(unlink) == Applied()  # numero_livre
        assert h.numbers()["1130001001"]["status"] == "livre"
        gone = change("link", Action.UNLINK, ["1130009999"], before=LINK)
        assert await h.provider.execute(gone) == Applied()

    run(scenario)


def test_unsupported_changes_are_refused() -> None:
    async def scenario(h: Harness) -> None:
        with pytest.raises(errors.ReconcilerError, match="saperx-stfc cannot update a number"):
            await h.provider.execute(change("number", Action.UPDATE, ["1130001001"], {}))
        with pytest.raises(errors.ReconcilerError, match="saperx-stfc cannot create a link"):
            await h.provider.execute(change("link", Action.CREATE, ["1130001001"], LINK))

    run(scenario)


# -- credentials and health --------------------------------------------------------------------


def test_check_reports_plan_count() -> None:
    async def scenario(h: Harness) -> None:
        health = await h.provider.check()
        assert health.ok and health.details == {"plans": 4} and "4 plans" in health.message

    run(scenario)


def test_wrong_token_is_an_auth_error_and_a_failed_check() -> None:
    async def scenario(h: Harness) -> None:
        with pytest.raises(errors.AuthError) as caught:
            await h.provider.observe()
        assert caught.value.status == 401
        health = await h.provider.check()
        assert not health.ok and "refused the credentials" in health.message
        assert h.slept == []  # never retried

    run(scenario, token="wrong-token-value")
