"""The IXC Soft reader against its simulator, in process: what a real ERP would see."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from reconciler import errors
from reconciler.sim import erp_data
from reconciler.sim.faults import Faults, SimTransport
from reconciler.sources import registry
from reconciler.sources.erp import ErpClient, ErpService
from reconciler.sources.ixc import SOURCE, STATUSES
from reconciler.sources.ixc.reader import IxcReader
from reconciler.sources.ixc.sim import create_app
from reconciler.sources.ixc.sim_store import Store

TOKEN = "7:contract-ixc-token-abcdef123456"
SECRET_PART = TOKEN.partition(":")[2]
ENCODED = base64.b64encode(TOKEN.encode()).decode()
URL = "http://ixc.test"
COUNT, SEED = 120, 11
Rewrite = Callable[[httpx.Request, int], Awaitable[httpx.Response | None]]


class Spy(httpx.AsyncBaseTransport):
    """Passes requests to the simulator, remembers their bodies, and lets a test answer a
    request itself (``rewrite`` returns a response) or act before it is served."""

    def __init__(self, app: Starlette, rewrite: Rewrite | None = None) -> None:
        self.inner = SimTransport(app=app)
        self.rewrite = rewrite
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[httpx.Headers] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(json.loads(request.content or b"null"))
        self.headers.append(request.headers)
        if self.rewrite is not None:
            answer = await self.rewrite(request, len(self.bodies))
            if answer is not None:
                return answer
        return await self.inner.handle_async_request(request)


def estate_app(**kwargs: Any) -> Starlette:
    kwargs.setdefault("clients", COUNT)
    return create_app(TOKEN, seed=SEED, **kwargs)


def read(transport: httpx.AsyncBaseTransport, *, token: str = TOKEN, url: str = URL,
         **options: Any) -> list[ErpClient]:
    async def main() -> list[ErpClient]:
        reader = IxcReader(url, {"token": token}, transport=transport, sleep=_no_sleep, **options)
        try:
            return await reader.clients()
        finally:
            await reader.aclose()

    return asyncio.run(main())


async def _no_sleep(_seconds: float) -> None:
    return None


def expected(store: Store) -> list[ErpClient]:
    """What the reader must return, built straight from the simulator's records."""
    out = []
    for cliente in store.clientes.values():
        services = tuple(
            ErpService(str(c.id), f"A/{c.status_internet}" if c.status == "A" else c.status,
                       c.login or None, c.contrato)
            for c in store.contratos.values() if c.id_cliente == cliente.id)
        out.append(ErpClient(str(cliente.id), re.sub(r"\D", "", cliente.cnpj_cpf), cliente.razao,
                             cliente.email or None, cliente.telefone_celular or cliente.fone or None,
                             services))
    return out


def json_response(body: Any, status: int = 200, content_type: str = "application/json"
                  ) -> httpx.Response:
    text = body if isinstance(body, str) else json.dumps(body)
    return httpx.Response(status, text=text, headers={"content-type": content_type})


# -- reading -----------------------------------------------------------------------------------


