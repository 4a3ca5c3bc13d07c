"""CDR import over a real SQLite state: records added once whatever the repeats, days marked
complete only once over, a failed import resumed without duplicates, and the periods an import
reads by default. The HTTP side (the provider against the simulator) is in
tests/e2e/test_cli_cdr.py; here the source is a list of pages that can fail part way."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from reconciler.cdr_import import default_period, import_calls, month_days, parse_day
from reconciler.errors import ReconcilerError
from reconciler.schedule.cron import cadence
from reconciler.state import StateStore
from reconciler.state import calls as stored

TODAY = date(2026, 12, 3)


def record(day: date, n: int, code: str = "483920") -> dict[str, Any]:
    return {"record_id": f"cdr-{day.isoformat()}-{code}-{n}", "account_code": code,
            "started_at": datetime(day.year, day.month, day.day, 8) + timedelta(minutes=n),
            "call_type": "LC", "duration_seconds": 60 + n, "cost": "0.10",
            "destination": "554830001234"}


class Pages:
    """A platform's CDR listing: ``per_day`` records a day, in pages of ``size``; it breaks
    (as a killed connection would) once ``fail_after`` pages were served."""

    environment = "production"

    def __init__(self, per_day: int = 5, size: int = 2, fail_after: int | None = None) -> None:
        self.per_day, self.size, self.fail_after = per_day, size, fail_after
        self.served: list[date] = []

    async def call_records(self, first: date, last: date) -> AsyncIterator[list[dict[str, Any]]]:
        assert first == last  # the importer reads a day at a time
        day = [record(first, n) for n in range(self.per_day)]
        for start in range(0, len(day), self.size):
            if self.fail_after is not None and len(self.served) >= self.fail_after:
                raise ReconcilerError("connection lost")
            self.served.append(first)
            yield day[start:start + self.size]


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    opened = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    yield opened  # type: ignore[misc]
    opened.close()


def run(store: StateStore, source: Pages, days: list[date]) -> Any:
    return asyncio.run(import_calls(store, "voip", source, days, clock=lambda: TODAY))


def test_a_record_is_added_once_however_often_it_is_given(store: StateStore) -> None:
    day = date(2026, 11, 2)
    rows = [record(day, n) for n in range(3)]
    assert stored.add_records(store, "voip", "production", rows) == 3
    assert stored.add_records(store, "voip", "production", rows + [record(day, 3)]) == 1
    assert stored.add_records(store, "other", "production", rows) == 3  # per integration
    assert stored.count(store, "voip") == 4
    read = list(stored.records(store, "voip", "production", day, day))
    assert [r.record_id for r in read] == [f"cdr-2026-11-02-483920-{n}" for n in range(4)]
    assert str(read[0].cost) == "0.10" and read[0].duration_seconds == 60


def test_past_days_are_complete_and_skipped_today_is_read_again(store: StateStore) -> None:
    days = [date(2026, 12, 1), date(2026, 12, 2), TODAY]
    first = run(store, Pages(), days)
    assert (first.read, first.new) == (15, 15)
    assert first.open_days == [TODAY]
    assert stored.complete_days(store, "voip", "production", days[0], TODAY) == set(days[:2])
    source = Pages(per_day=7)  # two calls more today
    again = run(store, source, days)
    assert again.skipped == days[:2] and set(source.served) == {TODAY}  # only today asked
    assert (again.read, again.new) == (7, 2)
    assert stored.last_complete_day(store, "voip", "production") == date(2026, 12, 2)


def test_an_import_cut_off_part_way_resumes_without_duplicates(store: StateStore) -> None:
    days = [date(2026, 11, d) for d in range(1, 6)]
    with pytest.raises(ReconcilerError, match="connection lost"):
        run(store, Pages(fail_after=7), days)  # 3 pages a day: dies in the third day
    assert stored.complete_days(store, "voip", "production", days[0], days[-1]) == set(days[:2])
    partial = stored.count(store, "voip")
    assert partial == 2 * 5 + 2  # two whole days and the first page of the third
    resumed = Pages()
    result = run(store, resumed, days)
    assert result.skipped == days[:2] and sorted(set(resumed.served)) == days[2:]
    assert result.new == 25 - partial and stored.count(store, "voip") == 25
    assert stored.complete_days(store, "voip", "production", days[0], days[-1]) == set(days)


def test_a_period_that_has_not_begun_is_refused(store: StateStore) -> None:
    with pytest.raises(ReconcilerError, match="2026-12-04 has not begun yet"):
        run(store, Pages(), [date(2026, 12, 4)])


@pytest.mark.parametrize(("cadence_", "last", "expected"), [
    ("daily", None, (date(2026, 12, 2), date(2026, 12, 2))),  # first run: yesterday
    ("daily", date(2026, 11, 28), (date(2026, 11, 29), date(2026, 12, 2))),  # catches up
    ("daily", date(2026, 1, 1), (date(2026, 10, 2), date(2026, 12, 2))),  # at most 62 days back
    ("monthly", date(2026, 11, 30), (date(2026, 11, 1), date(2026, 11, 30))),
])
def test_the_default_period(cadence_: str, last: date | None,
                            expected: tuple[date, date]) -> None:
    assert default_period(cadence_, last, TODAY) == expected


def test_months_and_days_are_read_strictly() -> None:
    assert month_days("2028-02") == (date(2028, 2, 1), date(2028, 2, 29))
    for bad in ("2026-13", "2026", "november"):
        with pytest.raises(ReconcilerError, match="is not a month: write YYYY-MM"):
            month_days(bad)
    assert parse_day("2026-11-30") == date(2026, 11, 30)
    with pytest.raises(ReconcilerError, match="is not a day: write YYYY-MM-DD"):
        parse_day("2026-11-31")


@pytest.mark.parametrize(("expression", "expected"), [
    ("30 7 * * *", "daily"), ("*/15 * * * *", "daily"), ("@daily", "daily"),
    ("@hourly", "daily"), ("0 7 1-31 * *", "daily"), ("30 7 1 * *", "monthly"),
    ("0 6 1,15 * *", "other"), ("0 3 1-7 * *", "other"),
    ("@monthly", "monthly"), ("30 7 * * mon-fri", "other"), ("@weekly", "other"),
    ("0 3 1 1 *", "other"), ("0 3 */2 * *", "other"),
])
def test_the_cadence_of_a_cron_expression(expression: str, expected: str) -> None:
    assert cadence(expression) == expected
