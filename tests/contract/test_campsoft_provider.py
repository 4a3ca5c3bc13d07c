"""The Campsoft provider against its simulator, in process: what a real platform would see."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from reconciler import errors
from reconciler.model import Action, Change, Integration, Resource, SecretRef
from reconciler.platforms.campsoft.provider import CampsoftProvider, split_key
from reconciler.platforms.campsoft.sim import create_app
from reconciler.platforms.campsoft.sim_store import Store, Subscription, password_digest
from reconciler.providers.base import Applied, build_provider
from reconciler.sim.clock import FakeClock
from reconciler.sim.faults import Faults
from tests.contract.harness import SimHarness, collector, drive

KEY = "contract-api-key-5678"
SECRET = "contract-api-secret-1234"
NAME = "livros"
AFTER = {"contract": "7001", "label": "livros-7001", "product": "1234567", "status": "active",
         "name": "Maria Silva", "document": "529.982.247-25", "email": "maria@example.com",
         "phone": "11987654321", "login": "maria.pppoe", "password_from": "cpf_cnpj"}
ATTRS = {k: v for k, v in AFTER.items() if k != "password_from"}
CPF_DIGITS = "52998224725"
K1 = "7001/livros-7001"
Wrap = Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport]


class Harness(SimHarness):
    """A simulator, a provider bound to it, and helpers to look at the platform directly."""

    def __init__(self, *, key: str = KEY, secret: str = SECRET,
                 options: Mapping[str, Any] | None = None, faults: Faults | None = None,
                 transport: httpx.AsyncBaseTransport | None = None, max_attempts: int = 5,
                 wrap: Wrap | None = None, isps: Sequence[Mapping[str, Any]] | None = None,
                 token_ttl: float = 3600.0) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.app: Starlette = create_app(SECRET, api_key=KEY, clock=self.clock, faults=faults,
                                         isps=isps, token_ttl=token_ttl)
        self.transport = transport or httpx.ASGITransport(app=self.app)
        if wrap is not None:
            self.transport = wrap(self.transport)
        credentials = {"api_key": SecretRef("env", "CS_KEY"), "api_secret": SecretRef("env", "S")}
        integration = Integration(NAME, "campsoft", "embedded", credentials, dict(options or {}))
        self.provider = CampsoftProvider(integration, {"api_key": key, "api_secret": secret},
                                         self.transport, max_attempts=max_attempts,
                                         sleep=self._sleep, clock=self.clock.now)

    @property
    def store(self) -> Store:
        return self.app.state.store  # type: ignore[no-any-return]

    def sub(self, key: str) -> Subscription:
        contract, label = split_key(key)
        return next(s for s in self.store.subscriptions.values()
                    if (s.contract_identifier, s.label) == (contract, label))


def run(scenario: Callable[[Harness], Awaitable[None]], **kwargs: Any) -> Harness:
    return drive(Harness(**kwargs), scenario)


def change(action: Action, keys: Sequence[str], after: Mapping[str, Any] | None = None,
           before: Mapping[str, Any] | None = None, kind: str = "subscription") -> Change:
    return Change(NAME, kind, action, tuple(keys), before, after, reason="test")


def key_of(n: int) -> str:
    return f"{n}/livros-{n}"


def after_of(n: int, **attrs: Any) -> dict[str, Any]:
    return {**AFTER, "contract": str(n), "label": f"livros-{n}", **attrs}


async def create(h: Harness, n: int = 7001, **attrs: Any) -> Applied:
    return await h.provider.execute(change(Action.CREATE, [key_of(n)], after_of(n, **attrs)))


# -- observe -----------------------------------------------------------------------------------


def test_observe_reads_every_page_and_maps_subscriptions_exactly() -> None:
    async def scenario(h: Harness) -> None:
        for n in range(7001, 7006):
            await create(h, n)
        await h.provider.execute(change(Action.SUSPEND, [key_of(7002)], after_of(7002)))
        await h.provider.execute(change(Action.DELETE, [key_of(7003)]))
        # a provider that never wrote: it resolves the ISP during observe
        fresh = CampsoftProvider(h.provider.integration, {"api_key": KEY, "api_secret": SECRET},
                                 h.transport, clock=h.clock.now)
        try:
            before = h.requests().get("GET /subscriptions", 0)
            observed = await fresh.observe()
        finally:
            await fresh.aclose()

        assert observed.integration == NAME
        assert observed.reads == 1 + 1 + 3  # products, isps, pages 1..3 of 2
        assert h.requests()["GET /subscriptions"] - before == 3
        assert sorted(r.key for r in observed.resources.values()) == [
            key_of(n) for n in range(7001, 7006)]
        resource = observed.resources['livros.subscription["7001/livros-7001"]']
        assert resource == Resource(NAME, "subscription", K1, ATTRS, remote_id="sub-000001")
        statuses = {r.key: r.attrs["status"] for r in observed.resources.values()}
        assert (statuses[key_of(7002)], statuses[key_of(7003)]) == ("suspended", "cancelled")
        assert all(set(r.attrs) == set(ATTRS) for r in observed.resources.values())
        products = observed.catalogs["products"]
        assert {"code": "1234567", "name": "Campsoft Livros Digitais"} in products
        assert all(set(p) == {"code", "name"} for p in products)
        assert "9000001" not in {p["code"] for p in products}  # inactive

    run(scenario, options={"page_size": 2})


def test_observe_maps_a_missing_login_to_none_and_keeps_only_its_isp() -> None:
    isps = [{"isp_identifier": "isp-a", "name": "A"}, {"isp_identifier": "isp-b", "name": "B"}]

    async def scenario(h: Harness) -> None:
        await create(h, 7001, login=None)
        token = await h.provider.token.value()
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=h.app),
                                     base_url="http://sim",
                                     headers={"Authorization": f"Bearer {token}"}) as api:
            other = {"isp_identifier": "isp-b", "contract_identifier": "9", "label": "x-9",
                     "product_code": "1234567",
                     "customer": {"name": "B", "document": "1", "email": "b@b", "phone": "1"}}
            assert (await api.post("/subscriptions", json=other)).status_code == 201
        observed = await h.provider.observe()
        assert list(observed.resources) == ['livros.subscription["7001/livros-7001"]']
        assert observed.resources['livros.subscription["7001/livros-7001"]'].attrs["login"] is None
        assert observed.reads == 2  # the ISP comes from the option: no GET /isps
        assert "GET /isps" not in h.requests()
        assert h.sub(K1).isp_identifier == "isp-a"

    run(scenario, isps=isps, options={"isp_identifier": "isp-a"})


# -- create ------------------------------------------------------------------------------------


def test_create_sends_the_subscription_and_a_repeat_counts_as_done() -> None:
    async def scenario(h: Harness) -> None:
        applied = await create(h)
        assert applied == Applied(remote_ids={K1: "sub-000001"})
        sub = h.sub(K1)
        assert (sub.isp_identifier, sub.contract_identifier, sub.label, sub.product_code,
                sub.status) == ("isp-sim", "7001", "livros-7001", "1234567", "active")
        assert (sub.customer.name, sub.customer.document, sub.customer.email,
                sub.customer.phone, sub.customer.login) == (
            "Maria Silva", "529.982.247-25", "maria@example.com", "11987654321", "maria.pppoe")
        again = await create(h)  # 409 names the id: success
        assert again == applied
        assert h.store.writes == {K1: {"create": 1}}
        assert h.requests()["POST /subscriptions"] == 2

    run(scenario)


def test_create_several_keys_and_suspended_ones() -> None:
    async def scenario(h: Harness) -> None:
        keys = [key_of(7001), key_of(7002)]
        applied = await h.provider.execute(change(Action.CREATE, keys,
                                                  {**AFTER, "status": "suspended"}))
        assert applied.remote_ids == {keys[0]: "sub-000001", keys[1]: "sub-000002"}
        assert [h.sub(k).status for k in keys] == ["suspended", "suspended"]
        assert (h.sub(keys[1]).contract_identifier, h.sub(keys[1]).label) == ("7002",
                                                                            "livros-7002")
        assert h.store.writes[keys[0]] == {"create": 1, "suspend": 1}
        await h.provider.execute(change(Action.CREATE, keys, {**AFTER, "status": "suspended"}))
        assert h.store.writes[keys[1]] == {"create": 1, "suspend": 1}  # nothing changed

    run(scenario)


def test_create_reactivates_a_cancelled_subscription_under_the_same_id() -> None:
    async def scenario(h: Harness) -> None:
        await create(h)
        await h.provider.execute(change(Action.DELETE, [K1], before=ATTRS))
        assert h.sub(K1).status == "cancelled"
        applied = await create(h, product="7654321")
        assert applied.remote_ids == {K1: "sub-000001"}
        assert (h.sub(K1).status, h.sub(K1).product_code) == ("active", "7654321")

    run(scenario)


@pytest.mark.parametrize(("rule", "password"), [
    ("cpf_cnpj", CPF_DIGITS), (None, CPF_DIGITS), ("login_autenticacao", "maria.pppoe"),
    ("id_contrato", "7001"),
])
def test_the_password_follows_password_from_and_never_reaches_attrs(
    rule: str | None, password: str
) -> None:
    async def scenario(h: Harness) -> None:
        attrs = {"password_from": rule} if rule else {}
        after = {**AFTER, **attrs} if rule else {k: v for k, v in AFTER.items()
                                                 if k != "password_from"}
        applied = await h.provider.execute(change(Action.CREATE, [K1], after))
        assert h.sub(K1).customer.password_sha256 == password_digest(password)
        observed = await h.provider.observe()
        resource = observed.resources['livros.subscription["7001/livros-7001"]']
        assert "password" not in resource.attrs and "password_from" not in resource.attrs
        assert CPF_DIGITS not in repr(resource) and CPF_DIGITS not in repr(applied)
        moved = {**after, "document": "111.222.333-96"}
        await h.provider.execute(change(Action.UPDATE, [K1], moved, ATTRS))
        expected = "11122233396" if password == CPF_DIGITS else password
        assert h.sub(K1).customer.password_sha256 == password_digest(expected)

    run(scenario)


def test_an_update_sends_the_password_only_when_the_planner_found_it_moved() -> None:
    """A password the client changed on the platform survives an update made for another
    reason; a new fingerprint or rule sends the rule's password; a state row with no
    fingerprint (recorded before they were kept) gets it, so that one is recorded."""
    async def scenario(h: Harness) -> None:
        await h.provider.execute(change(Action.CREATE, [K1], AFTER))
        h.sub(K1).customer.password_sha256 = password_digest("set-by-the-client")
        recorded = {**ATTRS, "password_from": "cpf_cnpj", "password_digest": "d1"}
        new_mail = {**AFTER, "email": "maria@new.example", "password_digest": "d1"}
        await h.provider.execute(change(Action.UPDATE, [K1], new_mail, recorded))
        assert h.sub(K1).customer.email == "maria@new.example"
        assert h.sub(K1).customer.password_sha256 == password_digest("set-by-the-client")
        await h.provider.execute(change(Action.UPDATE, [K1], {**new_mail, "password_digest": "d2"},
                                        recorded))
        assert h.sub(K1).customer.password_sha256 == password_digest(CPF_DIGITS)
        h.sub(K1).customer.password_sha256 = password_digest("set-by-the-client")
        by_login = {**new_mail, "password_from": "login_autenticacao"}
        await h.provider.execute(change(Action.UPDATE, [K1], by_login, recorded))
        assert h.sub(K1).customer.password_sha256 == password_digest("maria.pppoe")
        h.sub(K1).customer.password_sha256 = password_digest("set-by-the-client")
        await h.provider.execute(change(Action.UPDATE, [K1], new_mail, ATTRS))
        assert h.sub(K1).customer.password_sha256 == password_digest(CPF_DIGITS)

    run(scenario)


def test_a_bad_password_rule_or_an_empty_password_is_a_plan_error() -> None:
    async def scenario(h: Harness) -> None:
        with pytest.raises(errors.PlanError, match="password_from must be one of"):
            await h.provider.execute(change(Action.CREATE, [K1],
                                            {**AFTER, "password_from": "literal"}))
        with pytest.raises(errors.PlanError, match="empty password"):
            await h.provider.execute(change(Action.CREATE, [K1], {
                **AFTER, "login": None, "password_from": "login_autenticacao"}))
        with pytest.raises(errors.PlanError, match="contract_identifier>/<label>"):
            await h.provider.execute(change(Action.CREATE, ["no-slash"], AFTER))
        assert h.store.subscriptions == {}

    run(scenario)


@pytest.mark.parametrize("missing", [{"phone": None}, {"email": ""},
                                     {"email": None, "phone": None}])
def test_a_client_without_email_or_phone_is_rejected_clearly(missing: dict[str, Any]) -> None:
    async def scenario(h: Harness) -> None:
        with pytest.raises(errors.RejectedError) as caught:
            await create(h, **missing)
        message = str(caught.value)
        assert "the client needs an e-mail and a phone" in message and K1 in message
        assert caught.value.status == 422 and caught.value.integration == NAME
        assert CPF_DIGITS not in message and SECRET not in message
        assert h.store.subscriptions == {}

    run(scenario)


def test_an_unknown_or_inactive_product_is_rejected_naming_the_active_ones() -> None:
    async def scenario(h: Harness) -> None:
        for product in ("9000001", "1111111"):
            with pytest.raises(errors.RejectedError) as caught:
                await create(h, product=product)
            assert f"subscription {K1}: campsoft rejected it" in str(caught.value)
            assert product in str(caught.value) and "1234567" in str(caught.value)
        assert h.store.subscriptions == {}

    run(scenario)


# -- update and status changes -----------------------------------------------------------------


def test_update_puts_product_and_customer() -> None:
    async def scenario(h: Harness) -> None:
        await create(h)
        after = {**AFTER, "product": "7654321", "phone": "11900000000", "name": "Maria S."}
        assert await h.provider.execute(change(Action.UPDATE, [K1], after, ATTRS)) == Applied()
        observed = await h.provider.observe()
        expected = {**ATTRS, "product": "7654321", "phone": "11900000000", "name": "Maria S."}
        assert observed.resources['livros.subscription["7001/livros-7001"]'].attrs == expected
        await h.provider.execute(change(Action.UPDATE, [K1], after, ATTRS))  # no real change
        assert h.store.writes[K1] == {"create": 1, "update": 1}
        with pytest.raises(errors.NotFoundError, match="create it first"):
            await h.provider.execute(change(Action.UPDATE, [key_of(9)], after_of(9)))
        await h.provider.execute(change(Action.DELETE, [K1]))
        with pytest.raises(errors.ConflictError, match="is cancelled on campsoft"):
            await h.provider.execute(change(Action.UPDATE, [K1], after, ATTRS))

    run(scenario)


def test_suspend_resume_and_cancel_are_idempotent() -> None:
    async def scenario(h: Harness) -> None:
        await create(h)
        for action, status in ((Action.SUSPEND, "suspended"), (Action.RESUME, "active"),
                               (Action.DELETE, "cancelled")):
            for _ in range(2):
                assert await h.provider.execute(change(action, [K1], before=ATTRS)) == Applied()
                assert h.sub(K1).status == status
        assert h.store.writes[K1] == {"create": 1, "suspend": 1, "reactivate": 1, "cancel": 1}
        with pytest.raises(errors.ConflictError, match="create it again"):
            await h.provider.execute(change(Action.RESUME, [K1], before=ATTRS))
        gone = change(Action.DELETE, [key_of(9)], before=ATTRS)
        assert await h.provider.execute(gone) == Applied()  # not there: already cancelled
        with pytest.raises(errors.NotFoundError, match="nothing to suspend"):
            await h.provider.execute(change(Action.SUSPEND, [key_of(9)]))

    run(scenario)


def test_ids_are_looked_up_when_observe_did_not_see_them() -> None:
    async def scenario(h: Harness) -> None:
        await create(h, 7001)
        await create(h, 7002)
        other = CampsoftProvider(h.provider.integration, {"api_key": KEY, "api_secret": SECRET},
                                 h.transport, clock=h.clock.now)
        try:
            before = h.requests().get("GET /subscriptions", 0)
            await other.execute(change(Action.SUSPEND, [key_of(7001), key_of(7002)]))
            assert h.requests()["GET /subscriptions"] - before == 2  # one filtered lookup each
            await other.execute(change(Action.RESUME, [key_of(7001)]))
            assert h.requests()["GET /subscriptions"] - before == 2  # cached since
        finally:
            await other.aclose()
        assert [h.sub(key_of(n)).status for n in (7001, 7002)] == ["active", "suspended"]

    run(scenario)


def test_ids_seen_by_observe_need_no_lookup() -> None:
    async def scenario(h: Harness) -> None:
        await create(h, 7001)
        other = CampsoftProvider(h.provider.integration, {"api_key": KEY, "api_secret": SECRET},
                                 h.transport, clock=h.clock.now)
        try:
            await other.observe()
            listed = h.requests()["GET /subscriptions"]
            await other.execute(change(Action.SUSPEND, [K1]))
            await other.execute(change(Action.DELETE, [K1]))
        finally:
            await other.aclose()
        assert h.requests()["GET /subscriptions"] == listed == 1
        assert h.store.writes[K1] == {"create": 1, "suspend": 1, "cancel": 1}

    run(scenario)


def test_unsupported_changes_are_refused() -> None:
    async def scenario(h: Harness) -> None:
        with pytest.raises(errors.ReconcilerError, match="campsoft cannot link a subscription"):
            await h.provider.execute(change(Action.LINK, [K1], AFTER))
        with pytest.raises(errors.ReconcilerError, match="campsoft cannot create a user"):
            await h.provider.execute(change(Action.CREATE, ["x"], {}, kind="user"))
        assert h.requests() == {}

    run(scenario)


# -- ISP ---------------------------------------------------------------------------------------


def test_the_only_isp_is_chosen_automatically_once() -> None:
    async def scenario(h: Harness) -> None:
        await create(h, 7001)
        await create(h, 7002)
        await h.provider.observe()
        assert h.requests()["GET /isps"] == 1
        assert h.sub(K1).isp_identifier == "isp-sim"
        assert await h.provider.isp_identifier() == "isp-sim"

    run(scenario)


def test_several_isps_need_the_option() -> None:
    isps = [{"isp_identifier": "isp-a", "name": "A"}, {"isp_identifier": "isp-b", "name": "B"}]

    async def scenario(h: Harness) -> None:
        for call in (create(h), h.provider.observe()):
            with pytest.raises(errors.ReconcilerError) as caught:
                await call
            message = str(caught.value)
            assert "2 ISPs (isp-a, isp-b)" in message and "options.isp_identifier" in message
            assert NAME in message
        assert h.store.subscriptions == {}

    run(scenario, isps=isps)

    async def chosen(h: Harness) -> None:
        await create(h)
        assert h.sub(K1).isp_identifier == "isp-b" and "GET /isps" not in h.requests()

    run(chosen, isps=isps, options={"isp_identifier": "isp-b"})


def test_an_isp_option_the_platform_does_not_know_is_rejected() -> None:
    async def scenario(h: Harness) -> None:
        with pytest.raises(errors.RejectedError, match="unknown isp_identifier"):
            await create(h)

    run(scenario, options={"isp_identifier": "isp-zz"})


# -- tokens ------------------------------------------------------------------------------------


def test_a_token_past_its_expiry_is_renewed_before_the_next_call() -> None:
    async def scenario(h: Harness) -> None:
        await create(h, 7001)
        assert h.store.logins == 1
        h.clock.advance(600)  # past ExpiresIn: the sim refuses the old token too
        await create(h, 7002)
        observed = await h.provider.observe()
        assert len(observed.resources) == 2
        assert h.store.logins == 2 and h.provider.token.logins == 2

    run(scenario, token_ttl=600)


def test_a_token_revoked_between_calls_is_renewed_without_failing() -> None:
    async def scenario(h: Harness) -> None:
        await create(h, 7001)
        assert await h.admin("POST", "/_sim/tokens/expire") == {"expired": 1}
        await h.provider.execute(change(Action.SUSPEND, [K1]))  # 401, logs in, sends again
        assert h.sub(K1).status == "suspended"
        assert h.store.logins == 2
        assert h.requests()["POST /subscriptions/{subscription_id}/suspend"] == 2

    run(scenario)


def test_a_token_that_lapses_in_the_middle_of_observe_is_renewed() -> None:
    harness: list[Harness] = []

    class ExpireAfterFirstPage(httpx.AsyncBaseTransport):
        def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
            self.inner = inner
            self.pages = 0

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            response = await self.inner.handle_async_request(request)
            if request.url.path == "/subscriptions" and request.method == "GET":
                self.pages += 1
                if self.pages == 1:
                    harness[0].app.state.tokens.expire_all()
                elif self.pages == 3:
                    harness[0].clock.advance(100)  # and past ExpiresIn, too
            return response

    async def scenario(h: Harness) -> None:
        harness.append(h)
        for n in range(7001, 7006):
            await create(h, n)
        before = h.store.logins
        observed = await h.provider.observe()
        assert len(observed.resources) == 5
        assert h.store.logins == before + 2

    run(scenario, options={"page_size": 1, "concurrency": 1}, wrap=ExpireAfterFirstPage,
        token_ttl=100)


# -- credentials, health, faults ---------------------------------------------------------------


@pytest.mark.parametrize(("key", "secret"), [(KEY, "wrong-secret-value"),
                                             ("wrong-key-value", SECRET)])
def test_wrong_credentials_fail_check_clearly_without_secrets(key: str, secret: str) -> None:
    async def scenario(h: Harness) -> None:
        health = await h.provider.check()
        assert not health.ok
        assert health.message.startswith(f"{NAME}: the campsoft platform refused the credentials")
        assert "credentials.api_key" in health.message
        for value in (key, secret, KEY, SECRET):
            assert value not in health.message
        with pytest.raises(errors.AuthError) as caught:
            await h.provider.observe()
        text = f"{caught.value} {caught.value!r} {caught.value.detail}"
        assert caught.value.status == 401 and key not in text and secret not in text
        assert h.slept == [] and h.store.logins == 0
        assert h.requests() == {"POST /authentication": 2}  # one refused login per call

    run(scenario, key=key, secret=secret)


def test_check_reports_active_products() -> None:
    async def scenario(h: Harness) -> None:
        health = await h.provider.check()
        assert health.ok and health.details == {"products": 3}
        assert health.message == f"{NAME}: campsoft answered with 3 active products"
        assert h.store.logins == 1

    run(scenario)


def test_catalogs_lists_the_active_products() -> None:
    async def scenario(h: Harness) -> None:
        catalogs = await h.provider.catalogs()
        assert catalogs == {"products": (
            {"code": "1234567", "name": "Campsoft Livros Digitais"},
            {"code": "7654321", "name": "Campsoft Livros Digitais Premium"},
            {"code": "2468013", "name": "Campsoft Kids"},
        )}
        await h.admin("POST", "/_sim/config", json={"products": [
            {"code": "1000001", "name": "Novo", "status": "active"}]})
        assert await h.provider.catalogs() == {"products": ({"code": "1000001",
                                                             "name": "Novo"},)}

    run(scenario)


def test_no_secret_token_or_password_in_any_error() -> None:
    seen: list[str] = []
    collect = collector(seen)

    async def scenario(h: Harness) -> None:
        await create(h)
        await collect(create(h, 7002, phone=None))
        await collect(create(h, 7003, product="1111111"))
        await collect(h.provider.execute(change(Action.SUSPEND, [key_of(9)])))
        await h.provider.execute(change(Action.DELETE, [K1]))
        await collect(h.provider.execute(change(Action.UPDATE, [K1], AFTER, ATTRS)))
        await h.admin("POST", "/_sim/config", json={"error_rate": 1.0})
        await collect(h.provider.observe())
        seen.append((await h.provider.check()).message)
        seen.append(repr(h.provider))
        seen.append(repr(h.provider._client))
        tokens.extend(h.provider.token.seen)

    tokens: list[str] = []
    run(scenario, max_attempts=2)
    assert len(seen) == 8 and tokens
    for secret in (KEY, SECRET, CPF_DIGITS, *tokens):
        assert all(secret not in text for text in seen), secret


def test_construction_checks_credentials_endpoint_and_options() -> None:
    embedded = Integration(NAME, "campsoft", "embedded", {})
    transport = httpx.ASGITransport(app=create_app(SECRET))
    with pytest.raises(errors.AuthError, match=r"credentials\.api_key is missing"):
        CampsoftProvider(embedded, {"api_secret": SECRET}, transport)
    with pytest.raises(errors.AuthError, match=r"credentials\.api_secret is missing"):
        CampsoftProvider(embedded, {"api_key": KEY, "api_secret": ""}, transport)
    with pytest.raises(errors.ReconcilerError, match="http"):
        CampsoftProvider(embedded, {"api_key": KEY, "api_secret": SECRET})
    for options, name in (({"page_size": 0}, "page_size"), ({"concurrency": 65}, "concurrency"),
                          ({"isp_identifier": 7}, "isp_identifier")):
        bad = Integration(NAME, "campsoft", "embedded", {}, options)
        with pytest.raises(errors.ReconcilerError, match=name):
            CampsoftProvider(bad, {"api_key": KEY, "api_secret": SECRET}, transport)
    ignored = Integration(NAME, "campsoft", "embedded", {}, {"suspend_on_delinquency": True})
    provider = build_provider(ignored, {"api_key": KEY, "api_secret": SECRET}, transport)
    assert isinstance(provider, CampsoftProvider) and provider.page_size == 500
    assert provider.concurrency == 4
    assert split_key("7001/livros-7001") == ("7001", "livros-7001")
