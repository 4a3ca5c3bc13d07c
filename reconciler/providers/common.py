"""What every provider needs the same way: the HttpProvider base (client, options, dispatch),
the base URL, bounded concurrency, required credentials and the target attributes of a change."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

import httpx

from reconciler import errors
from reconciler.model import Action, Change, Integration
from reconciler.providers.base import Applied, Health
from reconciler.providers.http import ApiClient, Sleep
from reconciler.providers.ratelimit import budget_for
from reconciler.providers.tokens import AccessToken, Issued, Login

T = TypeVar("T")


def base_url(
    integration: Integration, transport: httpx.AsyncBaseTransport | None, embedded: str,
    example: str,
) -> str:
    """The endpoint when it is a URL; the ``embedded`` placeholder when a transport serves it.
    ``example`` shows what a real endpoint of the platform looks like, in the error."""
    if integration.endpoint.startswith(("http://", "https://")):
        return integration.endpoint
    if transport is not None:
        return embedded
    raise errors.ReconcilerError(
        f"integration {integration.name!r}: endpoint {integration.endpoint!r} needs an "
        f"in-process simulator (embedded) or an http(s):// URL such as {example}"
    )


def int_option(integration: Integration, name: str, default: int, low: int, high: int) -> int:
    """A whole-number option within [low, high], or a clear error naming the integration."""
    value = integration.options.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise errors.ReconcilerError(
            f"integration {integration.name!r}: option {name} must be a whole number between "
            f"{low} and {high}, not {value!r}"
        )
    return value


async def bounded(calls: Sequence[Callable[[], Awaitable[T]]], limit: int) -> list[T]:
    """Run ``calls`` at most ``limit`` at a time, results in order; the first failure cancels
    the rest and is raised as itself (callers expect the typed error, not a group)."""
    gate = asyncio.Semaphore(limit)

    async def run(call: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            return await call()

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(run(call)) for call in calls]
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return [task.result() for task in tasks]


def utc_naive(value: Any) -> datetime:
    """A platform's ISO 8601 time (``Z``, an offset, or none: UTC) as the naive UTC datetime the
    state keeps; ValueError when it is not one."""
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo is not None else moment


def target(change: Change) -> Mapping[str, Any]:
    """The attributes a change must leave on the platform (a PlanError when it has none)."""
    if not change.after:
        raise errors.PlanError(f"{change.id}: the change carries no target attributes")
    return change.after


def required(credentials: Mapping[str, str], fields: tuple[str, ...], integration: str) -> None:
    """An AuthError naming the first credential field that is missing or empty."""
    for name in fields:
        if not credentials.get(name):
            raise errors.AuthError(f"credentials.{name} is missing; set it in the integration",
                                   integration=integration)


def answer_json(response: httpx.Response) -> Any:
    """A response's JSON, or None when it is not JSON (an HTML error page, an empty body)."""
    try:
        return response.json()
    except ValueError:
        return None


def answer_field(response: httpx.Response, name: str) -> str:
    """One field of a JSON object answer as text (the platform's error code or message), ""
    when the answer has none."""
    body = answer_json(response)
    value = body.get(name) if isinstance(body, dict) else None
    return str(value) if value else ""


Handler = Callable[[Change], Awaitable[Applied]]


@dataclass(frozen=True)
class Auth:
    """How a provider authenticates, as its :meth:`HttpProvider._auth` hook returns it: static
    ``headers`` (a fixed token), the ``secrets`` to mask from every error, and, for a platform
    with a login step, the ``login`` that issues its expiring access token."""

    secrets: tuple[str, ...]
    headers: Mapping[str, str] = field(default_factory=dict)
    login: Login | None = None
    scheme: str = "Bearer"  # how the access token is sent; raw when empty


