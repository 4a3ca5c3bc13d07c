"""The STFC simulator's monthly charges: only numbers linked in the month, the same charges for
the same seed, the plan's fee plus the calls beyond its minutes, an unlink that ends the
billing, a corrected charge, call detail on request, and all of it surviving a save."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx

from reconciler.platforms.saperx_stfc.sim import create_app
from reconciler.platforms.saperx_stfc.sim_store import Link, Store
from reconciler.sim.clock import FakeClock
from tests.unit.sim_helpers import ok

DEC_10 = datetime(2026, 12, 10, tzinfo=UTC).timestamp()
NUMBERS = ["1130001000", "1130001001", "1130001002"]


def estate(seed: int = 5) -> tuple[Store, FakeClock]:
    clock = FakeClock(datetime(2026, 10, 20, tzinfo=UTC).timestamp())
    store = Store(clock=clock, seed=seed)
    store.register(NUMBERS, 55)
    store.link(NUMBERS[0], Link(1001, 101, "1", "A"), False)  # Básico: 100 minutes
    store.link(NUMBERS[1], Link(1002, 103, "2", "B"), False)  # Ilimitado
    clock.advance(DEC_10 - clock.now())
    return store, clock


def run(store: Store, scenario: Callable[[httpx.AsyncClient], Awaitable[None]]) -> None:
    app = create_app("T", store=store, clock=store.clock)

    async def main() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim",
                                     headers={"Authorization": "Bearer T"}) as api:
            await scenario(api)

    asyncio.run(main())


def month(store: Store, text: str, detailed: bool = False) -> list[dict[str, Any]]:
    return store.charges(text, 0, 100, detailed)[0]


def test_only_numbers_linked_in_the_month_are_charged_and_the_seed_decides() -> None:
    store, _ = estate()
    assert month(store, "2026-09") == []  # before any link
    november = month(store, "2026-11")
    assert [c["numero"] for c in november] == NUMBERS[:2]  # 1130001002 was never linked
    basic, unlimited = november
    assert (basic["franquia"], basic["id_externo"], basic["franquia_minutos"]) == ("29.90", 1001, 100)
    assert Decimal(basic["valor_total"]) == Decimal(basic["franquia"]) + Decimal(basic["excedente"])
    assert basic["minutos"] > 100 and Decimal(basic["excedente"]) > 0  # seed 5: beyond the plan
    assert (unlimited["valor_total"], unlimited["excedente"]) == ("79.90", "0.00")
    assert month(estate()[0], "2026-11") == november  # same seed, same charges
    assert month(estate(seed=6)[0], "2026-11") != november
    october = month(store, "2026-10")  # linked on the 20th: only calls from then on
    detail = month(store, "2026-10", detailed=True)[0]["chamadas"]
    assert detail and all(c["data"] >= "2026-10-20" for c in detail)
    assert october[0]["quantidade_chamadas"] == len(detail)


def test_call_detail_adds_up_to_the_excedente_within_the_plans_minutes() -> None:
    store, _ = estate()
    basic = month(store, "2026-11", detailed=True)[0]
    calls = basic["chamadas"]
    assert len(calls) == basic["quantidade_chamadas"] and calls == sorted(calls, key=lambda c: c["data"])
    assert sum(Decimal(c["valor"]) for c in calls) == Decimal(basic["excedente"])
    assert {c["tipo"] for c in calls} <= {"LC", "LDN", "LDI", "VC1", "VC2", "VC3"}
    assert calls[0]["valor"] == "0.00"  # the first calls are within the 100 minutes
    assert all(c["origem"] == "1130001000" for c in calls)
    assert "chamadas" not in month(store, "2026-11")[0]


def test_an_unlink_ends_the_billing_and_a_correction_changes_one_charge() -> None:
    store, clock = estate()
    store.unlink(NUMBERS[0])
    clock.advance(40 * 86400)  # into January
    assert [c["numero"] for c in month(store, "2027-01")] == [NUMBERS[1]]
    assert [c["numero"] for c in month(store, "2026-12")] == NUMBERS[:2]  # linked until the 10th
    before = month(store, "2026-11")[0]
    after = store.correct(NUMBERS[0], "2026-11", "1.00")
    assert (after["excedente"], after["valor_total"]) == ("1.00", "30.90")
    assert month(store, "2026-11")[0] == after and after["minutos"] == before["minutos"]
    again = Store.from_json(store.to_json(), clock=clock)  # tenures and corrections are kept
    assert month(again, "2026-11") == month(store, "2026-11")
    assert month(again, "2027-01") == month(store, "2027-01")


def test_the_route_pages_charges_and_says_whether_the_month_is_over() -> None:
    store, _ = estate()

    async def scenario(api: httpx.AsyncClient) -> None:
        first = await ok(api.get("/api/faturamento", params={"mes": 11, "ano": 2026,
                                                             "itens_por_pagina": 1}))
        assert first["fechado"] is True and len(first["cobrancas"]) == 1
        assert first["paginacao"] == {"pagina_atual": 0, "itens_por_pagina": 1,
                                      "total_registros": 2, "ultima_pagina": 1}
        second = await ok(api.get("/api/faturamento", params={
            "mes": 11, "ano": 2026, "itens_por_pagina": 1, "pagina": 1, "detalhado": "true"}))
        assert second["cobrancas"][0]["numero"] == NUMBERS[1] and "chamadas" in second["cobrancas"][0]
        current = await ok(api.get("/api/faturamento", params={"mes": 12, "ano": 2026}))
        assert current["fechado"] is False
        bad = await api.get("/api/faturamento", params={"mes": 13, "ano": 2026})
        assert bad.status_code == 422 and bad.json()["erro"] == "parametro_invalido"
        unauthorized = await api.get("/api/faturamento", params={"mes": 11, "ano": 2026},
                                     headers={"Authorization": "Bearer nope"})
        assert unauthorized.status_code == 401
        fixed = await ok(api.post("/_sim/charges", json={"numero": NUMBERS[0], "mes": "2026-11",
                                                         "excedente": "2.50"}))
        assert fixed["valor_total"] == "32.40"
        missing = await api.post("/_sim/charges", json={"numero": NUMBERS[2], "mes": "2026-11",
                                                        "excedente": "2.50"})
        assert missing.status_code == 404
        moved = await ok(api.post("/_sim/links/backdate", json={"desde": "2026-09-01"}))
        assert moved == {"movidos": NUMBERS[:2]}
        september = await ok(api.get("/api/faturamento", params={"mes": 9, "ano": 2026}))
        assert september["paginacao"]["total_registros"] == 2
        await ok(api.post("/_sim/config", json={"calls_max_per_day": 0}))
        quiet = await ok(api.get("/api/faturamento", params={"mes": 10, "ano": 2026}))
        assert {c["quantidade_chamadas"] for c in quiet["cobrancas"]} == {0}
        assert store.requests["GET /api/faturamento"] == 7  # admin calls are never counted

    run(store, scenario)
