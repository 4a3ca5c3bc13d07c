"""The Qualifica provider against its simulator, in process: what a real platform would see."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from reconciler import errors
from reconciler.model import Action, Change, Integration, Resource, SecretRef
from reconciler.platforms.qualifica.provider import QualificaProvider, split_key
from reconciler.platforms.qualifica.sim import create_app
from reconciler.providers.base import Applied, build_provider
from reconciler.sim.clock import FakeClock
from reconciler.sim.faults import Faults, SimTransport
from tests.contract.gauge import Gauges
from tests.contract.harness import SimHarness, collector, drive

CLIENT_ID = "contract-client-id"
SECRET = "contract-client-secret-1234"
NAME = "qualifica-sp"
MARIA = "maria.silva@example.com"
USER = {"name": "Maria Silva", "email": "maria@example.com", "document": "52998224725"}
SUB = {"user": MARIA, "product": "pro", "service": 7001, "status": "active",
       "expires": "2025-06-30"}


class Tokens(httpx.AsyncBaseTransport):
    """Passes requests through and remembers every bearer token the provider sent."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.sent: set[str] = set()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme == "Bearer" and value:
            self.sent.add(value)
        return await self.inner.handle_async_request(request)


class Harness(SimHarness):
    """A simulator, a provider bound to it, and helpers to look at the platform directly."""

    def __init__(self, *, secret: str = SECRET, options: Mapping[str, Any] | None = None,
                 faults: Faults | None = None, transport: httpx.AsyncBaseTransport | None = None,
                 max_attempts: int = 5, token_ttl: float = 3600.0,
                 provider_clock: FakeClock | None = None,
                 wrap: Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport] | None = None,
                 ) -> None:
        super().__init__()
        self.clock = FakeClock()  # 2023-11-14T22:13:20Z
        self.app: Starlette = create_app(SECRET, client_id=CLIENT_ID, clock=self.clock,
                                         faults=faults, token_ttl=token_ttl)
        self.tokens = Tokens(transport or SimTransport(app=self.app))
        inner: httpx.AsyncBaseTransport = self.tokens
        self.transport = wrap(inner) if wrap is not None else inner
        integration = Integration(NAME, "qualifica", "embedded",
                                  {"client_id": CLIENT_ID,
                                   "client_secret": SecretRef("env", "QUALIFICA_SECRET")},
                                  dict(options or {}))
        clock = provider_clock or self.clock
        self.provider = QualificaProvider(
            integration, {"client_id": CLIENT_ID, "client_secret": secret}, self.transport,
            max_attempts=max_attempts, sleep=self._sleep, clock=clock.now)

    def users(self) -> dict[str, Any]:
        return {k: u.to_wire() for k, u in self.app.state.store.users.items()}

    def grant(self, key: str) -> dict[str, Any]:
        usuario, produto = split_key(key)
        wire: dict[str, Any] = self.app.state.store.users[usuario].produtos[produto].to_wire()
        return wire

    def writes(self) -> dict[str, dict[str, int]]:
        return {k: dict(v) for k, v in self.app.state.store.writes.items()}

    @property
    def logins(self) -> int:
        return int(self.app.state.store.logins)


def run(scenario: Callable[[Harness], Awaitable[None]], **kwargs: Any) -> Harness:
    return drive(Harness(**kwargs), scenario)


def change(kind: str, action: Action, keys: list[str], after: Mapping[str, Any] | None = None,
           before: Mapping[str, Any] | None = None) -> Change:
    return Change(NAME, kind, action, tuple(keys), before, after, reason="test")


async def create_user(h: Harness, *keys: str, **attrs: Any) -> Applied:
    after = {**USER, **attrs}
    return await h.provider.execute(change("user", Action.CREATE, list(keys or [MARIA]), after))


async def subscribe(h: Harness, *keys: str, **attrs: Any) -> Applied:
    after = {**SUB, **attrs}
    keys = keys or (f"{MARIA}/pro",)
    return await h.provider.execute(change("subscription", Action.CREATE, list(keys), after))


