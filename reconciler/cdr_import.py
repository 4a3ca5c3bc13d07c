"""`reconcile cdr import`: pull a platform's call records (CDRs) into the state, a day at a time.

The I/O edge between a :class:`~reconciler.providers.base.CallRecordSource` and
:mod:`reconciler.state.calls`. Each page of records is committed as it arrives, and added
idempotently (by the platform's record id), so an import killed at any point loses at most the
page in flight, and the next run adds exactly what is missing. A day is marked read once its
last page is in; *complete* only when that read started after the day was over (UTC), since
calls can still be added to the day in progress. A rerun skips complete days without a call.
"""

from __future__ import annotations

import calendar
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from reconciler.errors import ReconcilerError
from reconciler.providers.base import CallRecordSource
from reconciler.state import StateStore
from reconciler.state import calls as stored

log = logging.getLogger(__name__)

CATCH_UP_DAYS = 62  # how far back a daily import looks for days it has not read whole


@dataclass(frozen=True)
class DayRead:
    day: date
    read: int  # records the platform listed
    new: int  # of which the state did not hold yet
    complete: bool


@dataclass
class Imported:
    """What one import did, for the report."""

    integration: str
    environment: str
    first: date
    last: date
    days: list[DayRead] = field(default_factory=list)
    skipped: list[date] = field(default_factory=list)  # complete already: not asked again

    @property
    def read(self) -> int:
        return sum(d.read for d in self.days)

    @property
    def new(self) -> int:
        return sum(d.new for d in self.days)

    @property
    def open_days(self) -> list[date]:
        """Days read but not complete (today's): the next import reads them again."""
        return [d.day for d in self.days if not d.complete]


def today() -> date:
    return datetime.now(UTC).date()


def month_days(month: str) -> tuple[date, date]:
    """``YYYY-MM`` as its first and last day; a clear error for anything else."""
    try:
        year, number = (int(part) for part in month.split("-"))
        first = date(year, number, 1)
    except ValueError:
        raise ReconcilerError(f"{month!r} is not a month: write YYYY-MM, e.g. 2026-11") from None
    return first, first.replace(day=calendar.monthrange(year, number)[1])


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ReconcilerError(f"{text!r} is not a day: write YYYY-MM-DD, e.g. 2026-11-30") from None


def default_period(cadence: str, last_complete: date | None, now: date) -> tuple[date, date]:
    """The days an import with no --day or --period reads.

    ``daily``: from the day after the last complete one (no further back than
    :data:`CATCH_UP_DAYS`; yesterday on a first run) to yesterday, so a run that was missed, or a
    schedule that skips weekends, is caught up. ``monthly``: the previous calendar month.
    """
    yesterday = now - timedelta(days=1)
    if cadence == "monthly":
        last = now.replace(day=1) - timedelta(days=1)
        return last.replace(day=1), last
    first = yesterday if last_complete is None else last_complete + timedelta(days=1)
    return max(first, now - timedelta(days=CATCH_UP_DAYS)), yesterday


def days_of(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


async def import_calls(store: StateStore, integration: str, source: CallRecordSource,
                       days: Sequence[date], *, clock: Callable[[], date] = today) -> Imported:
    """Read every day of ``days`` that the state does not hold complete, page by page."""
    if not days:
        raise ReconcilerError("no day to import: the period is empty")
    first, last = min(days), max(days)
    if first > clock():
        raise ReconcilerError(f"{first.isoformat()} has not begun yet (today is "
                              f"{clock().isoformat()} UTC): there are no calls to import")
    environment = source.environment
    result = Imported(integration, environment, first, last)
    held = stored.complete_days(store, integration, environment, first, last)
    for day in sorted(days):
        if day in held:
            result.skipped.append(day)
            continue
        if day > clock():
            break  # the rest of the period is in the future
        started = clock()
        read = new = 0
        async for page in source.call_records(day, day):
            read += len(page)
            new += stored.add_records(store, integration, environment, page)
        complete = day < started
        stored.mark_day(store, integration, environment, day, read, complete=complete)
        result.days.append(DayRead(day, read, new, complete))
        log.info("%s: %s read, %d records, %d new%s", integration, day.isoformat(), read, new,
                 "" if complete else " (today: read again next time)")
    return result
