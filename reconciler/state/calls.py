"""Imported call records (CDRs) in the state: add a page of them, mark a day read to its end,
and read them back for billing.

Adding is idempotent: a record already held (same integration and platform id) is skipped by
the database itself (``INSERT ... ON CONFLICT DO NOTHING``, in SQLite and PostgreSQL alike), so
two imports of one day, one after a kill, or two at once, hold each record once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite

from reconciler.state.store import StateStore
from reconciler.state.tables import CallDayRow, CallRecordRow, table_of

READ_BATCH = 5_000  # rows fetched at a time when reading a period back


@dataclass(frozen=True)
class CallRecord:
    """One call as billing reads it."""

    record_id: str
    account_code: str
    started_at: datetime  # naive UTC
    call_type: str
    duration_seconds: int
    cost: Decimal
    destination: str


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def add_records(store: StateStore, integration: str, environment: str,
                records: Iterable[Mapping[str, Any]]) -> int:
    """Add ``records`` (already checked and normalized: see :func:`row_of`) in one transaction;
    return how many were new."""
    rows = [{**record, "integration": integration, "environment": environment,
             "imported_at": _now()} for record in records]
    if not rows:
        return 0
    table = table_of(CallRecordRow)
    dialect = store.engine.dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (insert(table).on_conflict_do_nothing(index_elements=["integration", "record_id"])
                 .returning(table.c.record_id))
    with store.session() as s:
        return len(s.execute(statement, rows).all())  # RETURNING answers the inserted rows only


def _count(session: Any, integration: str) -> int:
    query = select(func.count()).select_from(CallRecordRow).where(
        CallRecordRow.integration == integration)
    return int(session.execute(query).scalar_one())


def mark_day(store: StateStore, integration: str, environment: str, day: date, records: int,
             *, complete: bool) -> None:
    """Record that ``day`` was read to its end (``complete`` when no call can be added to it)."""
    with store.session() as s:
        s.merge(CallDayRow(integration=integration, environment=environment, day=day,
                           records=records, complete=complete, imported_at=_now()))


def complete_days(store: StateStore, integration: str, environment: str, first: date,
                  last: date) -> set[date]:
    """The days of ``first``..``last`` imported whole."""
    query = select(CallDayRow.day).where(
        CallDayRow.integration == integration, CallDayRow.environment == environment,
        CallDayRow.day >= first, CallDayRow.day <= last, CallDayRow.complete.is_(True))
    with store.session() as s:
        return set(s.execute(query).scalars())


def last_complete_day(store: StateStore, integration: str, environment: str) -> date | None:
    query = select(func.max(CallDayRow.day)).where(
        CallDayRow.integration == integration, CallDayRow.environment == environment,
        CallDayRow.complete.is_(True))
    with store.session() as s:
        found = s.execute(query).scalar_one_or_none()
        return found if isinstance(found, date) else None


def records(store: StateStore, integration: str, environment: str, first: date,
            last: date) -> Iterator[CallRecord]:
    """The records of calls started on ``first``..``last`` (UTC days), by account code and time,
    read in batches (a month of a large estate is millions of rows)."""
    start = datetime(first.year, first.month, first.day)
    end = datetime(last.year, last.month, last.day) + timedelta(days=1)
    query = (select(CallRecordRow.record_id, CallRecordRow.account_code, CallRecordRow.started_at,
                    CallRecordRow.call_type, CallRecordRow.duration_seconds, CallRecordRow.cost,
                    CallRecordRow.destination)
             .where(CallRecordRow.integration == integration,
                    CallRecordRow.environment == environment,
                    CallRecordRow.started_at >= start, CallRecordRow.started_at < end)
             .order_by(CallRecordRow.account_code, CallRecordRow.started_at,
                       CallRecordRow.record_id)
             .execution_options(yield_per=READ_BATCH))
    with store.session() as s:
        for row in s.execute(query):
            yield CallRecord(row.record_id, row.account_code, row.started_at, row.call_type,
                             int(row.duration_seconds), Decimal(row.cost), row.destination)


def count(store: StateStore, integration: str) -> int:
    """How many records of ``integration`` the state holds."""
    with store.session() as s:
        return _count(s, integration)
