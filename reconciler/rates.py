"""The request rate each integration runs at: declared in its spec, or the default (pure).

Shared by the providers' token buckets and the planner's cost estimate, so the estimate uses
the very rate apply will be held to.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# For URL endpoints that declare no rate_limit: gentle on a production platform.
DEFAULT_PER_SECOND = 10.0
DEFAULT_BURST = 20


def declared_rate(endpoint: str, rate_limit: Mapping[str, Any] | None) -> tuple[float, int] | None:
    """(per_second, burst) the integration runs at, or None when unlimited (the embedded
    platform runs in process: nothing to protect)."""
    if rate_limit:
        return float(rate_limit["per_second"]), int(rate_limit.get("burst") or 1)
    return None if endpoint == "embedded" else (DEFAULT_PER_SECOND, DEFAULT_BURST)


def seconds_for(calls: int, rate: tuple[float, int] | None) -> float:
    """How long ``calls`` requests take at ``rate``: the burst goes at once, the rest at the
    average rate."""
    if rate is None:
        return 0.0
    per_second, burst = rate
    return max(0, calls - burst) / per_second
