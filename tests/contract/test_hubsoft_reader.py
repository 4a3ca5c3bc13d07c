"""The HubSoft reader against the HubSoft simulator, in process: what a real ERP would see."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from reconciler import errors
from reconciler.sim.clock import FakeClock
from reconciler.sim.faults import Faults, SimTransport
from reconciler.sources.erp import ErpClient, ErpService
from reconciler.sources.hubsoft import SOURCE
from reconciler.sources.hubsoft.reader import HubSoftReader
from reconciler.sources.hubsoft.sim import CLIENTS, create_app
from reconciler.sources.hubsoft.sim_store import generated
from tests.contract.harness import Recorder

SECRET = "contract-hubsoft-secret-1234"
PASSWORD = "contract-user-password-5678"
CREDENTIALS = {"client_id": "contract-client", "client_secret": SECRET,
               "username": "api@isp.example", "password": PASSWORD}
URL = "https://api.isp.hubsoft.com.br"


class Harness:
    """A simulator, a reader bound to it through a recording transport, and the sleeps the
    reader's backoff asked for (never waited)."""

    def __init__(self, *, clients: Any = 57, seed: int = 4, page_size: int = 10,
                 credentials: dict[str, str] | None = None, faults: Faults | None = None,
                 wrap: Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport] | None = None,
                 max_attempts: int = 5) -> None:
        self.clock = FakeClock()
        self.app: Starlette = create_app(SECRET, client_id="contract-client",
                                         username="api@isp.example", password=PASSWORD,
                                         clock=self.clock, clients=clients, seed=seed,
                                         faults=faults)
        inner: httpx.AsyncBaseTransport = SimTransport(app=self.app)
        self.recorder = Recorder(wrap(inner) if wrap is not None else inner)
        self.slept: list[float] = []
        self.reader = HubSoftReader(URL, credentials or CREDENTIALS, source="hubsoft-main",
                                    page_size=page_size, transport=self.recorder,
                                    sleep=self._sleep, max_attempts=max_attempts,
                                    clock=self.clock.now)

    async def _sleep(self, seconds: float) -> None:
        self.slept.append(seconds)

    @property
    def store(self) -> Any:
        return self.app.state.store

    def pages(self) -> list[int]:
        return [int(c.params["pagina"]) for c in self.recorder.of("GET", CLIENTS)]


def run(scenario: Callable[[Harness], Awaitable[None]], **kwargs: Any) -> Harness:
    harness = Harness(**kwargs)

    async def main() -> None:
        try:
            await scenario(harness)
        finally:
            await harness.reader.aclose()

    asyncio.run(main())
    return harness


def expected(count: int, seed: int) -> list[ErpClient]:
    """The records the estate stands for, built from the store's own records."""
    return [
        ErpClient(str(c.id_cliente), c.cpf_cnpj, c.nome_razaosocial, c.email_principal or None,
                  c.telefone_primario or None,
                  tuple(ErpService(str(s.id_cliente_servico), s.status_prefixo, s.login, s.nome,
                                   tuple(p.codigo for p in s.pacotes)) for s in c.servicos))
        for c in generated(count, seed)
    ]


# -- reading -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("page_size", "pages"), [(1, 57), (10, 6), (57, 1), (500, 1)])
def test_reads_every_page_and_equals_the_estate(page_size: int, pages: int) -> None:
    async def scenario(h: Harness) -> None:
        read = await h.reader.clients()
        assert read == expected(57, 4)
        assert h.pages() == list(range(pages))
        assert {c.params["itens_por_pagina"] for c in h.recorder.of("GET", CLIENTS)} == {
            str(page_size)}
        assert h.reader.pages == pages
        assert h.store.logins == 1

    run(scenario, page_size=page_size)


def test_missing_contacts_and_packages_map_to_none_and_codes() -> None:
    async def scenario(h: Harness) -> None:
        read = await h.reader.clients()
        assert any(c.phone is None for c in read) and any(c.email is None for c in read)
        assert all(c.phone is None or c.phone.isdigit() for c in read)
        assert any(s.packages for c in read for s in c.services)
        assert {s.status for c in read for s in c.services} <= set(SOURCE.statuses)

    run(scenario, clients=1200, page_size=500)


def test_an_empty_erp_reads_one_page() -> None:
    async def scenario(h: Harness) -> None:
        assert await h.reader.clients() == []
        assert h.pages() == [0]

    run(scenario, clients=None)


