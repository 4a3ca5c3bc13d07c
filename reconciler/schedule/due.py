"""When a job is due, and which of its due times passed with nothing run. Pure: no I/O, no clock
(the time is an argument), so it is tested on its own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from reconciler.schedule.cron import MAX_MISSED, Cron


@dataclass(frozen=True)
class Due:
    """A job due now: the due time this run is for, and the earlier ones nothing ran for."""

    at: datetime  # aware, UTC
    missed: tuple[datetime, ...] = ()  # at most MAX_MISSED, oldest first
    first_run: bool = False

    @property
    def missed_more(self) -> bool:
        """Whether more times were missed than are listed (the walk stopped at MAX_MISSED)."""
        return len(self.missed) >= MAX_MISSED


def find_due(cron: Cron, last_due: datetime | None, now: datetime) -> Due | None:
    """Whether a job on ``cron`` whose last run was for ``last_due`` is due at ``now``.

    Due when an occurrence lies after ``last_due`` and at or before ``now``; the run is for the
    latest such occurrence, and the earlier ones are missed. A job never run is due at its latest
    occurrence, with nothing missed (see the package docstring).
    """
    latest = cron.latest(now)
    if last_due is None:
        return Due(latest, first_run=True)
    if latest <= last_due:
        return None
    missed = tuple(t for t in cron.between(last_due, latest, limit=MAX_MISSED + 1) if t < latest)
    return Due(latest, missed[:MAX_MISSED])


def next_due(cron: Cron, last_due: datetime | None, now: datetime) -> datetime:
    """When the job is next due: ``now``'s latest occurrence if that has not run, else the next."""
    due = find_due(cron, last_due, now)
    return due.at if due is not None else cron.after(now)


def describe_times(times: tuple[datetime, ...] | list[datetime], zone: str, shown: int = 6) -> str:
    """``2026-11-24 03:00, 2026-11-25 03:00 UTC``, in the job's time zone; a long list is cut in
    the middle (``..., 12 more, ...``) so that a line stays a line."""
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(zone)
    text = [t.astimezone(tz).strftime("%Y-%m-%d %H:%M") for t in times]
    if len(text) > shown:
        head, tail = text[: shown // 2], text[-(shown // 2):]
        text = [*head, f"... {len(times) - len(head) - len(tail)} more ...", *tail]
    return f"{', '.join(text)} {zone}" if text else ""


def describe_missed(due: Due, zone: str) -> str:
    """``missed 2 runs: 2026-11-24 03:00, 2026-11-25 03:00 UTC``, or "" when none was missed."""
    count = len(due.missed)
    if not count:
        return ""
    amount = f"at least {count}" if due.missed_more else str(count)
    return f"missed {amount} run{'s' if count != 1 else ''}: {describe_times(due.missed, zone)}"