async def subscribed(h: Harness) -> str:
    """Maria, subscribed to pro: the subscription's key."""
    await create_user(h)
    await subscribe(h)
    return f"{MARIA}/pro"


async def act(h: Harness, action: Action, key: str, after: Mapping[str, Any] | None = None,
              ) -> Applied:
    return await h.provider.execute(change("subscription", action, [key], after, SUB))


# -- observe -----------------------------------------------------------------------------------


def test_observe_maps_users_and_subscriptions_exactly() -> None:
    async def scenario(h: Harness) -> None:
        await create_user(h)
        await create_user(h, "joao", name="João Souza", email=None, document="11222333000181")
        await subscribe(h)
        await subscribe(h, f"{MARIA}/premium", service=None, expires=None, status="suspended")
        await subscribe(h, "joao/1001", service=8001)
        await act(h, Action.DELETE, "joao/1001")
        observed = await h.provider.observe()

        assert observed.integration == NAME
        assert observed.reads == 2  # products + one page
        assert dict(observed.resources) == {
            f'{NAME}.user["{MARIA}"]': Resource(NAME, "user", MARIA, USER, remote_id=MARIA),
            f'{NAME}.user["joao"]': Resource(
                NAME, "user", "joao",
                {"name": "João Souza", "email": None, "document": "11222333000181"},
                remote_id="joao"),
            f'{NAME}.subscription["{MARIA}/pro"]': Resource(
                NAME, "subscription", f"{MARIA}/pro", SUB, remote_id=f"{MARIA}/pro"),
            f'{NAME}.subscription["{MARIA}/premium"]': Resource(
                NAME, "subscription", f"{MARIA}/premium",
                {"user": MARIA, "product": "premium", "service": None, "status": "suspended",
                 "expires": "2024-11-13"},
                remote_id=f"{MARIA}/premium"),
            f'{NAME}.subscription["joao/1001"]': Resource(
                NAME, "subscription", "joao/1001",
                {"user": "joao", "product": "1001", "service": 8001, "status": "cancelled",
                 "expires": "2025-06-30"},
                remote_id="joao/1001"),
        }
        assert observed.catalogs == {"products": (
            {"code": "pro", "name": "Qualifica Pro"},
            {"code": "premium", "name": "Qualifica Premium"},
            {"code": "1001", "name": "Curso Profissionalizante 1001"},
        )}

    run(scenario)


def test_observe_reads_every_page_concurrently_within_the_bound() -> None:
    gauge = Gauges()

    async def scenario(h: Harness) -> None:
        keys = [f"user{n:02d}" for n in range(11)]
        await create_user(h, *keys)
        await subscribe(h, *[f"{key}/pro" for key in keys])
        observed = await h.provider.observe()
        assert sorted(r.key for r in observed.resources.values() if r.kind == "user") == keys
        assert len(observed.resources) == 22
        assert observed.reads == 2 + 5  # products, then pages 0..5 of 2 users
        assert h.requests()["GET /usuarios"] == 6

    run(scenario, options={"page_size": 2, "concurrency": 2}, wrap=gauge)
    assert gauge.peak == 2


def test_observe_of_an_empty_platform_reads_one_page() -> None:
    async def scenario(h: Harness) -> None:
        observed = await h.provider.observe()
        assert dict(observed.resources) == {} and observed.reads == 2
        assert h.requests() == {"POST /oauth/token": 1, "GET /produtos": 1, "GET /usuarios": 1}

    run(scenario)


def test_catalogs_keep_only_active_products() -> None:
    async def scenario(h: Harness) -> None:
        products = [{"codigo": "pro", "nome": "Pro", "ativo": True},
                    {"codigo": "legado", "nome": "Legado", "ativo": False},
                    {"codigo": "2002", "nome": "Curso 2002", "ativo": True}]
        await h.admin("POST", "/_sim/config", json={"products": products})
        expected = ({"code": "pro", "name": "Pro"}, {"code": "2002", "name": "Curso 2002"})
        assert await h.provider.catalogs() == {"products": expected}
        assert (await h.provider.observe()).catalogs == {"products": expected}

    run(scenario)


