"""Access tokens that expire: fetched when first needed, fetched again before they lapse.

Platforms with a login step (Qualifica's client credentials, Campsoft's ApiKey/ApiSecret) hand
out a token valid for a while. A long apply outlives it, so the token is renewed, never allowed
to fail the run: :class:`AccessToken` issues a new one ``skew`` seconds before the expiry the
platform announced, and :class:`~reconciler.providers.http.ApiClient` asks for a new one once
when the platform answers 401 anyway (revoked early, clocks apart).

Concurrent requests share one renewal (a lock), so a hundred calls in flight at expiry cause one
login, not a hundred. The token's text is masked from every error, like any credential.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

DEFAULT_SKEW = 30.0  # renew this many seconds before the announced expiry


@dataclass(frozen=True)
class Issued:
    """A token and when it stops being valid (Unix seconds; None: the platform did not say)."""

    value: str
    expires_at: float | None


Login = Callable[[], Awaitable[Issued]]


class AccessToken:
    """The current token of one integration, renewed through ``login`` when due."""

    def __init__(
        self, login: Login, *, clock: Callable[[], float] = time.time, skew: float = DEFAULT_SKEW
    ) -> None:
        self._login = login
        self._clock = clock
        self._skew = skew
        self._current: Issued | None = None
        self._lock = asyncio.Lock()
        self.logins = 0  # how many tokens were issued (renewals included)
        self.seen: list[str] = []  # every token issued, so errors can mask old ones too

    async def value(self) -> str:
        """A token valid now, logging in first when there is none or it is about to expire."""
        current = self._current
        if current is not None and not self._due(current):
            return current.value
        async with self._lock:
            current = self._current
            if current is None or self._due(current):
                current = await self._login()
                self._current = current
                self.logins += 1
                self.seen.append(current.value)
            return current.value

    def refused(self, value: str) -> None:
        """The platform refused ``value`` (401): the next call logs in again. A token another
        request already renewed is left alone."""
        if self._current is not None and self._current.value == value:
            self._current = None

    def _due(self, issued: Issued) -> bool:
        return issued.expires_at is not None and self._clock() >= issued.expires_at - self._skew
