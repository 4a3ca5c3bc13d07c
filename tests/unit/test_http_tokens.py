"""Expiring access tokens in the shared HTTP layer: renewed before they lapse, once more when
refused, shared by concurrent requests, masked in errors, and a failing login not retried twice."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from reconciler import errors
from reconciler.providers.http import MASK, ApiClient
from reconciler.providers.tokens import AccessToken, Issued


class Platform:
    """A scripted platform with a login: issues tok-1, tok-2...; accepts only ``valid``."""

    def __init__(self, *, login_status: int = 200, refuse_all: bool = False) -> None:
        self.login_status = login_status
        self.refuse_all = refuse_all
        self.logins = 0
        self.valid: set[str] = set()
        self.seen: list[str | None] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/login":
            self.logins += 1
            if self.login_status != 200:
                return httpx.Response(self.login_status, json={"message": "busy"})
            token = f"tok-{self.logins}"
            self.valid.add(token)
            return httpx.Response(200, json={"token": token})
        auth = request.headers.get("authorization", "")
        self.seen.append(auth.removeprefix("Bearer ") or None)
        if self.refuse_all or auth.removeprefix("Bearer ") not in self.valid:
            return httpx.Response(401, json={"message": f"bad token {auth}"})
        return httpx.Response(200, json={"ok": True})


def client(platform: Platform, *, now: list[float], ttl: float = 100.0,
           max_attempts: int = 3) -> ApiClient:
    api: ApiClient

    async def login() -> Issued:
        response = await api.request("POST", "/login", auth=False)
        return Issued(response.json()["token"], now[0] + ttl)

    async def no_sleep(_: float) -> None:
        return None

    api = ApiClient("http://platform", transport=httpx.MockTransport(platform),
                    max_attempts=max_attempts, sleep=no_sleep,
                    token=AccessToken(login, clock=lambda: now[0], skew=10.0))
    return api


def test_the_token_is_fetched_once_and_renewed_before_it_expires() -> None:
    platform, now = Platform(), [1000.0]

    async def run() -> None:
        api = client(platform, now=now)
        await api.request("GET", "/x")
        await api.request("GET", "/x")
        now[0] += 95  # within the 10 s skew of the 100 s expiry: renew before sending
        await api.request("GET", "/x")
        await api.aclose()

    asyncio.run(run())
    assert platform.logins == 2
    assert platform.seen == ["tok-1", "tok-1", "tok-2"]


def test_a_refused_token_is_renewed_once_and_the_request_sent_again() -> None:
    platform, now = Platform(), [1000.0]

    async def run() -> httpx.Response:
        api = client(platform, now=now)
        await api.request("GET", "/x")
        platform.valid.clear()  # revoked behind our back, long before its expiry
        response = await api.request("GET", "/x")
        await api.aclose()
        return response

    assert asyncio.run(run()).status_code == 200
    assert platform.logins == 2
    assert platform.seen == ["tok-1", "tok-1", "tok-2"]


def test_a_token_refused_twice_is_an_auth_error_with_every_token_masked() -> None:
    platform, now = Platform(refuse_all=True), [1000.0]

    async def run() -> None:
        api = client(platform, now=now)
        try:
            await api.request("GET", "/x")
        finally:
            await api.aclose()

    with pytest.raises(errors.AuthError) as caught:
        asyncio.run(run())
    assert platform.logins == 2  # one renewal, not a loop
    text = f"{caught.value} {caught.value.detail}"
    assert "tok-1" not in text and "tok-2" not in text
    assert MASK in text


def test_concurrent_requests_share_one_login() -> None:
    platform, now = Platform(), [1000.0]

    async def run() -> None:
        api = client(platform, now=now)
        await asyncio.gather(*(api.request("GET", "/x") for _ in range(20)))
        await api.aclose()

    asyncio.run(run())
    assert platform.logins == 1
    assert len(platform.seen) == 20


def test_a_login_that_keeps_failing_is_retried_by_itself_only() -> None:
    platform, now = Platform(login_status=503), [1000.0]

    async def run() -> None:
        api = client(platform, now=now, max_attempts=3)
        try:
            await api.request("GET", "/x")
        finally:
            await api.aclose()

    with pytest.raises(errors.TemporaryError):
        asyncio.run(run())
    assert platform.logins == 3  # max_attempts, not max_attempts squared
    assert platform.seen == []
