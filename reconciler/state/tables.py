"""The state schema (SQLAlchemy 2.x declarative tables).

Invariants:
- ``resources`` has one row per managed resource, keyed by its address. ``attributes`` are the
  attributes as last applied (what drift compares against); ``observed`` the platform-side facts
  last seen (link and transmission status), refreshed by apply; neither ever holds a secret.
- ``meta`` holds ``lineage`` (a uuid fixed when the state is created) and ``serial`` (bumped by
  every committed write of resources), which saved plans are bound to.
- ``runs`` is the history of plan/apply/drift runs.
- ``catalogs`` mirrors read-only catalogs synced from the platforms (STFC plans...).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SCHEMA_VERSION = 1


class Base(DeclarativeBase):
    pass


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
    """The one lock on a state (``name`` is always "state"): who holds it and until when.

    A holder refreshes ``heartbeat_at`` and pushes ``expires_at`` forward while it runs; a lock
    past ``expires_at`` belongs to a holder that died, and the next run takes it over.
    """

    __tablename__ = "locks"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
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
    outcome: Mapped[str] = mapped_column(String(16), index=True)  # pending|confirmed|failed|partial|unknown|recovered
    detail: Mapped[str] = mapped_column(Text, default="")
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
