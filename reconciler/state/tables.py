"""The state schema (SQLAlchemy 2.x declarative tables).

Invariants:
- ``resources`` has one row per managed resource, keyed by its address. ``attributes`` are the
  attributes as last applied (what drift compares against); ``observed`` the platform-side facts
  last seen (link and transmission status), refreshed by apply; neither ever holds a secret.
- ``meta`` holds ``lineage`` (a uuid fixed when the state is created) and ``serial`` (bumped by
  every committed write of resources), which saved plans are bound to; and
  ``fingerprint_key``, a random key made once, which keys the fingerprints of secrets the
  platforms never show back (Campsoft's passwords): never copied out of the state.
- ``runs`` is the history of plan/apply/drift runs.
- ``catalogs`` mirrors read-only catalogs synced from the platforms (STFC plans...).
- ``schedule_runs`` has one row per scheduled job run (see :mod:`reconciler.schedule`).
- ``call_records``/``call_days`` hold imported CDRs (:mod:`reconciler.state.calls`);
  ``charge_fetches``/``charges``/``charge_calls`` the monthly charges a platform billed itself
  (:mod:`reconciler.state.charges`).
- ``plan_files`` has one row per plan file `plan --out` wrote, keyed by the sha256 of its bytes:
  `apply PLANFILE` refuses a file whose digest is not there. Recording one is not a write of
  resources: the serial does not move, so a saved plan never makes itself stale.

A new state is made by ``create_all`` and stamped with the newest migration (``REVISION``); an
older one is upgraded in place by the alembic migrations in ``reconciler/state/migrations``
(:mod:`reconciler.state.schema`). Every change of these tables comes with a migration, which
``tests/unit/test_state_migrations.py`` checks against them. ``SCHEMA_VERSION`` in ``meta`` is
what tools before the migrations read: it moves when a change would make them unsafe on the
state, so that they refuse it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SCHEMA_VERSION = 2
# The alembic revisions of reconciler/state/migrations/versions, oldest first: REVISION is the
# schema these tables describe. Known here so that opening a state needs no alembic import.
REVISIONS = ("0001", "0002")
REVISION = REVISIONS[-1]


class Base(DeclarativeBase):
    pass


def table_of(row: type[Base]) -> Table:
    """The ``Table`` a row class maps (its ``__table__``, which declarative types as any FromClause)."""
    return Base.metadata.tables[row.__tablename__]


class MetaRow(Base):
    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class ResourceRow(Base):
    __tablename__ = "resources"
    address: Mapped[str] = mapped_column(String(256), primary_key=True)
    integration: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(128))
    remote_id: Mapped[str | None] = mapped_column(String(128))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON)
    observed: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    serial: Mapped[int] = mapped_column(Integer)


class RunRow(Base):
    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    command: Mapped[str] = mapped_column(String(32))
    user: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    plan_digest: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(32), default="running")
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class CatalogRow(Base):
    __tablename__ = "catalogs"
    integration: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    entries: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    synced_at: Mapped[datetime] = mapped_column(DateTime)


class LockRow(Base):
    """One lock on a state (``name`` is ``integration:<name>``): who holds it and until when.

    On SQLite the row is the lock (a lease): its holder refreshes ``heartbeat_at`` and pushes
    ``expires_at`` forward while it runs; a lock past ``expires_at`` belongs to a holder that
    died, and the next run takes it over. On PostgreSQL the lock is a session advisory lock
    and the row only names its holder (see :mod:`reconciler.state.locks`).
    """

    __tablename__ = "locks"
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    holder: Mapped[str] = mapped_column(String(256))
    operation: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)


class JournalRow(Base):
    """One change of one apply: its intent, written before the remote call in a transaction of
    its own, and its outcome, written after. An entry still ``pending`` when the next run starts
    belongs to an apply that died mid-call: that run resolves it against the platform."""

    __tablename__ = "journal"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int | None] = mapped_column(Integer, index=True)
    change_id: Mapped[str] = mapped_column(String(300))
    integration: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    keys: Mapped[list[str]] = mapped_column(JSON)
    intent_at: Mapped[datetime] = mapped_column(DateTime)
    # pending|confirmed|failed|partial|unknown|recovered
    outcome: Mapped[str] = mapped_column(String(16), index=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)


class ScheduleRunRow(Base):
    """One run of a scheduled job, claimed before it starts.

    ``(job, due_at)`` is unique: two `reconcile schedule run` processes that find the same job due
    at the same time both try to insert the claim, and only one succeeds, so the job runs once.
    ``missed`` lists the due times (UTC, ISO) that passed while nothing ran, which this run
    covers; ``missed_count`` counts them up to 1,000 (more reads "at least 1,000"). Times are
    naive UTC.
    """

    __tablename__ = "schedule_runs"
    __table_args__ = (UniqueConstraint("job", "due_at", name="uq_schedule_runs_job_due"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(String(64), index=True)
    run: Mapped[str] = mapped_column(String(32))  # drift, sync, plan
    due_at: Mapped[datetime] = mapped_column(DateTime)
    missed: Mapped[list[str]] = mapped_column(JSON, default=list)
    missed_count: Mapped[int] = mapped_column(Integer, default=0)
    holder: Mapped[str] = mapped_column(String(256))
    started_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    exit_code: Mapped[int | None] = mapped_column(Integer)
    # running|ok|drift|changes|over-limit|failed|timeout|interrupted
    outcome: Mapped[str] = mapped_column(String(16))
    report: Mapped[str | None] = mapped_column(String(1024))


class PlanFileRow(Base):
    """One plan file `plan --out` wrote: the sha256 of its exact bytes, what it was bound to,
    and a short digest of each top-level field (``fields``), so that apply can say which fields
    of an edited file differ from those written. Rows of plans past ``expires_at`` are pruned
    when the next one is recorded. Times are naive UTC."""

    __tablename__ = "plan_files"
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    lineage: Mapped[str] = mapped_column(String(64))
    serial: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[str] = mapped_column(String(40), index=True)  # as written in the file
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    fields: Mapped[dict[str, str]] = mapped_column(JSON)
    recorded_at: Mapped[datetime] = mapped_column(DateTime)
    holder: Mapped[str] = mapped_column(String(256))


class DriftSeenRow(Base):
    """When each drift was first reported, so a report can say how old it is.

    One row per (address, kind) while that drift persists: a drift run adds the new ones and
    deletes, for the integrations it checked, those no longer found. A resource that drifts
    again later starts a new row (the age is of this episode, not the first ever).
    """

    __tablename__ = "drift_seen"
    address: Mapped[str] = mapped_column(String(256), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    integration: Mapped[str] = mapped_column(String(64), index=True)
    first_seen: Mapped[datetime] = mapped_column(DateTime)
    last_seen: Mapped[datetime] = mapped_column(DateTime)


class CallRecordRow(Base):
    """One call record of a platform (a CDR), as imported: never a secret, and never changed
    once imported (the platform's id is the record's identity). ``cost`` is the platform's price
    of the whole call as a decimal string (exact: never a float); times are naive UTC."""

    __tablename__ = "call_records"
    __table_args__ = (Index("ix_call_records_line_time", "integration", "account_code",
                            "started_at"),
                      Index("ix_call_records_time", "integration", "started_at"))
    integration: Mapped[str] = mapped_column(String(64), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    environment: Mapped[str] = mapped_column(String(32))
    account_code: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(DateTime)
    call_type: Mapped[str] = mapped_column(String(16))
    duration_seconds: Mapped[int] = mapped_column(Integer)
    cost: Mapped[str] = mapped_column(String(24))
    destination: Mapped[str] = mapped_column(String(32))
    imported_at: Mapped[datetime] = mapped_column(DateTime)


class CallDayRow(Base):
    """One day (UTC) of an integration's call records that an import has read to its end.
    ``complete`` when that import started after the day was over, so no later call can appear
    in it; ``records`` is how many the platform listed for the day."""

    __tablename__ = "call_days"
    integration: Mapped[str] = mapped_column(String(64), primary_key=True)
    environment: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    records: Mapped[int] = mapped_column(Integer)
    complete: Mapped[bool] = mapped_column(Boolean)
    imported_at: Mapped[datetime] = mapped_column(DateTime)


class ChargeFetchRow(Base):
    """One read of a month's charges from a platform that bills its numbers itself (SaperX
    STFC's Processar/Faturar). The month's charges are those of its latest *finished* fetch; a
    fetch still unfinished belongs to a run that died, and its rows are dropped by the next.
    ``closed`` when the platform said the month was over (no charge of it can change but by a
    correction); ``detailed`` when each charge's calls were read too; ``total`` is the sum of
    the charges as exact decimal text. Times are naive UTC."""

    __tablename__ = "charge_fetches"
    __table_args__ = (Index("ix_charge_fetches_month", "integration", "month"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    integration: Mapped[str] = mapped_column(String(64))
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    detailed: Mapped[bool] = mapped_column(Boolean)
    closed: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    numbers: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[str] = mapped_column(String(24), default="0")


class ChargeRow(Base):
    """What the platform billed one number in the month of a fetch: ``total`` (its valor_total),
    ``franchise`` (the plan's monthly fee) and ``overage`` (the calls beyond the plan's
    ``allowance_minutes``), exact decimal text as the platform gave them, never floats;
    ``service_id`` is the client service the platform charged (its id_externo)."""

    __tablename__ = "charges"
    fetch_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), primary_key=True)
    service_id: Mapped[int | None] = mapped_column(Integer)
    plan_id: Mapped[int | None] = mapped_column(Integer)
    allowance_minutes: Mapped[int] = mapped_column(Integer)
    minutes: Mapped[int] = mapped_column(Integer)
    calls: Mapped[int] = mapped_column(Integer)
    total: Mapped[str] = mapped_column(String(24))
    franchise: Mapped[str] = mapped_column(String(24))
    overage: Mapped[str] = mapped_column(String(24))


class ChargeCallRow(Base):
    """One call behind a charge (the platform's call detail), in the platform's order
    (``seq``); only a detailed fetch has them."""

    __tablename__ = "charge_calls"
    fetch_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(DateTime)
    origin: Mapped[str] = mapped_column(String(32))
    destination: Mapped[str] = mapped_column(String(32))
    call_type: Mapped[str] = mapped_column(String(16))
    duration_seconds: Mapped[int] = mapped_column(Integer)
    amount: Mapped[str] = mapped_column(String(24))