# -- users -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user_field", "senha"),
    [(None, None), ("login_autenticacao", None), ("cpf_cnpj", "usuario"), ("email", "usuario"),
     ("id_cliente_servico", "usuario")],
)
def test_create_user_sends_the_password_by_user_field(user_field: str | None,
                                                      senha: str | None) -> None:
    options = {"user_field": user_field} if user_field else {}

    async def scenario(h: Harness) -> None:
        for _ in range(2):  # the second time the platform answers usuario_existente
            applied = await create_user(h, "52998224725", "maria")
            assert applied == Applied(remote_ids={"52998224725": "52998224725", "maria": "maria"})
        assert h.writes() == {"52998224725": {"criar": 1}, "maria": {"criar": 1}}
        assert h.users()["maria"] == {"usuario": "maria", "nome": "Maria Silva",
                                      "email": "maria@example.com", "documento": "52998224725",
                                      "produtos": []}
        for usuario, user in h.app.state.store.users.items():
            expected = hashlib.sha256(usuario.encode()).hexdigest() if senha else None
            assert user.senha_sha256 == expected

    run(scenario, options=options)


def test_update_user_is_idempotent_and_needs_the_user() -> None:
    async def scenario(h: Harness) -> None:
        await create_user(h)
        after = {"name": "Maria S.", "email": "", "document": "52998224725"}
        for _ in range(2):
            assert await h.provider.execute(
                change("user", Action.UPDATE, [MARIA], after, USER)) == Applied()
        assert h.users()[MARIA]["nome"] == "Maria S." and h.users()[MARIA]["email"] is None
        assert h.writes()[MARIA] == {"criar": 1, "atualizar": 1}
        with pytest.raises(errors.NotFoundError, match="user nobody does not exist") as caught:
            await h.provider.execute(change("user", Action.UPDATE, ["nobody"], after, USER))
        assert caught.value.status == 404 and "usuario_inexistente" in caught.value.detail

    run(scenario)


def test_a_user_the_platform_refuses_is_a_rejected_error() -> None:
    async def scenario(h: Harness) -> None:
        with pytest.raises(errors.RejectedError, match="dados_invalidos") as caught:
            await create_user(h, "dois nomes")
        assert caught.value.status == 422 and h.users() == {}

    run(scenario)


# -- subscriptions -----------------------------------------------------------------------------


def test_subscribe_defaults_the_expiry_and_suspends_when_asked() -> None:
    async def scenario(h: Harness) -> None:
        await create_user(h)
        key = f"{MARIA}/premium"
        for _ in range(2):
            applied = await subscribe(h, key, product="premium", expires=None, service=None,
                                      status="suspended")
            assert applied == Applied(remote_ids={key: key})
        assert h.grant(key) == {"produto": "premium", "status": "suspenso",
                                "data_expiracao": "2024-11-13", "id_cliente_servico": None}
        assert h.writes()[key] == {"vincular": 1, "suspender": 1}
        h.clock.advance(86_400)
        assert h.provider.default_expiry() == "2024-11-14"

    run(scenario)


def test_subscribe_several_keys_and_again_after_cancel_reactivates() -> None:
    async def scenario(h: Harness) -> None:
        await create_user(h, MARIA, "joao")
        keys = [f"{MARIA}/pro", "joao/pro"]
        await subscribe(h, *keys)
        await h.provider.execute(change("subscription", Action.DELETE, keys, None, SUB))
        assert {h.grant(k)["status"] for k in keys} == {"cancelado"}
        await subscribe(h, *keys, expires="2026-01-31", service=9001)
        for key in keys:
            assert h.grant(key) == {"produto": "pro", "status": "ativo",
                                    "data_expiracao": "2026-01-31", "id_cliente_servico": 9001}
            assert h.writes()[key] == {"vincular": 1, "cancelar": 1, "reativar": 1}

    run(scenario)


