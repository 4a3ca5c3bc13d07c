"""The shared HTTP layer: which answers become which errors, and how temporary ones are retried."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from reconciler import errors
from reconciler.providers.http import ApiClient, retry_after_seconds

TOKEN = "http-layer-secret-token"


class Recorder:
    """A scripted platform: answers in order (the last one repeats) and counts requests."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers[min(len(self.requests), len(self.answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer


def call(
    platform: Recorder,
    *,
    max_attempts: int = 5,
    accept: Collection[int] = (),
    rand: Callable[[], float] = lambda: 1.0,
) -> tuple[httpx.Response | errors.ProviderError, list[float]]:
    """One request through an ApiClient; returns the response or the error, and the sleeps."""
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async def main() -> httpx.Response | errors.ProviderError:
        api = ApiClient(
            "http://platform.test/base",
            integration="stfc-sp",
            headers={"Authorization": f"Bearer {TOKEN}"},
            secrets=(TOKEN,),
            transport=httpx.MockTransport(platform),
            max_attempts=max_attempts,
            sleep=sleep,
            rand=rand,
        )
        try:
            return await api.request("POST", "/api/numeros", json={"a": 1}, accept=accept)
        except errors.ProviderError as exc:
            return exc
        finally:
            await api.aclose()

    return asyncio.run(main()), slept


def answer(status: int, body: Any = None, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body if body is not None else {"erro": "x"}, headers=headers)


OK = httpx.Response(200, json={"ok": True})


def test_success_needs_one_request_under_the_base_path() -> None:
    platform = Recorder(OK)
    result, slept = call(platform)
    assert isinstance(result, httpx.Response) and result.json() == {"ok": True}
    assert slept == [] and len(platform.requests) == 1
    assert str(platform.requests[0].url) == "http://platform.test/base/api/numeros"
    assert platform.requests[0].headers["authorization"] == f"Bearer {TOKEN}"


def test_429_is_retried_after_what_retry_after_asks() -> None:
    platform = Recorder(answer(429, **{"Retry-After": "3"}), answer(429, **{"Retry-After": "0"}),
                        OK)
    result, slept = call(platform)
    assert isinstance(result, httpx.Response)
    assert slept == [3.0, 0.0] and len(platform.requests) == 3


def test_retry_after_is_capped() -> None:
    _, slept = call(Recorder(answer(503, **{"Retry-After": "3600"}), OK))
    assert slept == [30.0]


def test_503_backs_off_exponentially_with_full_jitter() -> None:
    platform = Recorder(answer(503), answer(502), answer(500), answer(504), OK)
    result, slept = call(platform)
    assert isinstance(result, httpx.Response)
    assert slept == pytest.approx([0.2, 0.4, 0.8, 1.6])  # rand() == 1.0: the ceilings
    _, jittered = call(Recorder(answer(503), answer(503), OK), rand=lambda: 0.5)
    assert jittered == pytest.approx([0.1, 0.2])


@pytest.mark.parametrize(
    "failure",
    [httpx.ReadTimeout("slow"), httpx.ConnectTimeout("slow"), httpx.ConnectError("refused"),
     httpx.RemoteProtocolError("dropped")],
)
def test_timeouts_and_dropped_connections_are_retried(failure: Exception) -> None:
    platform = Recorder(failure, failure, OK)
    result, slept = call(platform)
    assert isinstance(result, httpx.Response) and len(slept) == 2


def test_gives_up_after_max_attempts_with_the_last_error() -> None:
    platform = Recorder(answer(503, {"erro": "indisponivel"}, **{"Retry-After": "2"}))
    result, slept = call(platform, max_attempts=3)
    assert isinstance(result, errors.TemporaryError)
    assert len(platform.requests) == 3 and slept == [2.0, 2.0]
    assert (result.status, result.retry_after) == (503, 2.0)
    assert "still failing after 3 attempts" in str(result) and "indisponivel" in str(result)
    assert str(result).startswith("[stfc-sp] POST /api/numeros")


def test_gives_up_on_timeouts_too() -> None:
    result, slept = call(Recorder(httpx.ReadTimeout("slow")), max_attempts=2)
    assert isinstance(result, errors.TemporaryError) and len(slept) == 1
    assert "ReadTimeout" in result.detail


@pytest.mark.parametrize(
    ("status", "kind"),
    [(400, errors.RejectedError), (401, errors.AuthError), (403, errors.AuthError),
     (404, errors.NotFoundError), (409, errors.ConflictError), (422, errors.RejectedError),
     (418, errors.ProviderError)],
)
def test_client_errors_are_typed_and_never_retried(status: int, kind: type) -> None:
    platform = Recorder(answer(status, {"erro": "e", "mensagem": "m"}))
    result, slept = call(platform)
    assert type(result) is kind
    assert isinstance(result, errors.ProviderError) and result.status == status
    assert slept == [] and len(platform.requests) == 1
    assert '"erro":"e"' in result.detail


def test_accepted_statuses_come_back_as_responses() -> None:
    result, _ = call(Recorder(answer(409, {"erro": "ja_vinculado"})), accept={409})
    assert isinstance(result, httpx.Response) and result.json()["erro"] == "ja_vinculado"


def test_bodies_are_cut_and_secrets_never_reach_messages() -> None:
    echo = httpx.Response(422, text=f"you sent {TOKEN} " + "x" * 1000)
    result, _ = call(Recorder(echo))
    assert isinstance(result, errors.RejectedError)
    assert len(result.detail) <= 256
    assert TOKEN not in str(result) and "********" in str(result)
    assert "authorization" not in str(result).lower()


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=60), usegmt=True)
    assert 55 <= (retry_after_seconds(later) or 0) <= 60
    assert retry_after_seconds(format_datetime(datetime(2000, 1, 1, tzinfo=UTC), usegmt=True)) == 0


def test_client_repr_hides_headers() -> None:
    api = ApiClient("http://platform.test", headers={"Authorization": f"Bearer {TOKEN}"})
    assert TOKEN not in repr(api)
    asyncio.run(api.aclose())


def test_values_masked_later_are_scrubbed_like_the_secrets_given_at_construction() -> None:
    client = ApiClient("http://platform", secrets=(TOKEN,))
    client.mask("rotated-refresh-1", "", TOKEN)
    text = client.scrub(f"{TOKEN} rotated-refresh-1 plain")
    assert text == "******** ******** plain"
    asyncio.run(client.aclose())
