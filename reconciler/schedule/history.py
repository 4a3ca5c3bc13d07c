"""The record of scheduled runs in the state (the ``schedule_runs`` table): claims, outcomes, and
the last run of each job that the due-time logic starts from.

Times are stored naive in UTC, as every other table of the state; this module converts at its
edge, so callers only ever see aware datetimes.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from reconciler.errors import StateError
from reconciler.state import StateStore
from reconciler.state.store import who
from reconciler.state.tables import ScheduleRunRow


def naive(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(tzinfo=None)


def aware(at: datetime | None) -> datetime | None:
    return at.replace(tzinfo=UTC) if at is not None else None


def last_runs(store: StateStore, jobs: Iterable[str]) -> dict[str, ScheduleRunRow]:
    """The run of each job with the latest due time (jobs never run are absent)."""
    names = list(jobs)
    if not names:
        return {}
    latest = (select(ScheduleRunRow.job, func.max(ScheduleRunRow.due_at).label("due"))
              .where(ScheduleRunRow.job.in_(names)).group_by(ScheduleRunRow.job).subquery())
    query = select(ScheduleRunRow).join(
        latest, (ScheduleRunRow.job == latest.c.job) & (ScheduleRunRow.due_at == latest.c.due))
    with store.session() as s:
        return {row.job: row for row in s.execute(query).scalars()}


def running(store: StateStore, job: str, since: datetime) -> ScheduleRunRow | None:
    """A run of ``job`` still marked running that started after ``since`` (an older one belongs
    to a scheduler that died mid-run: it no longer holds the job back)."""
    query = (select(ScheduleRunRow).where(ScheduleRunRow.job == job,
                                          ScheduleRunRow.outcome == "running",
                                          ScheduleRunRow.started_at > naive(since))
             .order_by(ScheduleRunRow.started_at.desc()).limit(1))
    with store.session() as s:
        return s.execute(query).scalars().first()


def claim(store: StateStore, job: str, run: str, due_at: datetime, missed: Iterable[datetime],
          missed_count: int, now: datetime) -> int | None:
    """Record that this process runs ``job`` for ``due_at``; its id, or None when another
    process claimed that same due time first."""
    claim_row = insert(ScheduleRunRow).values(
        job=job, run=run, due_at=naive(due_at),
        missed=[naive(t).isoformat(timespec="minutes") for t in missed],
        missed_count=missed_count, holder=who(), started_at=naive(now), outcome="running")
    try:
        with store.engine.begin() as conn:  # a plain insert: the unique key decides
            key = conn.execute(claim_row).inserted_primary_key
    except IntegrityError:
        return None
    except SQLAlchemyError as exc:
        raise StateError(f"state {store.shown!r}: {exc.__class__.__name__}: {exc}") from None
    assert key is not None
    return int(key[0])


def finish(store: StateStore, run_id: int, *, outcome: str, exit_code: int | None,
           report: str | None, now: datetime) -> None:
    with store.session() as s:
        s.execute(update(ScheduleRunRow).where(ScheduleRunRow.id == run_id).values(
            outcome=outcome, exit_code=exit_code, report=report, finished_at=naive(now)))


def runs(store: StateStore, job: str | None = None, limit: int = 50) -> list[ScheduleRunRow]:
    """The latest runs, newest first (of one job, or of all)."""
    query = select(ScheduleRunRow).order_by(ScheduleRunRow.id.desc()).limit(limit)
    if job is not None:
        query = query.where(ScheduleRunRow.job == job)
    with store.session() as s:
        return list(s.execute(query).scalars())
