"""What every provider and every simulator must do, tested once for every registered platform.

Each test runs for each platform of :func:`reconciler.platforms.registry.every` (ids: the
platform names), through the platform's adapter (:mod:`tests.contract.platforms`); a platform
without one fails here. Providers talk real HTTP to their simulator through the in-process ASGI
transport; what only one platform does stays in its own test files.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from reconciler import errors
from reconciler.bounds import MAX_REQUEST_BYTES
from reconciler.model import Integration
from reconciler.platforms import registry
from reconciler.platforms.descriptor import Platform
from reconciler.sim import simulator
from reconciler.sim.clock import FakeClock
from reconciler.sim.faults import FAULT_SETTINGS, Faults, SimTransport
from reconciler.sim.serve import build_app
from tests.contract.gauge import Gauges
from tests.contract.harness import collector
from tests.contract.platforms import Adapter, adapter_for

PLATFORMS = registry.every()
NAME = "conformance"
LIMIT = 30.0  # seconds any one scenario may take, faults included
Wrap = Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport]


@pytest.fixture(params=PLATFORMS, ids=[p.name for p in PLATFORMS])
def platform(request: pytest.FixtureRequest) -> Platform:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def adapter(platform: Platform) -> Adapter:
    return adapter_for(platform.name)


def test_every_registered_platform_has_an_adapter_provider_and_simulator(
    platform: Platform, adapter: Adapter,
) -> None:
    assert platform.provider and platform.simulator, platform.name
    ways = platform.credential_choices or (platform.credentials,)
    assert set(adapter.credentials) in [set(way) for way in ways]


class Rig:
    """A platform's simulator and a provider bound to it, with the backoff sleeps recorded."""

    def __init__(self, platform: Platform, adapter: Adapter, *, faults: Faults | None = None,
                 options: dict[str, Any] | None = None, wrap: Wrap | None = None,
                 credentials: dict[str, str] | None = None, max_attempts: int = 5,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.adapter, self.clock, self.slept = adapter, FakeClock(), list[float]()
        self.app: Starlette = adapter.app(self.clock, faults)
        inner = transport or SimTransport(app=self.app)
        self.transport = wrap(inner) if wrap is not None else inner
        integration = Integration(NAME, platform.name, "embedded", {},
                                  {**adapter.options, **(options or {})})
        self.provider: Any = platform.provider_class()(  # type: ignore[call-arg]
            integration, dict(credentials or adapter.credentials), self.transport,
            max_attempts=max_attempts, sleep=self._sleep, clock=self.clock.now)

    async def _sleep(self, seconds: float) -> None:
        self.slept.append(seconds)

    @property
    def logins(self) -> int:
        """Tokens the platform issued: logins, and refreshes where tokens renew without one."""
        store = self.app.state.store
        return int(getattr(store, "logins", 0)) + int(getattr(store, "refreshes", 0))

    def secrets(self) -> list[str]:
        token = self.provider.token
        return [*self.adapter.credentials.values(), *(token.seen if token is not None else ())]


def drive(rig: Rig, scenario: Callable[[Rig], Awaitable[None]]) -> Rig:
    """Run ``scenario`` within :data:`LIMIT` seconds, closing the provider whatever happens."""

    async def main() -> None:
        try:
            await asyncio.wait_for(scenario(rig), LIMIT)
        finally:
            await rig.provider.aclose()

    asyncio.run(main())
    return rig


class Forced(httpx.AsyncBaseTransport):
    """Answers ``status`` to every call but logins once ``armed``; counts the calls it forced."""

    def __init__(self, inner: httpx.AsyncBaseTransport, status: int, login: str | None,
                 armed: bool = True, renew: str | None = None) -> None:
        self.inner, self.status, self.armed, self.forced = inner, status, armed, 0
        self.auth = {path for path in (login, renew) if path}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self.armed or request.url.path in self.auth:
            return await self.inner.handle_async_request(request)
        self.forced += 1
        headers = {"Retry-After": "2"} if self.status == 429 else {}
        return httpx.Response(self.status, json={"erro": "forced", "message": "forced"},
                              headers=headers)


# -- provider: observe -------------------------------------------------------------------------


def test_observe_reads_every_page_once_within_the_concurrency_bound(
    platform: Platform, adapter: Adapter,
) -> None:
    gauges = Gauges()
    keys: set[str] = set()

    async def scenario(rig: Rig) -> None:
        keys.update(adapter.seed(rig.app, 11))
        observed = await rig.provider.observe()
        assert sorted(r.key for r in observed.resources.values()) == sorted(keys)
        listed = rig.app.state.store.requests[f"GET {adapter.listing[0]}"]
        assert listed == 6  # pages of 2: each read once

    drive(Rig(platform, adapter, options={"page_size": 2, "concurrency": 3}, wrap=gauges),
          scenario)
    assert len(keys) == 11 and gauges.peak == 3


def test_a_failing_later_page_raises_its_typed_error(platform: Platform, adapter: Adapter) -> None:
    class FailLaterPages(httpx.AsyncBaseTransport):
        def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
            self.inner, self.pages = inner, 0

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.method == "GET" and request.url.path == adapter.listing[0]:
                self.pages += 1
                if self.pages > 1:
                    return httpx.Response(422, json={"erro": "x", "message": "nope"})
            return await self.inner.handle_async_request(request)

    async def scenario(rig: Rig) -> None:
        adapter.seed(rig.app, 5)
        with pytest.raises(errors.RejectedError, match=f"GET {adapter.listing[0]}"):
            await rig.provider.observe()

    drive(Rig(platform, adapter, options={"page_size": 1}, wrap=FailLaterPages), scenario)


# -- provider: writes are safe to repeat -------------------------------------------------------


def test_the_same_create_twice_counts_as_done_and_holds_one_object(
    platform: Platform, adapter: Adapter,
) -> None:
    async def scenario(rig: Rig) -> None:
        change = adapter.create(NAME)
        first = await rig.provider.execute(change)
        again = await rig.provider.execute(change)
        assert not first.failed and again == first
        assert rig.adapter.held(rig.app) == len(change.keys)
        assert all(ops.get(max(ops, key=ops.get)) == 1 for ops in rig.app.state.store.writes.values())

    drive(Rig(platform, adapter), scenario)


def test_a_create_whose_response_was_lost_is_retried_into_one_object(
    platform: Platform, adapter: Adapter,
) -> None:
    class LoseFirstWrite(httpx.AsyncBaseTransport):
        def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
            self.inner, self.lost = inner, 0

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            response = await self.inner.handle_async_request(request)
            if request.method != "GET" and request.url.path != adapter.login and not self.lost:
                self.lost += 1
                raise httpx.RemoteProtocolError("the platform did it, the answer was lost")
            return response

    async def scenario(rig: Rig) -> None:
        change = adapter.create(NAME)
        applied = await rig.provider.execute(change)
        assert not applied.failed and len(rig.slept) == 1  # retried once
        assert rig.adapter.held(rig.app) == len(change.keys)
        assert applied == await rig.provider.execute(change)

    drive(Rig(platform, adapter, wrap=LoseFirstWrite), scenario)


# -- provider: HTTP statuses become typed errors -----------------------------------------------


@pytest.mark.parametrize(("status", "expected"), [
    (401, errors.AuthError), (403, errors.AuthError), (404, errors.NotFoundError),
    (409, errors.ConflictError), (422, errors.RejectedError), (429, errors.TemporaryError),
    (500, errors.TemporaryError), (503, errors.TemporaryError),
])
def test_statuses_map_to_typed_errors_and_only_temporary_ones_are_retried(
    platform: Platform, adapter: Adapter, status: int, expected: type[errors.ProviderError],
) -> None:
    forced: list[Forced] = []

    def wrap(inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        forced.append(Forced(inner, status, adapter.login, renew=adapter.renew))
        return forced[0]

    async def scenario(rig: Rig) -> None:
        with pytest.raises(expected) as caught:
            await rig.provider.observe()
        assert type(caught.value) is expected and caught.value.status == status
        assert caught.value.integration == NAME
        if expected is errors.TemporaryError:
            assert "still failing after 3 attempts" in str(caught.value)
            assert len(rig.slept) == 2 and forced[0].forced == 3
            assert rig.slept == [2.0, 2.0] if status == 429 else max(rig.slept) <= 0.4
        else:
            assert rig.slept == []
            renewed = status == 401 and adapter.login is not None  # a new token, once
            assert forced[0].forced == (2 if renewed else 1)
            assert rig.logins == (2 if renewed else (1 if adapter.login else 0))

    drive(Rig(platform, adapter, wrap=wrap, max_attempts=3), scenario)


def test_unreachable_platform_is_a_failed_check_not_an_exception(
    platform: Platform, adapter: Adapter,
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    async def scenario(rig: Rig) -> None:
        health = await rig.provider.check()
        assert not health.ok and f"cannot use the {platform.name} platform" in health.message
        assert "still failing after 3 attempts" in health.message and len(rig.slept) == 2

    drive(Rig(platform, adapter, transport=httpx.MockTransport(refuse), max_attempts=3), scenario)


# -- provider: credentials and tokens ----------------------------------------------------------


def test_wrong_credentials_are_an_auth_error_and_a_failed_check_never_retried(
    platform: Platform, adapter: Adapter,
) -> None:
    for wrong in adapter.wrong:
        async def scenario(rig: Rig, wrong: Mapping[str, str] = wrong) -> None:
            health = await rig.provider.check()
            assert not health.ok and health.details == {}
            with pytest.raises(errors.AuthError) as caught:
                await rig.provider.observe()
            assert caught.value.status == 401
            text = f"{health.message} {caught.value} {caught.value!r} {caught.value.detail}"
            assert all(value not in text for value in (*wrong.values(), *rig.secrets()))
            assert rig.slept == [] and rig.logins == 0

        drive(Rig(platform, adapter, credentials=dict(wrong)), scenario)


def test_a_token_revoked_or_expired_mid_run_is_renewed_with_one_login(
    platform: Platform, adapter: Adapter,
) -> None:
    revoke: list[Callable[[], None]] = []

    class RevokeAfterFirstPage(httpx.AsyncBaseTransport):
        def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
            self.inner, self.pages = inner, 0

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            response = await self.inner.handle_async_request(request)
            if request.method == "GET" and request.url.path == adapter.listing[0]:
                self.pages += 1
                if self.pages == 1:
                    revoke[0]()
            await asyncio.sleep(0.001)  # let the concurrent pages overlap
            return response

    async def scenario(rig: Rig) -> None:
        keys = adapter.seed(rig.app, 12)
        if adapter.login is None:  # a static token: a refusal is final
            assert rig.provider.token is None
            revoke.append(lambda: None)
            assert len((await rig.provider.observe()).resources) == 12
            rig.transport.inner = Forced(rig.transport.inner, 401, None)  # type: ignore[attr-defined]
            with pytest.raises(errors.AuthError):
                await rig.provider.observe()
            assert rig.slept == []
            return
        revoke.append(rig.app.state.tokens.expire_all)
        observed = await rig.provider.observe()  # pages 2.. in flight with a revoked token
        assert {r.key for r in observed.resources.values()} == keys
        assert rig.logins == 2 and rig.provider.token.logins == 2
        rig.clock.advance(7 * 86_400)  # past any token's life, on both clocks
        revoke[0] = lambda: None
        assert len((await rig.provider.observe()).resources) == 12
        assert rig.logins == 3 and rig.slept == []

    drive(Rig(platform, adapter, options={"page_size": 2, "concurrency": 4},
              wrap=RevokeAfterFirstPage), scenario)


def test_no_credential_or_token_in_any_error_repr_or_log(
    platform: Platform, adapter: Adapter, caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[str] = []
    collect = collector(seen)
    caplog.set_level(logging.DEBUG)

    forced: list[Forced] = []

    def wrap(inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        forced.append(Forced(inner, 404, adapter.login, armed=False, renew=adapter.renew))
        return forced[0]

    async def scenario(rig: Rig) -> None:
        await rig.provider.execute(adapter.create(NAME))
        for status in (401, 404, 409, 503):
            forced[0].armed, forced[0].status = True, status
            await collect(rig.provider.observe())
        seen.append((await rig.provider.check()).message)
        forced[0].armed = False
        seen.append(repr(rig.provider))
        seen.append(repr(rig.provider._client))

    rig = drive(Rig(platform, adapter, wrap=wrap, max_attempts=2), scenario)
    assert len(seen) == 7 and caplog.text
    for secret in rig.secrets():
        assert all(secret not in text for text in (*seen, caplog.text)), secret


def test_construction_checks_credentials_endpoint_and_paging_options(
    platform: Platform, adapter: Adapter,
) -> None:
    cls: Any = platform.provider_class()
    embedded = Integration(NAME, platform.name, "embedded", {})
    transport = httpx.ASGITransport(app=adapter.app(FakeClock(), None))
    for field in adapter.credentials:  # each field of the way the adapter logs in
        for value in (None, ""):
            credentials = {**adapter.credentials, field: value}
            with pytest.raises(errors.AuthError, match=f"credentials.{field} is missing"):
                cls(embedded, {k: v for k, v in credentials.items() if v is not None}, transport)
    with pytest.raises(errors.ReconcilerError, match="http"):
        cls(embedded, adapter.credentials)
    for options, what in (({"page_size": 0}, "page_size"), ({"page_size": 5000}, "page_size"),
                          ({"concurrency": 65}, "concurrency")):
        bad = Integration(NAME, platform.name, "embedded", {}, options)
        with pytest.raises(errors.ReconcilerError, match=what):
            cls(bad, adapter.credentials, transport)
    provider = cls(Integration(NAME, platform.name, "https://example.invalid", {}),
                   adapter.credentials)
    assert (provider.page_size, provider.concurrency, provider.name) == (500, 4, NAME)
    asyncio.run(provider.aclose())


# -- provider: faults --------------------------------------------------------------------------


def test_observe_and_writes_survive_the_fault_layer(platform: Platform, adapter: Adapter) -> None:
    faults = Faults(seed=7, error_rate=0.15, rate_limit_rate=0.1, drop_rate=0.05,
                    lost_response_rate=0.1)

    async def scenario(rig: Rig) -> None:
        keys = adapter.seed(rig.app, 10)
        observed = await rig.provider.observe()
        assert {r.key for r in observed.resources.values()} == keys
        change = adapter.create(NAME)
        for _ in range(2):
            assert not (await rig.provider.execute(change)).failed
        assert adapter.held(rig.app) == 10 + len(change.keys)
        assert rig.slept and len(rig.slept) < 100  # retried, within bounds

    drive(Rig(platform, adapter, faults=faults, options={"page_size": 3}, max_attempts=12),
          scenario)


# -- simulator ---------------------------------------------------------------------------------


def sim(adapter: Adapter, scenario: Callable[[Starlette, httpx.AsyncClient], Awaitable[None]],
        faults: Faults | None = None) -> Starlette:
    """Run ``scenario`` against a fresh simulator, with a client logged in with good credentials."""
    app = adapter.app(FakeClock(), faults)

    async def main() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://sim") as api:
            api.headers.update(await adapter.headers(api, adapter.credentials))
            await asyncio.wait_for(scenario(app, api), LIMIT)

    asyncio.run(main())
    return app


def test_sim_refuses_missing_and_wrong_credentials(adapter: Adapter) -> None:
    async def scenario(app: Starlette, api: httpx.AsyncClient) -> None:
        method, path = adapter.probe
        assert (await api.request(method, path)).status_code == 200
        logins = [*adapter.wrong, {}]
        for wrong in logins:
            headers = await adapter.headers(api, wrong) if wrong else {"Authorization": ""}
            response = await api.request(method, path, headers=headers or {"Authorization": ""})
            assert response.status_code == 401, wrong
            assert all(value not in response.text for value in adapter.credentials.values())
        assert getattr(app.state.store, "logins", 1) == 1  # only the good login counted

    sim(adapter, scenario)


def test_embedded_app_needs_every_credential(platform: Platform, adapter: Adapter) -> None:
    module = platform.simulator_module()
    assert module is not None and simulator(platform.name) is module
    for field in adapter.credentials:
        for value in (None, ""):
            credentials = {**adapter.credentials, field: value}
            with pytest.raises(errors.SecretError, match=f"credentials.{field}"):
                module.embedded_app({k: v for k, v in credentials.items() if v is not None}, None)
    assert module.embedded_app(adapter.credentials, None).state.store is not None


def test_sim_admin_counts_resets_and_shows_config(adapter: Adapter) -> None:
    async def scenario(app: Starlette, api: httpx.AsyncClient) -> None:
        adapter.seed(app, 3)
        method, path = adapter.probe
        await api.request(method, path)
        await api.request(method, path)
        counters = (await api.get("/_sim/counters")).json()
        assert counters["requests"][f"{method} {path}"] == 2
        assert len(counters["writes"]) == 3 * adapter.writes_per_object
        assert (await api.post("/_sim/reset")).json() == {"reset": True}
        assert adapter.held(app) == 0
        after = (await api.get("/_sim/counters")).json()
        assert (after["requests"], after["writes"], after.get("logins", 0)) == ({}, {}, 0)
        config = (await api.get("/_sim/config")).json()
        assert set(FAULT_SETTINGS) - {"seed"} <= set(config)
        assert (await api.request(method, path)).status_code == 200  # the login survives a reset

    sim(adapter, scenario)


COMMON_BAD_SETTINGS = [{"error_rate": 0.7, "rate_limit_rate": 0.5}, {"latency": "slow"},
                       {"unknown": 1}, {"seed": 1.5}, {"error_rate": 2}]


def test_sim_config_refuses_bad_settings_and_changes_nothing(adapter: Adapter) -> None:
    async def scenario(app: Starlette, api: httpx.AsyncClient) -> None:
        before = (await api.get("/_sim/config")).json()
        for settings in (*COMMON_BAD_SETTINGS, *adapter.bad_settings):
            response = await api.post("/_sim/config", json=settings)
            assert response.status_code == 422 and adapter.code(response), settings
            assert adapter.code(response) in (adapter.invalid_code, response.json().get("message"))
            assert (await api.get("/_sim/config")).json() == before, settings

    sim(adapter, scenario)


def test_sim_listing_refuses_bad_parameters(adapter: Adapter) -> None:
    async def scenario(app: Starlette, api: httpx.AsyncClient) -> None:
        path, refused = adapter.listing
        assert (await api.get(path)).status_code == 200
        for params in refused:
            response = await api.get(path, params=params)
            assert response.status_code == adapter.refused[0], params
            assert adapter.code(response) in (adapter.refused[1], response.json().get("message"))

    sim(adapter, scenario)


def test_sim_refuses_a_body_over_the_limit_announced_or_streamed(adapter: Adapter) -> None:
    async def stream() -> AsyncIterator[bytes]:
        for _ in range(MAX_REQUEST_BYTES // 65_536 + 1):
            yield b" " * 65_536

    async def scenario(app: Starlette, api: httpx.AsyncClient) -> None:
        path = adapter.listing[0]
        announced = await api.post(path, content=b"{" + b" " * MAX_REQUEST_BYTES + b"}")
        streamed = await api.post(path, content=stream())
        for response in (announced, streamed):
            assert response.status_code == 413 and str(MAX_REQUEST_BYTES) in response.text
        assert adapter.held(app) == 0

    sim(adapter, scenario)


def test_sim_faults_hit_platform_routes_but_spare_admin_paths(adapter: Adapter) -> None:
    async def scenario(app: Starlette, api: httpx.AsyncClient) -> None:
        method, path = adapter.probe
        before = dict(app.state.store.requests)
        await api.post("/_sim/config", json={"error_rate": 1.0, "seed": 3})
        refused = await api.request(method, path)
        assert refused.status_code == 503
        assert (await api.get("/_sim/counters")).status_code == 200
        assert dict(app.state.store.requests) == before  # never reached the platform
        await api.post("/_sim/config", json={"error_rate": 0.0, "rate_limit_rate": 1.0})
        limited = await api.request(method, path)
        assert (limited.status_code, limited.headers["retry-after"]) == (429, "1")
        await api.post("/_sim/config", json={"rate_limit_rate": 0.0})
        assert (await api.request(method, path)).status_code == 200

    sim(adapter, scenario, faults=Faults(seed=3))


def test_sim_faults_are_seeded_and_rate_limits_carry_retry_after(adapter: Adapter) -> None:
    def statuses() -> list[tuple[int, str | None]]:
        out: list[tuple[int, str | None]] = []

        async def scenario(app: Starlette, api: httpx.AsyncClient) -> None:
            await api.post("/_sim/config", json={"error_rate": 0.3, "rate_limit_rate": 0.3,
                                                 "retry_after": 4, "seed": 42})
            for _ in range(60):
                response = await api.request(*adapter.probe)
                out.append((response.status_code, response.headers.get("retry-after")))

        sim(adapter, scenario)
        return out

    first = statuses()
    assert first == statuses()
    assert {status for status, _ in first} == {200, 429, 503}
    assert all((after == "4") == (status == 429) for status, after in first)


def test_sim_latency_is_added_to_api_requests_only(adapter: Adapter) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async def scenario(app: Starlette, api: httpx.AsyncClient) -> None:
        slept.clear()  # the login, if any, was an API request too
        await api.request(*adapter.probe)
        await api.get("/_sim/counters")
        await api.get(adapter.listing[0])

    sim(adapter, scenario, faults=Faults(latency=0.25, sleep=sleep))
    assert slept == [0.25, 0.25]


def test_build_app_wires_the_token_seed_faults_and_options(
    platform: Platform, adapter: Adapter,
) -> None:
    option, value, read = adapter.sim_option
    app = build_app(platform.name, token="served-token-1234", seed=1,
                    faults={"error_rate": 0.5}, options={option: value})
    assert app.state.faults.error_rate == 0.5 and read(app) == value
    with pytest.raises(errors.ReconcilerError, match="error_rate"):
        build_app(platform.name, faults={"error_rate": 2})