def test_update_patches_expiry_and_service() -> None:
    async def scenario(h: Harness) -> None:
        key = await subscribed(h)
        after = {**SUB, "expires": "2026-12-31", "service": 7002}
        for _ in range(2):
            assert await act(h, Action.UPDATE, key, after) == Applied()
        assert h.grant(key) == {"produto": "pro", "status": "ativo",
                                "data_expiracao": "2026-12-31", "id_cliente_servico": 7002}
        await act(h, Action.UPDATE, key, {**after, "expires": None, "service": None})
        assert h.grant(key)["data_expiracao"] == "2026-12-31"  # None leaves the expiry alone
        assert h.grant(key)["id_cliente_servico"] is None
        assert h.writes()[key] == {"vincular": 1, "alterar": 2}

    run(scenario)


def test_suspend_resume_and_cancel_are_idempotent() -> None:
    async def scenario(h: Harness) -> None:
        key = await subscribed(h)
        for action, status in ((Action.SUSPEND, "suspenso"), (Action.RESUME, "ativo"),
                               (Action.DELETE, "cancelado")):
            for _ in range(2):
                assert await act(h, action, key) == Applied()
                assert h.grant(key)["status"] == status
        assert h.writes()[key] == {"vincular": 1, "suspender": 1, "ativar": 1, "cancelar": 1}
        for gone in (f"{MARIA}/premium", "nobody/pro"):  # not found when cancelling: done
            assert await act(h, Action.DELETE, gone) == Applied()

    run(scenario)


def test_suspend_or_update_of_a_cancelled_or_missing_subscription_is_refused() -> None:
    async def scenario(h: Harness) -> None:
        await create_user(h)
        await subscribe(h)
        await act(h, Action.DELETE, f"{MARIA}/pro")
        with pytest.raises(errors.ConflictError, match="subscribe again") as caught:
            await act(h, Action.RESUME, f"{MARIA}/pro")
        assert caught.value.status == 409
        with pytest.raises(errors.ConflictError, match="is cancelled"):
            await act(h, Action.UPDATE, f"{MARIA}/pro", SUB)
        with pytest.raises(errors.NotFoundError, match="has no subscription to product premium"):
            await act(h, Action.SUSPEND, f"{MARIA}/premium")
        with pytest.raises(errors.NotFoundError, match="create the user first"):
            await subscribe(h, "nobody/pro")

    run(scenario)


def test_unknown_or_inactive_product_is_rejected_naming_the_valid_ones() -> None:
    async def scenario(h: Harness) -> None:
        await create_user(h)
        products = [{"codigo": "pro", "nome": "Pro", "ativo": True},
                    {"codigo": "legado", "nome": "Legado", "ativo": False}]
        await h.admin("POST", "/_sim/config", json={"products": products})
        for code in ("legado", "galactico"):
            with pytest.raises(errors.RejectedError) as caught:
                await subscribe(h, f"{MARIA}/{code}", product=code)
            message = str(caught.value)
            assert f"product '{code}' does not exist or is inactive" in message
            assert "valid products: pro (HTTP 422)" in message
        assert h.users()[MARIA]["produtos"] == []

    run(scenario)


def test_keys_split_on_the_last_slash_and_paths_are_quoted() -> None:
    assert split_key("a/b/pro") == ("a/b", "pro")
    for bad in ("pro", "/pro", "maria/"):
        with pytest.raises(errors.PlanError, match="usuario/produto"):
            split_key(bad)

    async def scenario(h: Harness) -> None:
        odd = "josé+silva@example.com.br"
        await create_user(h, odd)
        await subscribe(h, f"{odd}/1001")
        await act(h, Action.SUSPEND, f"{odd}/1001")
        assert h.grant(f"{odd}/1001")["status"] == "suspenso"

    run(scenario)


def test_unsupported_changes_are_refused() -> None:
    async def scenario(h: Harness) -> None:
        for kind, action in (("user", Action.DELETE), ("user", Action.SUSPEND),
                             ("subscription", Action.LINK), ("number", Action.CREATE)):
            with pytest.raises(errors.ReconcilerError,
                               match=f"qualifica cannot {action.value} a {kind}"):
                await h.provider.execute(change(kind, action, ["x/pro"], SUB))
        with pytest.raises(errors.PlanError, match="no target attributes"):
            await h.provider.execute(change("user", Action.CREATE, ["x"]))
        assert h.requests() == {}

    run(scenario)