def test_the_reader_sees_a_change_made_between_two_reads() -> None:
    async def scenario(h: Harness) -> None:
        before = await h.reader.clients()
        await admin(h, "PATCH", "/_sim/services/5", json={"status_prefixo": "cancelado",
                                                          "pacotes": ["livros"]})
        after = await h.reader.clients()
        changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
        assert len(changed) == 1
        (service,) = [s for s in changed[0][1].services if s.erp_id == "5"]
        assert (service.status, service.packages) == ("cancelado", ("livros",))
        assert h.store.logins == 1  # the token was reused

    run(scenario)


async def admin(h: Harness, method: str, path: str, **kwargs: Any) -> Any:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=h.app),
                                 base_url="http://sim") as api:
        response = await api.request(method, path, **kwargs)
        response.raise_for_status()
        return response.json()


# -- tokens ------------------------------------------------------------------------------------


class ExpireAfter(httpx.AsyncBaseTransport):
    """Expires every token once, right after page ``pagina`` of cliente/todos was answered."""

    def __init__(self, inner: httpx.AsyncBaseTransport, app: Starlette, pagina: str) -> None:
        self.inner, self.app, self.pagina, self.done = inner, app, pagina, False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if not self.done and request.url.params.get("pagina") == self.pagina:
            self.done = True
            self.app.state.tokens.expire_all()
        return response


def test_a_token_revoked_mid_read_costs_one_more_login() -> None:
    harness = Harness()
    harness.recorder.inner = ExpireAfter(harness.recorder.inner, harness.app, "2")

    async def main() -> None:
        try:
            assert await harness.reader.clients() == expected(57, 4)
        finally:
            await harness.reader.aclose()

    asyncio.run(main())
    assert harness.store.logins == 2
    statuses = [c.status for c in harness.recorder.of("GET", CLIENTS)]
    assert statuses.count(401) == 1  # page 3, once, then again with the new token
    assert harness.pages() == [0, 1, 2, 3, 3, 4, 5]


def test_a_token_past_its_announced_expiry_is_renewed_before_use() -> None:
    async def scenario(h: Harness) -> None:
        await h.reader.clients()
        h.clock.advance(2592000)
        await h.reader.clients()
        assert h.store.logins == 2
        assert all(c.status == 200 for c in h.recorder.calls)  # never a 401

    run(scenario)


def test_bad_credentials_are_an_auth_error_without_the_secrets() -> None:
    async def scenario(h: Harness) -> None:
        with pytest.raises(errors.AuthError) as caught:
            await h.reader.clients()
        text = f"{caught.value} {caught.value!r} {caught.value.detail}"
        assert "client_id, client_secret, username and password" in text
        assert "wrong-password-9999" not in text and SECRET not in text
        assert len(h.recorder.of("POST", "/oauth/token")) == 1  # a refusal is not retried

    run(scenario, credentials={**CREDENTIALS, "password": "wrong-password-9999"})


def test_missing_credentials_are_a_secret_error_naming_them() -> None:
    with pytest.raises(errors.SecretError, match=r"credentials\.username, credentials\.password"):
        HubSoftReader(URL, {"client_id": "x", "client_secret": "y", "username": ""})


def test_bad_page_size_and_url_are_refused() -> None:
    for size in (0, 501, True):
        with pytest.raises(errors.ReconcilerError, match="page_size"):
            HubSoftReader(URL, CREDENTIALS, page_size=size)
    with pytest.raises(errors.ReconcilerError, match="http"):
        HubSoftReader("api.isp.hubsoft.com.br", CREDENTIALS)


# -- errors ------------------------------------------------------------------------------------