@pytest.mark.parametrize("page_size", [1000, 120, 17, 1])
def test_reads_every_page_of_both_tables_and_joins_them(page_size: int) -> None:
    app = estate_app()
    spy = Spy(app)
    clients = read(spy, page_size=page_size)
    store: Store = app.state.store
    assert clients == expected(store)
    contracts = len(store.contratos)
    pages = -(-COUNT // page_size) + -(-contracts // page_size)
    # a last full page ends the read: no empty page past it is asked for (120 / 120, 120 / 1)
    assert app.state.store.requests == {
        "POST /webservice/v1/cliente": -(-COUNT // page_size),
        "POST /webservice/v1/cliente_contrato": -(-contracts // page_size)}
    assert len(spy.bodies) == pages
    first = spy.bodies[0]
    assert first == {"qtype": "cliente.id", "query": "0", "oper": ">", "page": "1",
                     "rp": str(page_size), "sortname": "cliente.id", "sortorder": "asc"}
    assert [b["page"] for b in spy.bodies[: -(-COUNT // page_size)]] == [
        str(n) for n in range(1, -(-COUNT // page_size) + 1)]
    assert spy.headers[0]["ixcsoft"] == "listar"
    assert spy.headers[0]["authorization"] == f"Basic {ENCODED}"


def test_what_it_reads_is_the_generated_estate_in_ixc_terms() -> None:
    clients = read(Spy(estate_app()), page_size=50)
    people = list(erp_data.estate(COUNT, SEED))
    assert [c.erp_id for c in clients] == [str(p.number) for p in people]
    assert [c.document for c in clients] == [p.document for p in people]
    assert [c.name for c in clients] == [p.name for p in people]
    allowed = {"enabled": {"A/A"}, "suspended_debt": {"A/CA", "N"}, "suspended_partial": {"A/FA"},
               "suspended_request": {"A/CM"}, "cancelled": {"D", "I"}, "inactive": {"I"},
               "awaiting": {"P", "A/AA"}}
    for client, person in zip(clients, people, strict=True):
        assert [s.erp_id for s in client.services] == [str(s.number) for s in person.services]
        for service, source in zip(client.services, person.services, strict=True):
            assert service.status in STATUSES and service.status in allowed[source.state]
            assert (service.login, service.plan, service.packages) == (
                source.login, source.plan, ())
    assert sum(1 for c in clients if c.email is None) == 1  # client 42
    # 7, 57, 107 have no mobile; 7 and 107 a fixed line, 57 none
    assert [c.erp_id for c in clients if c.phone is None] == ["57"]
    assert next(c for c in clients if c.erp_id == "7").phone.startswith("(")  # type: ignore[union-attr]


def test_clients_without_contracts_have_no_services_and_ids_sort_as_numbers() -> None:
    rows = {"clientes": [{"id": "10", "razao": "B", "cnpj_cpf": "111.444.777-35"},
                         {"id": "9", "razao": "A", "cnpj_cpf": "11.222.333/0001-81",
                          "fone": "(11) 3000-1001"}],
            "contratos": [{"id": "30", "id_cliente": "9", "contrato": "FIBRA", "status": "A",
                           "status_internet": "FA"},
                          {"id": "4", "id_cliente": "9", "contrato": "RADIO", "status": "I",
                           "login": "a.radio"}]}
    clients = read(Spy(estate_app(clients=rows)), url=f"{URL}/webservice/v1/", page_size=1)
    assert clients == [
        ErpClient("9", "11222333000181", "A", None, "(11) 3000-1001",
                  (ErpService("4", "I", "a.radio", "RADIO"), ErpService("30", "A/FA", None, "FIBRA"))),
        ErpClient("10", "11144477735", "B", None, None, ()),
    ]


def test_an_empty_erp_reads_as_no_clients() -> None:
    app = estate_app()
    app.state.store.load([], [])
    assert read(Spy(app)) == []


def test_a_contract_changed_between_two_exports_reads_changed() -> None:
    app = estate_app(clients=5)
    before = read(Spy(app))
    contract = before[2].services[0].erp_id

    async def patch() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url=URL) as admin:
            response = await admin.patch(f"/_sim/contracts/{contract}",
                                         json={"status": "A", "status_internet": "CM"})
            assert response.status_code == 200

    asyncio.run(patch())
    after = read(Spy(app))
    assert after[2].services[0].status == "A/CM"
    assert before[2].services[0].status != "A/CM"
    assert after[:2] == before[:2] and after[3:] == before[3:]


# -- failures ----------------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["7:wrong-token-value", "someone:else"])
def test_a_bad_token_is_an_auth_error_that_shows_no_token(token: str) -> None:
    spy = Spy(estate_app())
    with pytest.raises(errors.AuthError) as caught:
        read(spy, token=token)
    text = str(caught.value)
    assert caught.value.status == 401
    encoded = base64.b64encode(token.encode()).decode()
    for secret in (token, encoded, TOKEN, ENCODED, SECRET_PART):
        assert secret not in text
    assert len(spy.bodies) == 1  # not retried


def test_an_error_body_with_http_200_is_a_provider_error_naming_the_message() -> None:
    async def rewrite(request: httpx.Request, number: int) -> httpx.Response | None:
        if number == 2:
            return json_response({"type": "error",
                                  "message": f"Ocorreu um erro ao processar. Token {TOKEN}"})
        return None

    with pytest.raises(errors.ProviderError) as caught:
        read(Spy(estate_app(), rewrite), page_size=50)
    text = str(caught.value)
    assert "Ocorreu um erro ao processar" in text and "page 2" in text
    assert TOKEN not in text and "********" in text


def test_an_html_page_is_a_provider_error_saying_the_erp_answered_html() -> None:
    async def rewrite(request: httpx.Request, number: int) -> httpx.Response | None:
        page = f"<html><body>erro {ENCODED}</body></html>"
        return json_response(page, content_type="text/html; charset=utf-8")

    with pytest.raises(errors.ProviderError, match="answered HTML") as caught:
        read(Spy(estate_app(), rewrite))
    assert ENCODED not in str(caught.value)


@pytest.mark.parametrize("change", ["insert", "delete"])
def test_a_total_that_changes_mid_read_is_an_error_never_a_torn_read(change: str) -> None:
    app = estate_app()

    async def rewrite(request: httpx.Request, number: int) -> httpx.Response | None:
        if number == 2:  # between pages 1 and 2 of cliente
            store: Store = app.state.store
            rows = store.to_json()
            if change == "insert":
                rows["clientes"].append({**rows["clientes"][0], "id": "100000"})
            else:
                gone = rows["clientes"].pop()["id"]
                rows["contratos"] = [c for c in rows["contratos"] if c["id_cliente"] != gone]
            store.load(rows["clientes"], rows["contratos"])
        return None

    with pytest.raises(errors.ReconcilerError, match="changed during the read") as caught:
        read(Spy(app, rewrite), page_size=50)
    assert not isinstance(caught.value, errors.ProviderError)
    assert "run the export again" in str(caught.value)


def test_a_contract_of_an_unknown_client_is_a_provider_error_naming_it() -> None:
    app = estate_app(clients=3)
    contract = next(iter(app.state.store.contratos.values()))
    contract.id_cliente = 9999
    with pytest.raises(errors.ProviderError, match=f"contract {contract.id} belongs to client "
                                                   f"9999"):
        read(Spy(app))


def test_a_status_ixc_does_not_define_is_a_provider_error_naming_it() -> None:
    app = estate_app(clients=3)
    contract = next(iter(app.state.store.contratos.values()))
    contract.status, contract.status_internet = "A", "ZZ"
    with pytest.raises(errors.ProviderError, match="'A/ZZ'"):
        read(Spy(app))


def test_transient_503s_are_retried_and_the_read_is_whole() -> None:
    app = estate_app(faults=Faults(error_rate=0.3, seed=4))
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async def main() -> list[ErpClient]:
        reader = IxcReader(URL, {"token": TOKEN}, transport=SimTransport(app=app), sleep=sleep,
                           page_size=20, max_attempts=10)
        try:
            return await reader.clients()
        finally:
            await reader.aclose()

    clients = asyncio.run(main())
    assert clients == expected(app.state.store)
    assert slept  # some requests failed and were retried


def test_a_platform_that_stays_down_is_a_temporary_error_after_the_attempts() -> None:
    spy = Spy(estate_app(faults=Faults(error_rate=1.0)))
    with pytest.raises(errors.TemporaryError, match="after 3 attempts"):
        read(spy, max_attempts=3)
    assert len(spy.bodies) == 3


@pytest.mark.parametrize("credentials", [{}, {"token": ""}])
def test_a_missing_token_is_a_secret_error(credentials: dict[str, str]) -> None:
    with pytest.raises(errors.SecretError, match=r"credentials\.token"):
        IxcReader(URL, credentials)


@pytest.mark.parametrize("page_size", [0, 5001, True])
def test_a_page_size_out_of_range_is_refused(page_size: Any) -> None:
    with pytest.raises(errors.ReconcilerError, match="page_size"):
        IxcReader(URL, {"token": TOKEN}, page_size=page_size)


def test_the_descriptor_names_this_reader_and_simulator() -> None:
    assert registry.reader_class(SOURCE) is IxcReader
    assert registry.simulator_module(SOURCE).create_app is create_app
    assert TOKEN not in repr(IxcReader(URL, {"token": TOKEN}))
