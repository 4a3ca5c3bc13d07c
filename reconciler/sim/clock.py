"""Injectable time for the simulators.

Queues that drain "after a delay" (the STFC removal queue) must be testable without waiting, so
simulators never call :func:`time.time` directly: they read a :class:`Clock`. Production uses
:class:`SystemClock`; tests pass a :class:`FakeClock` and move it forward by hand.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Something that tells the time as Unix seconds."""

    def now(self) -> float: ...


class SystemClock:
    """The wall clock."""

    def now(self) -> float:
        return time.time()


class FakeClock:
    """A clock that only moves when told to (tests, deterministic demos)."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds


def iso8601(timestamp: float) -> str:
    """A Unix timestamp as the ISO 8601 UTC text the platforms put on the wire."""
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")