class Rewrite(httpx.AsyncBaseTransport):
    """Answers page ``pagina`` of cliente/todos with ``body`` instead (HTTP 200)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, pagina: str, body: Any) -> None:
        self.inner, self.pagina, self.body = inner, pagina, body

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == CLIENTS and request.url.params.get("pagina") == self.pagina:
            return httpx.Response(200, json=self.body, request=request)
        return await self.inner.handle_async_request(request)


def test_a_status_error_page_is_a_provider_error_naming_the_message() -> None:
    body = {"status": "error", "msg": "Favor preencher os campos obrigatórios corretamente.",
            "errors": ["O campo itens por pagina é obrigatório."]}

    async def scenario(h: Harness) -> None:
        with pytest.raises(errors.ProviderError) as caught:
            await h.reader.clients()
        assert not isinstance(caught.value, errors.TemporaryError)
        assert "Favor preencher os campos obrigatórios" in str(caught.value)
        assert "itens por pagina é obrigatório" in str(caught.value)
        assert "pagina 1" in str(caught.value)

    run(scenario, wrap=lambda inner: Rewrite(inner, "1", body))


def test_secrets_echoed_by_the_erp_are_masked_in_errors() -> None:
    body = {"status": "error", "msg": f"login {PASSWORD} recusado",
            "errors": [f"client_secret {SECRET}"]}

    async def scenario(h: Harness) -> None:
        with pytest.raises(errors.ProviderError) as caught:
            await h.reader.clients()
        text = f"{caught.value} {caught.value!r} {caught.value.detail}"
        assert PASSWORD not in text and SECRET not in text
        assert "login ******** recusado" in text

    run(scenario, wrap=lambda inner: Rewrite(inner, "0", body))


def test_an_unknown_status_prefixo_is_a_provider_error_naming_it() -> None:
    async def scenario(h: Harness) -> None:
        body = await admin_page(h)
        body["clientes"][2]["servicos"][0]["status_prefixo"] = "em_analise"  # a newer HubSoft
        h.recorder.inner = Rewrite(h.recorder.inner, "0", body)
        with pytest.raises(errors.ProviderError, match="service 3 has status_prefixo 'em_analise'"):
            await h.reader.clients()

    run(scenario)


def test_a_malformed_page_is_an_unexpected_shape() -> None:
    async def scenario(h: Harness) -> None:
        with pytest.raises(errors.ProviderError, match="unexpected response shape"):
            await h.reader.clients()

    run(scenario, wrap=lambda inner: Rewrite(inner, "0", {"status": "success", "clientes": []}))


class GrowAfter(httpx.AsyncBaseTransport):
    """Replaces the estate with ``count`` clients after page ``pagina`` was answered."""

    def __init__(self, inner: httpx.AsyncBaseTransport, app: Starlette, pagina: str,
                 count: int) -> None:
        self.inner, self.app, self.pagina, self.count, self.done = inner, app, pagina, count, False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if not self.done and request.url.params.get("pagina") == self.pagina:
            self.done = True
            self.app.state.store.replace(generated(self.count, 4))
        return response


def test_a_total_that_changes_mid_read_fails_the_read() -> None:
    harness = Harness()
    harness.recorder.inner = GrowAfter(harness.recorder.inner, harness.app, "1", 60)

    async def main() -> None:
        try:
            with pytest.raises(errors.TemporaryError) as caught:
                await harness.reader.clients()
            assert "the ERP changed while its clients were read" in str(caught.value)
            assert "57 to 60" in str(caught.value) and "run the export again" in str(caught.value)
            assert await harness.reader.clients() == expected(60, 4)  # a second run is whole
        finally:
            await harness.reader.aclose()

    asyncio.run(main())


def test_a_client_seen_twice_fails_the_read() -> None:
    async def scenario(h: Harness) -> None:
        first = await admin_page(h)
        h.recorder.inner = Rewrite(h.recorder.inner, "1", first)
        with pytest.raises(errors.TemporaryError, match="id_cliente 1 came twice"):
            await h.reader.clients()

    run(scenario)


async def admin_page(h: Harness) -> dict[str, Any]:
    """Page 0 as the ERP answers it, read with a token of its own."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=h.app),
                                 base_url="http://sim") as api:
        token = (await api.post("/oauth/token", json={"grant_type": "password",
                                                      **CREDENTIALS})).json()["access_token"]
        response = await api.get(CLIENTS, params={"pagina": 0, "itens_por_pagina": 10},
                                 headers={"Authorization": f"Bearer {token}"})
        body: dict[str, Any] = response.json()
        return body


# -- retries -----------------------------------------------------------------------------------


def test_transient_503s_are_retried_without_waiting() -> None:
    async def scenario(h: Harness) -> None:
        assert await h.reader.clients() == expected(57, 4)
        statuses = [c.status for c in h.recorder.calls]
        assert statuses.count(503) >= 3
        assert len(h.slept) == statuses.count(503)  # one backoff per retry, none waited

    run(scenario, faults=Faults(error_rate=0.4, seed=7), max_attempts=10)


def test_a_platform_that_stays_down_is_a_temporary_error_after_the_attempts() -> None:
    async def scenario(h: Harness) -> None:
        with pytest.raises(errors.TemporaryError, match="still failing after 3 attempts"):
            await h.reader.clients()
        assert len(h.recorder.calls) == 3 and len(h.slept) == 2

    run(scenario, faults=Faults(error_rate=1.0), max_attempts=3)
