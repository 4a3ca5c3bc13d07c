"""The SaperX STFC simulator through its wire API, in process (httpx over ASGI)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from reconciler.errors import ReconcilerError, SecretError, StateError
from reconciler.platforms.saperx_stfc import sim as saperx_stfc
from reconciler.platforms.saperx_stfc.sim import create_app
from reconciler.platforms.saperx_stfc.sim_store import Store
from reconciler.sim.clock import FakeClock
from reconciler.sim.embedded import embedded_path, open_embedded
from reconciler.sim.serve import check_host

TOKEN = "unit-sim-token"
LINK = {"id_plano": 101, "documento": "52998224725", "nome": "Maria Silva", "id_externo": 7001}
Scenario = Callable[[httpx.AsyncClient], Awaitable[None]]


def client(app: Starlette, token: str | None = TOKEN) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://sim", headers=headers)


def run(app: Starlette, scenario: Scenario) -> None:
    async def main() -> None:
        async with client(app) as api:
            await scenario(api)

    asyncio.run(main())


def make(**kwargs: Any) -> tuple[Starlette, FakeClock]:
    clock = FakeClock()
    return create_app(TOKEN, clock=clock, **kwargs), clock


async def register(api: httpx.AsyncClient, first: str, last: str | None = None) -> dict[str, Any]:
    body = {"numero_inicial": first, **({"numero_final": last} if last else {})}
    response = await api.post("/api/numeros", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def number(api: httpx.AsyncClient, numero: str) -> dict[str, Any]:
    found = (await api.get("/api/numeros", params={"numero": numero})).json()["numeros"]
    return next(n for n in found if n["numero"] == numero)


async def link(api: httpx.AsyncClient, numero: str, **overrides: Any) -> httpx.Response:
    return await api.post(f"/api/numeros/{numero}/vincular", json={**LINK, **overrides})


# -- auth and catalog --------------------------------------------------------------------------


def test_plans_catalog_has_defaults_and_is_configurable() -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        plans = (await api.get("/api/planos")).json()["planos"]
        assert "STFC Ilimitado" in {p["nome"] for p in plans}
        assert all(set(p) == {"id", "nome", "tipo", "valor", "franquia_minutos"} for p in plans)
        new = [{"id": 9, "nome": "STFC Pré 50", "tipo": "pre", "valor": "9.90",
                "franquia_minutos": 50}]
        assert (await api.post("/_sim/config", json={"plans": new})).status_code == 200
        assert (await api.get("/api/planos")).json()["planos"] == new
        bad = await api.post("/_sim/config", json={"plans": [{"id": 1, "nome": "x", "tipo": "?"}]})
        assert bad.status_code == 422

    run(make()[0], scenario)


# -- registration ------------------------------------------------------------------------------


def test_register_one_number_a_range_and_duplicates() -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        one = await register(api, "1130001000")
        assert [c["numero"] for c in one["criados"]] == ["1130001000"] and one["duplicados"] == []
        some = await register(api, "1130001000", "1130001004")
        assert [c["numero"] for c in some["criados"]] == [f"113000100{i}" for i in range(1, 5)]
        assert some["duplicados"] == [{"numero": "1130001000", "id": one["criados"][0]["id"]}]
        item = await number(api, "1130001003")
        assert item == {
            "id": item["id"], "numero": "1130001003", "ddi": 55, "status": "livre",
            "transmissao": "transmitido", "bloqueado": False, "vinculo": None, "fila_remocao": None,
            "erro_transmissao": None,
        }

    run(make()[0], scenario)


@pytest.mark.parametrize(
    ("first", "last", "erro"),
    [
        ("1130001000", "1230001000", "faixa_invalida"),  # another DDD
        ("1130001005", "1130001000", "faixa_invalida"),  # backwards
        ("1130000000", "1130010000", "faixa_muito_grande"),  # 10,001 numbers
        ("113000100", None, "numero_invalido"),  # 9 digits
        ("0130001000", None, "numero_invalido"),  # no DDD starts with 0
        ("11300010a0", None, "numero_invalido"),
    ],
)
def test_register_refuses_bad_ranges(first: str, last: str | None, erro: str) -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        body = {"numero_inicial": first, "numero_final": last}
        response = await api.post("/api/numeros", json=body)
        assert (response.status_code, response.json()["erro"]) == (422, erro)

    run(make()[0], scenario)


def test_register_validates_the_body() -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        assert (await api.post("/api/numeros", content=b"{")).status_code == 400
        assert (await api.post("/api/numeros", json=[1])).status_code == 400
        response = await api.post("/api/numeros", json={"numero_inicial": 1130001000})
        assert response.json()["erro"] == "dados_invalidos"
        body = {"numero_inicial": "1130001000", "ddi": "55"}
        response = await api.post("/api/numeros", json=body)
        assert response.status_code == 422

    run(make()[0], scenario)


# -- listing -----------------------------------------------------------------------------------


def test_listing_is_sorted_and_paginated_from_page_zero() -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        await register(api, "1140045000", "1140045004")
        await register(api, "1130001000", "1130001006")  # lower numbers registered later
        seen = []
        for page in range(3):
            params = {"pagina": page, "itens_por_pagina": 5}
            body = (await api.get("/api/numeros", params=params)).json()
            assert body["paginacao"] == {"pagina_atual": page, "itens_por_pagina": 5,
                                         "total_registros": 12, "ultima_pagina": 2}
            seen += [n["numero"] for n in body["numeros"]]
        assert seen == sorted(seen) and len(seen) == 12
        past = (await api.get("/api/numeros", params={"pagina": 9, "itens_por_pagina": 5})).json()
        assert past["numeros"] == []
        default = (await api.get("/api/numeros")).json()["paginacao"]
        assert default["itens_por_pagina"] == 100

    run(make()[0], scenario)


def test_listing_filters_by_number_client_and_statuses() -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        await register(api, "1130001000", "1130001009")
        assert (await link(api, "1130001001")).status_code == 200
        assert (await link(api, "1130001002", id_externo=8002, nome="João Souza",
                           documento="11222333000181")).status_code == 200
        await api.post("/_sim/numbers/1130001005/transmission", json={"transmissao": "erro"})

        async def numbers(**params: Any) -> list[str]:
            body = (await api.get("/api/numeros", params=params)).json()
            assert body["paginacao"]["total_registros"] == len(body["numeros"])
            return [n["numero"] for n in body["numeros"]]

        assert await numbers(status="vinculado") == ["1130001001", "1130001002"]
        assert len(await numbers(status="livre")) == 8
        assert await numbers(transmissao="erro") == ["1130001005"]
        assert await numbers(numero="01005") == ["1130001005"]
        assert await numbers(cliente="JOÃO") == ["1130001002"]
        assert await numbers(cliente="7001") == ["1130001001"]
        assert await numbers(cliente="11222333") == ["1130001002"]
        assert await numbers(cliente="nobody") == []
        assert await numbers(status="vinculado", cliente="maria") == ["1130001001"]

    run(make()[0], scenario)


# -- delete ------------------------------------------------------------------------------------


def test_delete_only_free_numbers() -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        await register(api, "1130001000", "1130001002")
        await link(api, "1130001001")
        assert (await api.delete("/api/numeros/1130001000")).status_code == 204
        assert (await api.delete("/api/numeros/1130001000")).status_code == 404
        refused = await api.delete("/api/numeros/1130001001")
        assert (refused.status_code, refused.json()["erro"]) == (409, "numero_vinculado")
        await api.post("/api/numeros/1130001001/desvincular")
        queued = await api.delete("/api/numeros/1130001001")
        assert (queued.status_code, queued.json()["erro"]) == (409, "numero_vinculado")
        listed = (await api.get("/api/numeros")).json()["numeros"]
        assert [n["numero"] for n in listed] == ["1130001001", "1130001002"]

    run(make()[0], scenario)


def test_bulk_removal_deletes_free_numbers_and_lists_refusals() -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        await register(api, "1130001000", "1130001005")
        await link(api, "1130001002")
        await link(api, "1130001003", id_externo=2)
        await api.post("/api/numeros/1130001003/desvincular")
        body = {"numero_inicial": "1130000990", "numero_final": "1130001004"}
        response = await api.post("/api/numeros/remover", json=body)
        assert response.status_code == 200
        assert response.json() == {
            "removidos": ["1130001000", "1130001001", "1130001004"],
            "recusados": [{"numero": "1130001002", "motivo": "numero_vinculado"},
                          {"numero": "1130001003", "motivo": "numero_em_remocao"}],
        }
        listed = (await api.get("/api/numeros")).json()["numeros"]
        assert [n["numero"] for n in listed] == ["1130001002", "1130001003", "1130001005"]
        bad = await api.post("/api/numeros/remover", json={"numero_inicial": "1130001004",
                                                           "numero_final": "1130001000"})
        assert bad.status_code == 422

    run(make()[0], scenario)


# -- links -------------------------------------------------------------------------------------


def test_link_conflicts_and_validation() -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        await register(api, "1130001000")
        assert (await link(api, "1130009999")).status_code == 404
        unknown = await link(api, "1130001000", id_plano=999)
        assert (unknown.status_code, unknown.json()["erro"]) == (422, "plano_inexistente")
        assert (await link(api, "1130001000", id_externo="7001")).status_code == 422
        assert (await link(api, "1130001000", parametros={"a": 1})).status_code == 422
        done = await link(api, "1130001000", parametros={"numero_telefone_nf": "1130001000"},
                          bloqueado=True)
        assert done.status_code == 200
        item = done.json()
        assert (item["status"], item["bloqueado"], item["transmissao"]) == ("vinculado", True,
                                                                            "transmitido")
        assert item["vinculo"] == {**LINK, "parametros": {"numero_telefone_nf": "1130001000"}}
        again = await link(api, "1130001000")
        assert (again.status_code, again.json()["erro"]) == (409, "ja_vinculado")
        other = await link(api, "1130001000", id_externo=9)
        assert (other.status_code, other.json()["erro"]) == (409, "numero_vinculado")

    run(make()[0], scenario)


def test_update_link_block_and_unblock() -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        await register(api, "1130001000", "1130001001")
        free = await api.put("/api/numeros/1130001001/vinculo", json={"id_plano": 102})
        assert (free.status_code, free.json()["erro"]) == (409, "numero_livre")
        assert (await api.post("/api/numeros/1130001001/bloquear")).status_code == 409
        await link(api, "1130001000")
        changes = {"id_plano": 103, "nome": "Maria S.", "parametros": {"x": "y"}}
        updated = (await api.put("/api/numeros/1130001000/vinculo", json=changes)).json()
        assert updated["vinculo"]["id_plano"] == 103 and updated["vinculo"]["nome"] == "Maria S."
        assert updated["vinculo"]["parametros"] == {"x": "y"}
        assert updated["vinculo"]["id_externo"] == LINK["id_externo"]
        bad = await api.put("/api/numeros/1130001000/vinculo", json={"id_plano": 999})
        assert bad.status_code == 422
        for _ in range(2):  # idempotent
            blocked = await api.post("/api/numeros/1130001000/bloquear")
            assert blocked.status_code == 200 and blocked.json()["bloqueado"] is True
        unblocked = await api.post("/api/numeros/1130001000/desbloquear")
        assert unblocked.json()["bloqueado"] is False

    run(make()[0], scenario)


def test_unlink_queues_the_number_until_the_delay_is_over() -> None:
    app, clock = make(removal_delay=30.0)

    async def scenario(api: httpx.AsyncClient) -> None:
        await register(api, "1130001000")
        free = await api.post("/api/numeros/1130001000/desvincular")
        assert (free.status_code, free.json()["erro"]) == (409, "numero_livre")
        await link(api, "1130001000", bloqueado=True)
        queued = await api.post("/api/numeros/1130001000/desvincular")
        assert queued.status_code == 202
        entry = queued.json()["fila_remocao"]
        assert entry == {"desde": "2023-11-14T22:13:20+00:00",
                         "previsao": "2023-11-14T22:13:50+00:00"}
        item = await number(api, "1130001000")
        assert (item["status"], item["bloqueado"]) == ("em_remocao", False)
        assert item["fila_remocao"] == entry
        assert item["vinculo"]["id_externo"] == LINK["id_externo"]  # kept visible until drained
        clock.advance(10)
        again = await api.post("/api/numeros/1130001000/desvincular")
        assert (again.status_code, again.json()["fila_remocao"]) == (202, entry)
        relink = await link(api, "1130001000")
        assert (relink.status_code, relink.json()["erro"]) == (409, "numero_vinculado")
        blocked = await api.post("/api/numeros/1130001000/bloquear")
        assert (blocked.status_code, blocked.json()["erro"]) == (409, "numero_em_remocao")
        clock.advance(19)
        assert (await number(api, "1130001000"))["status"] == "em_remocao"
        clock.advance(1)
        item = await number(api, "1130001000")
        assert (item["status"], item["vinculo"], item["fila_remocao"]) == ("livre", None, None)
        assert (await link(api, "1130001000", id_externo=1)).status_code == 200

    run(app, scenario)


def test_admin_drain_frees_the_queue_at_once() -> None:
    app, _ = make(removal_delay=3600.0)

    async def scenario(api: httpx.AsyncClient) -> None:
        await register(api, "1130001000", "1130001001")
        for numero in ("1130001000", "1130001001"):
            await link(api, numero)
            await api.post(f"/api/numeros/{numero}/desvincular")
        drained = await api.post("/_sim/drain")
        assert drained.json() == {"liberados": ["1130001000", "1130001001"]}
        assert (await api.get("/api/numeros", params={"status": "livre"})).json()[
            "paginacao"]["total_registros"] == 2

    run(app, scenario)


def test_served_app_drains_the_queue_in_the_background(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(saperx_stfc, "TICK_INTERVAL", 0.01)
    app, clock = make(removal_delay=5.0)
    store: Store = app.state.store

    async def scenario(api: httpx.AsyncClient) -> None:
        await register(api, "1130001000")
        await link(api, "1130001000")
        await api.post("/api/numeros/1130001000/desvincular")
        async with app.router.lifespan_context(app):  # what uvicorn runs when serving
            clock.advance(5)
            for _ in range(500):  # no request is made meanwhile
                if store.numbers["1130001000"].status == "livre":
                    return
                await asyncio.sleep(0.01)
        raise AssertionError("the background routine never drained the queue")

    run(app, scenario)


# -- transmission ------------------------------------------------------------------------------


def test_retransmit_goes_pending_then_transmitted() -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        await register(api, "1130001000")
        path = "/_sim/numbers/1130001000/transmission"
        forced = await api.post(path, json={"transmissao": "erro"})
        assert forced.json()["transmissao"] == "erro"
        assert (await api.get("/api/numeros", params={"transmissao": "erro"})).json()[
            "paginacao"]["total_registros"] == 1
        again = await api.post("/api/numeros/1130001000/retransmitir")
        assert (again.status_code, again.json()["transmissao"]) == (202, "pendente")
        assert (await number(api, "1130001000"))["transmissao"] == "transmitido"
        bad = await api.post("/_sim/numbers/1130001000/transmission", json={"transmissao": "x"})
        assert bad.status_code == 422

    run(make()[0], scenario)


def test_transmission_errors_are_seeded() -> None:
    def errors(seed: int) -> list[str]:
        app = create_app(TOKEN, clock=FakeClock(), seed=seed, transmission_error_rate=0.5)
        out: list[str] = []

        async def scenario(api: httpx.AsyncClient) -> None:
            await register(api, "1130001000", "1130001039")
            body = (await api.get("/api/numeros", params={"transmissao": "erro"})).json()
            out.extend(n["numero"] for n in body["numeros"])

        run(app, scenario)
        return out

    first = errors(7)
    assert 5 < len(first) < 35
    assert errors(7) == first and errors(8) != first


# -- counters, reset, config -------------------------------------------------------------------


def test_counters_count_requests_per_route_and_effective_writes_per_number() -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        await register(api, "1130001000", "1130001001")
        await register(api, "1130001001")  # duplicate: not a write
        await link(api, "1130001001")
        await link(api, "1130001001")  # ja_vinculado: not a write
        await api.post("/api/numeros/1130001001/bloquear")
        await api.post("/api/numeros/1130001001/bloquear")  # already blocked: not a write
        await api.get("/api/planos")
        counters = (await api.get("/_sim/counters")).json()
        assert counters["requests"] == {
            "POST /api/numeros": 2,
            "POST /api/numeros/{numero}/vincular": 2,
            "POST /api/numeros/{numero}/bloquear": 2,
            "GET /api/planos": 1,
        }
        assert counters["writes"] == {
            "1130001000": {"cadastrar": 1},
            "1130001001": {"cadastrar": 1, "vincular": 1, "bloquear": 1},
        }

    run(make()[0], scenario)


def test_reset_empties_the_platform_and_keeps_settings() -> None:
    app, _ = make(removal_delay=1.5)

    async def scenario(api: httpx.AsyncClient) -> None:
        await register(api, "1130001000")
        await api.post("/_sim/config", json={"plans": [dict(LINK_PLAN)]})
        assert (await api.post("/_sim/reset")).status_code == 200
        assert (await api.get("/api/numeros")).json()["numeros"] == []
        assert (await api.get("/_sim/counters")).json() == {"requests": {"GET /api/numeros": 1},
                                                             "writes": {}}
        config = (await api.get("/_sim/config")).json()
        assert config["removal_delay"] == 1.5
        assert {p["nome"] for p in config["plans"]} >= {"STFC Ilimitado"}

    run(app, scenario)


LINK_PLAN = {"id": 1, "nome": "Only", "tipo": "pos", "valor": "1.00", "franquia_minutos": 1}


# -- faults ------------------------------------------------------------------------------------


# -- persistence -------------------------------------------------------------------------------


def test_store_round_trips_through_json_with_its_queue() -> None:
    clock = FakeClock()
    app = create_app(TOKEN, clock=clock, removal_delay=10.0)

    async def scenario(api: httpx.AsyncClient) -> None:
        await register(api, "1140045000", "1140045001")
        await register(api, "1130001000", "1130001002")
        await link(api, "1130001001", parametros={"numero_telefone_nf": "1130001001"})
        await link(api, "1130001002")
        await api.post("/api/numeros/1130001002/desvincular")
        await api.post("/api/numeros/1140045000/retransmitir")

    run(app, scenario)
    data = json.loads(json.dumps(app.state.store.to_json()))
    copy = Store.from_json(data, clock=clock)
    assert copy.to_json() == data
    assert copy.keys == sorted(copy.numbers)
    clock.advance(10)
    copy.tick()
    assert copy.numbers["1130001002"].status == "livre"
    assert copy.numbers["1140045000"].transmissao == "transmitido"
    assert copy._new("1150000000", 55).id == app.state.store.next_id


def test_embedded_platform_persists_between_opens(tmp_path: Path) -> None:
    credentials = {"token": TOKEN}

    async def first() -> None:
        platform = open_embedded("saperx-stfc", "stfc-sp", tmp_path, credentials)
        async with httpx.AsyncClient(transport=platform.transport, base_url="http://e",
                                     headers={"Authorization": f"Bearer {TOKEN}"}) as api:
            await register(api, "1130001000", "1130001001")
            await link(api, "1130001000")
            await link(api, "1130001001")
            await api.post("/api/numeros/1130001001/desvincular")
        await platform.close()

    async def second() -> None:
        async with open_embedded("saperx-stfc", "stfc-sp", tmp_path, credentials) as platform:
            store: Store = platform.app.state.store
            store.clock = FakeClock(time.time() + saperx_stfc.EMBEDDED_REMOVAL_DELAY + 1)
            async with client(platform.app) as api:
                items = (await api.get("/api/numeros")).json()["numeros"]
                assert [(n["numero"], n["status"]) for n in items] == [
                    ("1130001000", "vinculado"), ("1130001001", "livre")]
            async with client(platform.app, "someone-else") as api:
                assert (await api.get("/api/planos")).status_code == 401

    asyncio.run(first())
    path = embedded_path("saperx-stfc", "stfc-sp", tmp_path)
    assert path == tmp_path / "embedded" / "saperx-stfc" / "stfc-sp.json"
    assert TOKEN not in path.read_text()
    asyncio.run(second())
    assert list(path.parent.iterdir()) == [path]  # no temp file left behind


def test_embedded_refuses_unknown_platforms_and_corrupt_files(tmp_path: Path) -> None:
    with pytest.raises(ReconcilerError, match="no simulator for platform 'nope'"):
        open_embedded("nope", "x", tmp_path, {"token": TOKEN})
    path = embedded_path("saperx-stfc", "x", tmp_path)
    path.parent.mkdir(parents=True)
    for content in ("{not json", "[]", '{"version": 99}', '{"version": 1}'):
        path.write_text(content)
        with pytest.raises(StateError, match="delete the file"):
            open_embedded("saperx-stfc", "x", tmp_path, {"token": TOKEN})
    with pytest.raises(SecretError, match=r"credentials\.token"):
        open_embedded("saperx-stfc", "y", tmp_path, {})


def test_large_platform_keeps_numbers_sorted() -> None:
    store = Store(clock=FakeClock())
    for first in (1140000000, 1130000000, 1135000000):
        store.register([str(n) for n in range(first, first + 10_000)], 55)
    assert len(store.keys) == 30_000 and store.keys == sorted(store.keys)
    page, total = store.listing(None, 29_990, 100)
    assert total == 30_000 and page[-1].numero == "1140009999"


# -- serving -----------------------------------------------------------------------------------


def test_serve_refuses_remote_hosts_unless_allowed() -> None:
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        check_host(host)
    for host in ("0.0.0.0", "10.0.0.5", "example.com"):
        with pytest.raises(ReconcilerError, match="allow_remote"):
            check_host(host)
    check_host("0.0.0.0", allow_remote=True)
