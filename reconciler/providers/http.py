"""The HTTP layer every provider shares: status-to-error mapping, and retries with backoff.

Providers speak their platform's wire format; this module makes every platform fail the same
way. A response outside 2xx becomes one of :mod:`reconciler.errors` (401/403 AuthError, 404
NotFoundError, 409 ConflictError, 400/422 RejectedError, 429/5xx TemporaryError), and a timeout
or dropped connection becomes a TemporaryError too. Temporary errors are retried with
exponential backoff and full jitter, waiting what ``Retry-After`` asks (capped) when the platform
says so; after ``max_attempts`` the last one is raised. Every attempt first draws from the
integration's rate budget (:mod:`reconciler.providers.ratelimit`), when it has one.

Retrying writes is safe only because every provider's ``execute`` treats the platform's
duplicate and already-done answers as success (the Provider protocol requires it).

Error messages carry the method, the path and at most 256 characters of the response body,
never request headers, and any credential the client was given is masked out of them.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Collection, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from reconciler import errors
from reconciler.providers.ratelimit import RateBudget
from reconciler.providers.tokens import AccessToken

log = logging.getLogger(__name__)

MASK = "********"
BODY_LIMIT = 256
Sleep = Callable[[float], Awaitable[None]]

_BY_STATUS: dict[int, tuple[type[errors.ProviderError], str]] = {
    400: (errors.RejectedError, "the platform rejected the request"),
    401: (errors.AuthError, "the platform refused the credentials; check the integration's token"),
    403: (errors.AuthError, "the credentials lack permission for this operation"),
    404: (errors.NotFoundError, "not found on the platform"),
    409: (errors.ConflictError, "the platform refuses this in the object's current state"),
    422: (errors.RejectedError, "the platform rejected the request"),
    429: (errors.TemporaryError, "rate limited by the platform"),
}


class ApiClient:
    """An httpx.AsyncClient that raises typed errors and retries what is worth retrying.

    ``secrets`` are values to mask in any error text (the token in ``headers``, typically).
    ``token``, for platforms with a login step, is sent as ``Authorization: Bearer`` (or with
    the ``scheme`` given, or raw when it is empty: OZmap) on every
    request but the login itself (``request(..., auth=False)``); a 401 renews it once and sends
    the request again, so an expired or revoked token never fails a run by itself.
    ``sleep`` and ``rand`` are injectable so tests neither wait nor depend on chance.
    """

    def __init__(
        self,
        base_url: str,
        *,
        integration: str = "",
        headers: Mapping[str, str] | None = None,
        secrets: Collection[str] = (),
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
        max_attempts: int = 5,
        backoff_base: float = 0.2,
        backoff_cap: float = 30.0,
        sleep: Sleep | None = None,
        rand: Callable[[], float] | None = None,
        rate: RateBudget | None = None,
        token: AccessToken | None = None,
        scheme: str = "Bearer",
    ) -> None:
        self.integration = integration
        self.token = token
        self.scheme = scheme  # how the token is sent: "Bearer <token>", or raw when empty
        self.rate = rate
        self.max_attempts = max(1, max_attempts)
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._sleep = sleep or asyncio.sleep
        self._rand = rand or random.random
        self._secrets = tuple(s for s in secrets if s)
        self._client = httpx.AsyncClient(
            base_url=base_url, headers=dict(headers or {}), transport=transport, timeout=timeout
        )

    def __repr__(self) -> str:
        return f"ApiClient({str(self._client.base_url)!r}, integration={self.integration!r})"

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        accept: Collection[int] = (),
        auth: bool = True,
    ) -> httpx.Response:
        """Send a request until it gets a final answer.

        Returns the response when it is 2xx or its status is in ``accept`` (for callers that
        read the platform's error code, e.g. a 409 meaning "already done"); raises the mapped
        error otherwise. Temporary errors are retried up to ``max_attempts`` in all.
        """
        renewed = False
        attempt = 1
        while True:
            # Outside the retry: a login that keeps failing was already retried by itself.
            token = await self.token.value() if self.token is not None and auth else None
            try:
                return await self._once(method, path, json=json, params=params, accept=accept,
                                        token=token)
            except errors.AuthError as exc:
                if renewed or exc.status != 401 or token is None:
                    raise
                renewed = True  # the token expired or was revoked: log in again, once
                log.debug("%s %s: token refused; logging in again", method, path)
                continue
            except errors.TemporaryError as exc:
                if attempt == self.max_attempts:
                    raise self._gave_up(exc, method, path) from exc
                delay = self.delay(attempt, exc.retry_after)
                if self.rate is not None and exc.retry_after is not None:
                    self.rate.pause(delay)
                log.debug("%s %s: %s; retry %d in %.2fs", method, path, exc, attempt, delay)
                await self._sleep(delay)
                attempt += 1

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """How long to wait before retry number ``attempt`` (1-based): what the platform asked
        for when it said, else full jitter over an exponential ceiling; both capped."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.backoff_cap)
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        return self._rand() * ceiling

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _once(
        self,
        method: str,
        path: str,
        *,
        json: Any,
        params: Mapping[str, Any] | None,
        accept: Collection[int],
        token: str | None = None,
    ) -> httpx.Response:
        headers = None
        if token is not None:
            headers = {"Authorization": f"{self.scheme} {token}" if self.scheme else token}
        if self.rate is not None:
            await self.rate.acquire()
        try:
            response = await self._client.request(
                method, path, json=json, params=params, headers=headers
            )
        except httpx.TimeoutException as exc:
            raise self._error(errors.TemporaryError, f"{method} {path}: timed out", exc) from None
        except httpx.TransportError as exc:
            message = f"{method} {path}: cannot reach the platform"
            raise self._error(errors.TemporaryError, message, exc) from None
        if response.is_success or response.status_code in accept:
            return response
        if response.status_code == 401 and token is not None:
            assert self.token is not None
            self.token.refused(token)
        raise self.error_for(method, path, response)

    def error_for(self, method: str, path: str, response: httpx.Response) -> errors.ProviderError:
        """The typed error a non-2xx response stands for."""
        status = response.status_code
        cls, what = _BY_STATUS.get(status, (errors.ProviderError, "unexpected platform answer"))
        if status >= 500:
            cls, what = errors.TemporaryError, "the platform failed"
        kwargs: dict[str, Any] = {
            "integration": self.integration,
            "status": status,
            "detail": self.scrub(response.text[:BODY_LIMIT]),
        }
        if cls is errors.TemporaryError:
            kwargs["retry_after"] = retry_after_seconds(response.headers.get("retry-after"))
        return cls(self.scrub(f"{method} {path}: {what}"), **kwargs)

    def _error(
        self, cls: type[errors.TemporaryError], message: str, exc: Exception
    ) -> errors.TemporaryError:
        detail = self.scrub(f"{type(exc).__name__}: {exc}"[:BODY_LIMIT])
        return cls(self.scrub(message), integration=self.integration, detail=detail)

    def _gave_up(
        self, last: errors.TemporaryError, method: str, path: str
    ) -> errors.TemporaryError:
        message = (
            f"{method} {path}: still failing after {self.max_attempts} "
            f"attempt{'s' if self.max_attempts != 1 else ''}; "
            f"the platform is down or overloaded, try again later"
        )
        return errors.TemporaryError(
            self.scrub(message),
            retry_after=last.retry_after,
            integration=self.integration,
            status=last.status,
            detail=last.detail,
        )

    def json_object(self, response: httpx.Response) -> dict[str, Any]:
        """A response's JSON object, or a ProviderError saying the platform answered oddly."""
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            request = response.request
            raise errors.ProviderError(
                f"{request.method} {request.url.path}: the platform did not answer with a JSON "
                f"object",
                integration=self.integration,
                status=response.status_code,
                detail=self.scrub(response.text[:BODY_LIMIT]),
            )
        return body

    def unexpected(self, call: str, body: Any) -> errors.ProviderError:
        """The error for a well-formed answer of the wrong shape."""
        return errors.ProviderError(f"{call}: unexpected response shape",
                                    integration=self.integration,
                                    detail=self.scrub(str(body)[:BODY_LIMIT]))

    def mask(self, *values: str) -> None:
        """Mask ``values`` too from now on: secrets a provider learns after construction (a
        rotated refresh token, a password it is about to send)."""
        self._secrets = (*self._secrets, *(v for v in values if v and v not in self._secrets))

    def scrub(self, text: str) -> str:
        """``text`` with the client's secrets (and every token it was issued) masked."""
        issued = self.token.seen if self.token is not None else ()
        for secret in (*self._secrets, *issued):
            text = text.replace(secret, MASK)
        return text


def retry_after_seconds(value: str | None) -> float | None:
    """A Retry-After header (seconds or an HTTP date) as seconds from now, or None."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
