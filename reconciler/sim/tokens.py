"""Access tokens for the simulators of platforms with a login step (Qualifica, Campsoft,
SaperX v2, Geosite).

A :class:`TokenIssuer` hands out random tokens that expire ``ttl`` seconds after issue, by the
simulator's :class:`~reconciler.sim.clock.Clock`; :meth:`expire_all` makes every token issued so
far invalid at once, which is how tests make a token lapse in the middle of an apply (admin
endpoint ``POST /_sim/tokens/expire`` in each simulator). Tokens are never persisted: an embedded
platform reopened by the next command starts with none, and its provider logs in again.
"""

from __future__ import annotations

import secrets

from reconciler.sim.clock import Clock, SystemClock

DEFAULT_TTL = 3600.0


class TokenIssuer:
    """Issues and checks expiring bearer tokens."""

    def __init__(self, ttl: float = DEFAULT_TTL, clock: Clock | None = None) -> None:
        self.ttl = ttl
        self.clock = clock or SystemClock()
        self._expiry: dict[str, float] = {}
        self.issued = 0

    def issue(self, prefix: str = "") -> tuple[str, float]:
        """A new token (starting with ``prefix``, which lets a platform tell which of its data
        sets a token opens) and its absolute expiry (Unix seconds)."""
        token = prefix + secrets.token_urlsafe(24)
        expires_at = self.clock.now() + self.ttl
        self._expiry[token] = expires_at
        self.issued += 1
        return token, expires_at

    def valid(self, token: str | None) -> bool:
        """Whether ``token`` was issued here and has not expired; forgets expired tokens."""
        if not token:
            return False
        expires_at = self._expiry.get(token)
        if expires_at is None:
            return False
        if self.clock.now() >= expires_at:
            del self._expiry[token]
            return False
        return True

    def revoke(self, token: str) -> bool:
        """Invalidate one token (a rotated refresh token); whether it was live."""
        return self.valid(token) and self._expiry.pop(token, None) is not None

    def expire_all(self) -> int:
        """Invalidate every token issued so far; returns how many were live."""
        count = len(self._expiry)
        self._expiry.clear()
        return count


def bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None