# -- tokens ------------------------------------------------------------------------------------


def test_token_is_renewed_before_a_short_ttl_lapses() -> None:
    async def scenario(h: Harness) -> None:
        await create_user(h)
        assert h.logins == 1
        h.clock.advance(45)  # within the renewal margin of a 60 s token
        await subscribe(h)
        h.clock.advance(45)
        observed = await h.provider.observe()
        assert len(observed.resources) == 2
        assert h.logins == 3
        assert h.requests()["POST /usuarios/{usuario}/produtos"] == 1  # never refused with 401

    run(scenario, token_ttl=60)


def test_token_refused_by_the_platform_clock_is_renewed_once() -> None:
    async def scenario(h: Harness) -> None:
        await create_user(h)
        h.clock.advance(61)  # the platform's clock moved; the provider's did not
        observed = await h.provider.observe()
        assert len(observed.resources) == 1
        assert h.logins == 2
        assert h.requests()["GET /produtos"] == 2  # 401, then again with the new token

    run(scenario, token_ttl=60, provider_clock=FakeClock())


def test_token_expired_through_the_admin_endpoint_between_calls_is_renewed() -> None:
    async def scenario(h: Harness) -> None:
        await create_user(h)
        assert await h.admin("POST", "/_sim/tokens/expire") == {"expired": 1}
        await subscribe(h)
        assert await h.admin("POST", "/_sim/tokens/expire") == {"expired": 1}
        await act(h, Action.SUSPEND, f"{MARIA}/pro")
        assert h.grant(f"{MARIA}/pro")["status"] == "suspenso"
        counters = await h.admin("GET", "/_sim/counters")
        assert counters["logins"] == 3
        assert counters["requests"]["POST /usuarios/{usuario}/produtos"] == 2
        assert len(h.tokens.sent) == 3

    run(scenario)


# -- credentials and health --------------------------------------------------------------------


def test_check_logs_in_and_counts_active_products() -> None:
    async def scenario(h: Harness) -> None:
        health = await h.provider.check()
        assert health.ok and health.details == {"products": 3}
        assert health.message == f"{NAME}: qualifica answered with 3 active products"
        assert h.requests() == {"POST /oauth/token": 1, "GET /produtos": 1}

    run(scenario)


def test_wrong_credentials_fail_check_and_calls_without_retrying() -> None:
    async def scenario(h: Harness) -> None:
        health = await h.provider.check()
        assert not health.ok and health.details == {}
        assert health.message == (f"{NAME}: the qualifica platform refused the credentials "
                                  f"(HTTP 401); check credentials.client_id and "
                                  f"credentials.client_secret")
        with pytest.raises(errors.AuthError, match="refused the client_id/client_secret"):
            await h.provider.observe()
        assert h.requests() == {"POST /oauth/token": 2}  # one per call, never retried
        assert h.slept == [] and h.logins == 0
        assert "wrong-secret-value" not in health.message

    run(scenario, secret="wrong-secret-value")


def test_everything_converges_through_503s_and_429s() -> None:
    async def scenario(h: Harness) -> None:
        await h.admin("POST", "/_sim/config", json={"error_rate": 0.25, "rate_limit_rate": 0.25})
        keys = [f"user{n}" for n in range(6)]
        await create_user(h, *keys)
        await subscribe(h, *[f"{key}/pro" for key in keys], status="suspended")
        await h.provider.execute(change("subscription", Action.RESUME, [f"{keys[0]}/pro"],
                                        None, SUB))
        observed = await h.provider.observe()
        statuses = {r.key: r.attrs["status"] for r in observed.resources.values()
                    if r.kind == "subscription"}
        assert statuses == {f"{key}/pro": "active" if key == keys[0] else "suspended"
                            for key in keys}
        assert 1.0 in h.slept  # a 429's Retry-After was honoured
        assert any(delay != 1.0 for delay in h.slept)  # and a 503 backed off
        assert all(ops["vincular"] == 1 for k, ops in h.writes().items() if "/" in k)

    run(scenario, options={"page_size": 2}, faults=Faults(seed=5), max_attempts=12)