class HttpProvider:
    """What every provider over HTTP shares: its integration and name, the constructor every
    provider takes, the HTTP client (retries, rate budget, secrets masked, token renewal), the
    paging options, dispatching a change to the handler of its (kind, action), and closing.

    A subclass sets ``platform``, ``embedded_url`` (the placeholder base URL of its in-process
    simulator), ``example_url`` (what a real endpoint looks like, for errors) and
    ``credential_fields`` (the credentials it needs, checked first); returns how it
    authenticates from ``_auth(credentials)`` and its handlers from ``_handlers()``. One that
    reads options of its own does so in ``_configure()``, which runs before ``_auth``.
    """

    platform: ClassVar[str]
    embedded_url: ClassVar[str]
    example_url: ClassVar[str]
    credential_fields: ClassVar[tuple[str, ...]]

    def __init__(
        self,
        integration: Integration,
        credentials: Mapping[str, str],
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        max_attempts: int = 5,
        backoff_base: float = 0.2,
        timeout: float = 10.0,
        sleep: Sleep | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``sleep`` replaces the retry backoff's asyncio.sleep and ``clock`` the wall clock
        token expiry (and any date the platform derives from today) is read against (tests)."""
        required(credentials, self.credential_fields, integration.name)
        self.integration = integration
        self._clock = clock
        self._configure()
        auth = self._auth(credentials)
        self.token = AccessToken(auth.login, clock=clock) if auth.login is not None else None
        self.page_size = int_option(integration, "page_size", 500, 1, 1000)
        self.concurrency = int_option(integration, "concurrency", 4, 1, 64)
        self._client = ApiClient(
            base_url(integration, transport, self.embedded_url, self.example_url),
            integration=integration.name,
            headers=auth.headers,
            secrets=auth.secrets,
            transport=transport,
            timeout=timeout,
            max_attempts=max_attempts,
            backoff_base=backoff_base,
            sleep=sleep,
            rate=budget_for(integration.endpoint, integration.options.get("rate_limit")),
            token=self.token,
            scheme=auth.scheme,
        )

    def _configure(self) -> None:
        """Read the platform's own options from ``self.integration`` (none by default)."""

    def _auth(self, credentials: Mapping[str, str]) -> Auth:
        raise NotImplementedError

    @property
    def name(self) -> str:
        return self.integration.name

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    async def execute(self, change: Change) -> Applied:
        handler = self._handlers().get((change.kind, change.action))
        if handler is None:
            raise errors.ReconcilerError(
                f"{self.platform} cannot {change.action.value} a {change.kind}"
            )
        return await handler(change)

    def _handlers(self) -> dict[tuple[str, Action], Handler]:
        raise NotImplementedError

    async def check(self) -> Health:
        """Read what ``_probe`` reads (a catalog, logging in first where the platform issues
        tokens): proves the endpoint answers and the credentials are accepted, and changes
        nothing. Never raises for refused credentials or an unreachable platform."""
        where = self._described()
        try:
            count, what, details = await self._probe()
        except errors.AuthError as exc:
            fields = " and ".join(f"credentials.{f}" for f in self._credentials_used())
            return Health(False, f"{self.name}: the {where} platform refused the credentials "
                                 f"(HTTP {exc.status}); check {fields}")
        except errors.ProviderError as exc:
            return Health(False, f"{self.name}: cannot use the {self.platform} platform: {exc}")
        return Health(True, f"{self.name}: {where} answered with {count} {what}",
                      details={what.split()[-1]: count, **details})

    async def _log_in(self, path: str, body: Mapping[str, Any], *, token: str,
                      lifetime: str | None = None, fields: tuple[str, ...] = (),
                      params: Mapping[str, Any] | None = None) -> Issued:
        """POST a login ``body`` to ``path`` for an access token: the answer's ``token`` field,
        living its ``lifetime`` field's seconds (unsaid: until the platform refuses it). A
        refusal is an AuthError naming the credential ``fields`` to check."""
        try:
            response = await self._client.request("POST", path, json=body, params=params,
                                                  auth=False)
        except errors.AuthError as exc:
            check = " and ".join(f"credentials.{f}" for f in fields) or "its credentials"
            raise errors.AuthError(
                f"the {self._described()} platform refused the login (HTTP {exc.status}); "
                f"check the integration's {check}", integration=self.name, status=exc.status,
                detail=exc.detail) from None
        answer = self._client.json_object(response)
        issued = answer.get(token)
        if not isinstance(issued, str) or not issued:
            raise self._client.unexpected(f"POST {path}", {"fields": sorted(answer)})
        seconds = answer.get(lifetime) if lifetime else None
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            return Issued(issued, None)
        return Issued(issued, self._clock() + float(seconds))

    def _credentials_used(self) -> tuple[str, ...]:
        """The credential fields a refusal points at (a platform that takes one of several
        sets of credentials names the set it was given)."""
        return self.credential_fields

    async def _probe(self) -> tuple[int, str, Mapping[str, Any]]:
        """What ``check`` reads: how many of what (``3, "plans"``), and details to add."""
        raise NotImplementedError

    def _described(self) -> str:
        """The platform as ``check`` names it."""
        return self.platform

    async def _listing_page(self, path: str, params: Mapping[str, Any], items: str, pages: str,
                            pages_type: type = int, call: str = "") -> Mapping[str, Any]:
        """One page of a paginated listing: its body, once it holds the list ``items`` and the
        page count (or pagination record) ``pages``; a ProviderError naming ``call`` (the
        route, by default) otherwise."""
        response = await self._client.request("GET", path, params=params)
        body = self._client.json_object(response)
        if not isinstance(body.get(items), list) or not isinstance(body.get(pages), pages_type):
            raise self._client.unexpected(call or f"GET {path}", body)
        return body

    async def aclose(self) -> None:
        await self._client.aclose()