def test_lost_responses_are_retried_without_doing_anything_twice() -> None:
    async def scenario(h: Harness) -> None:
        await h.admin("POST", "/_sim/config", json={"lost_response_rate": 0.3})
        keys = [f"user{n}" for n in range(5)]
        await create_user(h, *keys)
        await subscribe(h, *[f"{key}/pro" for key in keys])
        for key in keys:
            await act(h, Action.DELETE, f"{key}/pro")
        assert h.writes() == {**{key: {"criar": 1} for key in keys},
                              **{f"{key}/pro": {"vincular": 1, "cancelar": 1} for key in keys}}
        assert h.slept  # some responses were lost and retried

    run(scenario, faults=Faults(seed=2), max_attempts=12)


def test_no_secret_or_token_in_errors_or_reprs() -> None:
    seen: list[str] = []
    collect = collector(seen)

    async def scenario(h: Harness) -> None:
        await create_user(h)
        await collect(subscribe(h, "nobody/pro"))
        await collect(subscribe(h, f"{MARIA}/nope", product="nope"))
        await collect(act(h, Action.SUSPEND, f"{MARIA}/pro"))
        await collect(create_user(h, "dois nomes"))
        await h.admin("POST", "/_sim/tokens/expire")
        await h.admin("POST", "/_sim/config", json={"error_rate": 1.0})
        await collect(h.provider.observe())
        seen.append((await h.provider.check()).message)
        seen.append(repr(h.provider))

    h = run(scenario, max_attempts=2)
    assert len(seen) == 7 and len(h.tokens.sent) == 1
    for text in seen:
        for secret in (SECRET, CLIENT_ID, *h.tokens.sent):
            assert secret not in text

    async def odd_login() -> None:
        token = "leaky-token-in-an-odd-answer"

        def answer(request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, json={"token": token, "client_secret": SECRET})

        integration = Integration(NAME, "qualifica", "embedded", {})
        provider = build_provider(integration, {"client_id": CLIENT_ID, "client_secret": SECRET},
                                  httpx.MockTransport(answer))
        assert isinstance(provider, QualificaProvider)
        try:
            with pytest.raises(errors.ProviderError, match="unexpected response shape") as caught:
                await provider.observe()
            text = f"{caught.value} {caught.value.detail}"
            assert token not in text and SECRET not in text
        finally:
            await provider.aclose()

    asyncio.run(odd_login())


def test_construction_checks_credentials_endpoint_and_options() -> None:
    embedded = Integration(NAME, "qualifica", "embedded", {})
    transport = httpx.ASGITransport(app=create_app(SECRET))
    good = {"client_id": CLIENT_ID, "client_secret": SECRET}
    for missing in ("client_id", "client_secret"):
        credentials = {k: v for k, v in good.items() if k != missing}
        with pytest.raises(errors.AuthError, match=f"credentials.{missing} is missing"):
            QualificaProvider(embedded, credentials, transport)
    with pytest.raises(errors.ReconcilerError, match="http"):
        QualificaProvider(embedded, good)
    for options, what in (({"page_size": 0}, "page_size"), ({"concurrency": 65}, "concurrency"),
                          ({"user_field": "cpf"}, "user_field must be one of login_autenticacao")):
        bad = Integration(NAME, "qualifica", "embedded", {}, options)
        with pytest.raises(errors.ReconcilerError, match=what):
            QualificaProvider(bad, good, transport)
    ignored = Integration(NAME, "qualifica", "https://qualifica.example", {},
                          {"suspend_on_delinquency": True, "user_field": "email"})
    provider = QualificaProvider(ignored, good)
    assert (provider.page_size, provider.concurrency, provider.user_field) == (500, 4, "email")
    asyncio.run(provider.aclose())
