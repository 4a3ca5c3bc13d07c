"""The state store: what we manage, as last applied, in SQLite (default) or any SQLAlchemy URL.

Written as changes land: the changes that land close together (within one turn of the apply's
event loop) share one short transaction that upserts or deletes their rows, bumps the serial and
closes their journal entries, so a crash loses at most the changes in flight, which the journal
resolves, and the state is never rewritten whole.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
import os
import secrets
import socket
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import (
    Engine,
    Integer,
    Text,
    bindparam,
    cast,
    create_engine,
    delete,
    event,
    select,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from reconciler.errors import StateError
from reconciler.model import Change, Known, Resource
from reconciler.secrets import reveal
from reconciler.state import schema
from reconciler.state.tables import (
    CatalogRow,
    DriftSeenRow,
    JournalRow,
    MetaRow,
    PlanFileRow,
    ResourceRow,
    RunRow,
    table_of,
)

DEFAULT_URL = "sqlite:///state/reconciler.db"
ENV_URL = "RECONCILER_STATE"
_CHUNK = 500  # bound parameters per IN (...) query, well under SQLite's limit
log = logging.getLogger(__name__)
FINGERPRINT_KEY = "fingerprint_key"  # meta row: the key of the secrets' fingerprints
SERIALS = "serials"  # meta row: JSON {integration: the serial of its last write}


def state_url(option: str | None) -> str:
    """The state URL from the option, else the environment, else the default."""
    return option or os.environ.get(ENV_URL) or DEFAULT_URL


def engine_url(url: str) -> str:
    """The URL SQLAlchemy is given: a plain ``postgresql://`` (or ``postgres://``) URL goes
    through psycopg 3, the driver of the ``postgresql`` extra, rather than psycopg2."""
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url.removeprefix(plain)
    return url


def state_dir(url: str) -> Path:
    """The directory beside the state where local data lives (the embedded simulators')."""
    if url.startswith("sqlite:///") and not url.endswith(":memory:"):
        return Path(url.removeprefix("sqlite:///")).parent
    return Path(os.environ.get("RECONCILER_STATE_DIR", "state"))


def shown_url(url: str) -> str:
    """The state URL as messages may show it: its password masked, and registered with
    :func:`reconciler.secrets.reveal` so that no output of this process shows it either (in
    its percent-encoded form too, as a driver's error may quote it)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return url  # not a URL SQLAlchemy can read: it holds no password it could use
    if parsed.password:
        reveal(str(parsed.password))
        raw = urlsplit(url).password
        if raw:
            reveal(raw)
    return parsed.render_as_string(hide_password=True)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class Writes:
    """State writes gathered from an apply's changes, for :meth:`StateStore.commit`: the rows
    that landed changes applied (groups of resources and whether they merge into the recorded
    attributes), the addresses they removed, their journal outcomes (entry, verdict, detail),
    and the changes about to be sent, whose intents are journaled. The removals go before the
    records: a record and a removal of one address meet in one commit only when they come from
    changes independent of each other (a change that depends on another is sent, so its intent
    committed, after that one landed)."""

    records: list[tuple[Sequence[Resource], bool]] = field(default_factory=list)
    removals: list[str] = field(default_factory=list)
    outcomes: list[tuple[int, str, str]] = field(default_factory=list)
    intents: list[Change] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.records or self.removals or self.outcomes or self.intents)


WAL_SWITCH_TRIES = 100  # x 0.05 s: how long a new connection waits to switch a file to WAL


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL, NORMAL sync and a 10 s busy wait on every connection. Switching a file to WAL
    takes its exclusive lock, and SQLite answers "database is locked" at once, without the
    busy wait, when the lock is held by a run creating the state at the same moment: the
    switch is retried, bounded in time, until that run is done."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=10000")
    for attempt in range(WAL_SWITCH_TRIES):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == WAL_SWITCH_TRIES - 1:
                raise
            time.sleep(0.05)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def open_engine(url: str) -> Engine:
    """An engine on the state database at ``url`` (a SQLite file's directory made)."""
    if url.startswith("sqlite:///") and not url.endswith(":memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = create_engine(engine_url(url))
    except (SQLAlchemyError, ValueError) as exc:
        raise StateError(f"cannot open state {shown_url(url)!r}: {exc}") from None
    except ImportError as exc:  # the URL names a database whose driver is not installed
        raise StateError(f"cannot open state {shown_url(url)!r}: its database driver is not "
                         f"installed ({exc}); install it next to reconcile (for PostgreSQL: "
                         f"pip install 'reconciler[postgresql]')") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


class StateStore:
    """One state: lineage, serial, managed resources, catalogs and run history."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.shown = shown_url(url)  # for messages: the URL without its password
        self.engine = open_engine(url)
        self._session = sessionmaker(self.engine, expire_on_commit=False)
        self._fingerprint_key: bytes | None = None
        self.statements = 0  # SQL statements sent (an executemany counts once): logged on close
        event.listen(self.engine, "before_cursor_execute", self._count)
        self._init_schema()

    def _count(self, *_: Any) -> None:
        self.statements += 1

    @contextmanager
    def session(self) -> Iterator[Session]:
        try:
            with self._session.begin() as session:
                yield session
        except SQLAlchemyError as exc:
            raise StateError(f"state {self.shown!r}: {exc.__class__.__name__}: {exc}") from None

    def _init_schema(self) -> None:
        """Create the state, upgrade it in place, or refuse it (:mod:`reconciler.state.schema`)."""
        self.upgrade = schema.ensure(self.engine, self.shown)
        if self.upgrade.changed and self.upgrade.before is not None:
            log.warning("state %s upgraded from schema revision %s to %s%s", self.shown,
                        self.upgrade.before, self.upgrade.after,
                        f" (the file before it: {self.upgrade.backup})" if self.upgrade.backup else "")

    # -- lineage and serial -------------------------------------------------------------

    def _meta(self, s: Session, key: str) -> str:
        row = s.get(MetaRow, key)
        assert row is not None
        return row.value

    @staticmethod
    def _bump(s: Session, integrations: Iterable[str]) -> int:
        """The next serial, in one atomic statement (no lost update between two writers), also
        made the serial of each of ``integrations``.

        The update of ``serial`` holds its row until the transaction ends, so writers pass one
        at a time through the read and write of ``serials`` that follow it."""
        meta = table_of(MetaRow)
        value = int(s.connection().execute(
            update(meta).where(meta.c.key == "serial")
            .values(value=cast(cast(meta.c.value, Integer) + 1, Text))
            .returning(meta.c.value)).scalar_one())
        serials = {**StateStore._serials(s), **dict.fromkeys(integrations, value)}
        s.merge(MetaRow(key=SERIALS, value=json.dumps(serials, sort_keys=True)))
        return value

    @staticmethod
    def _serials(s: Session) -> dict[str, int]:
        """Each integration's serial, read afresh (after the lock ``_bump`` takes)."""
        row = s.get(MetaRow, SERIALS, populate_existing=True)
        return json.loads(row.value) if row is not None else {}

    @property
    def lineage(self) -> str:
        with self.session() as s:
            return self._meta(s, "lineage")

    @property
    def serial(self) -> int:
        with self.session() as s:
            return int(self._meta(s, "serial"))

    @property
    def fingerprint_key(self) -> bytes:
        """This state's own random 256-bit key, which keys the fingerprints of secrets the
        platforms never show back (Campsoft's passwords, see ``specs.content.password_digest``).

        Made the first time it is asked for, and never changed: a fingerprint means something
        only against the key it was made with. It never leaves the state (plan files, output
        and reports carry fingerprints, never the key), so a fingerprint cannot be tested
        against guesses by anyone who does not hold the state itself; whoever does reads the
        documents and logins the password rules take in the same rows anyway."""
        if self._fingerprint_key is None:
            with self.session() as s:
                row = s.get(MetaRow, FINGERPRINT_KEY)
                value = row.value if row is not None else None
            if value is None:
                try:
                    with self._session.begin() as s:
                        s.add(MetaRow(key=FINGERPRINT_KEY, value=secrets.token_hex(32)))
                except IntegrityError:
                    pass  # another process made it first: theirs stands
                with self.session() as s:
                    value = self._meta(s, FINGERPRINT_KEY)
            self._fingerprint_key = bytes.fromhex(value)
        return self._fingerprint_key

    # -- resources ----------------------------------------------------------------------

    def known(self, like: Mapping[str, Resource] | None = None) -> Known:
        """Every managed resource as last applied, with lineage and serial read together.

        Attributes equal to those of the resource at the same address in ``like`` reuse that
        resource's mapping rather than keep a copy (nothing mutates attributes)."""
        like = like or {}
        columns = (ResourceRow.address, ResourceRow.integration, ResourceRow.kind,
                   ResourceRow.key, ResourceRow.attributes, ResourceRow.remote_id)
        with self.session() as s:
            # Plain rows, not ORM objects: a third of the time and memory at 100,000 resources.
            resources = {}
            for address, integration, kind, key, attributes, remote_id in s.connection().execute(
                    select(*columns)):
                twin = like.get(address)
                if twin is not None and twin.attrs == attributes:
                    attributes = twin.attrs
                resources[address] = Resource(integration, kind, key, attributes,
                                              remote_id=remote_id)
            return Known(self._meta(s, "lineage"), int(self._meta(s, "serial")), resources,
                         self._serials(s))

    def record(self, resources: Iterable[Resource], *, merge: bool = False) -> int:
        """Upsert resources as applied, in one transaction; returns the new serial.

        With ``merge``, the given attributes are laid over the recorded ones instead of
        replacing them (a change that touched only some fields).
        """
        resources = list(resources)
        with self.session() as s:
            serial = self._bump(s, {r.integration for r in resources})
            self._upsert(s, [(resources, merge)], serial)
            return serial

    @staticmethod
    def _upsert(s: Session, groups: Sequence[tuple[Sequence[Resource], bool]],
                serial: int) -> None:
        """Write groups of (resources, merge) in order, a later group over an earlier one's
        rows: plain statements (one read of the rows that exist, one insert and one update,
        each for many rows), which cost a fraction of the ORM's unit of work."""
        now = _now()
        table, conn = table_of(ResourceRow), s.connection()
        addresses = list(dict.fromkeys(r.address for group, _ in groups for r in group))
        existing: dict[str, tuple[str | None, dict[str, Any]]] = {}
        for i in range(0, len(addresses), _CHUNK):
            query = (select(table.c.address, table.c.remote_id, table.c.attributes)
                     .where(table.c.address.in_(addresses[i : i + _CHUNK])))
            existing.update((a, (rid, attrs)) for a, rid, attrs in conn.execute(query))
        new: dict[str, dict[str, Any]] = {}
        changed: dict[str, dict[str, Any]] = {}
        for resources, merge in groups:
            for res in resources:
                row = new.get(res.address) or changed.get(res.address)
                if row is None:
                    old = existing.get(res.address)
                    row = ({"at": res.address, "remote_id": old[0], "attributes": old[1]}
                           if old is not None else
                           {"address": res.address, "integration": res.integration,
                            "kind": res.kind, "key": res.key, "remote_id": None,
                            "attributes": {}, "observed": {}})
                    (changed if old is not None else new)[res.address] = row
                if res.remote_id is not None:
                    row["remote_id"] = res.remote_id
                row["attributes"] = ({**row["attributes"], **res.attrs} if merge
                                     else dict(res.attrs))
                row["updated_at"], row["serial"] = now, serial
        if new:
            conn.execute(table.insert(), list(new.values()))
        if changed:
            conn.execute(update(table).where(table.c.address == bindparam("at"))
                         .values(remote_id=bindparam("remote_id"),
                                 attributes=bindparam("attributes"),
                                 updated_at=bindparam("updated_at"),
                                 serial=bindparam("serial")),
                         list(changed.values()))

    def remove(self, addresses: Iterable[str]) -> int:
        """Delete the rows of resources no longer managed, in one transaction."""
        addresses = list(addresses)
        with self.session() as s:
            serial = self._bump(s, _integrations_of(addresses))
            self._delete(s, addresses)
            return serial

    @staticmethod
    def _delete(s: Session, addresses: list[str]) -> None:
        for i in range(0, len(addresses), _CHUNK):
            chunk = addresses[i : i + _CHUNK]
            s.execute(delete(ResourceRow).where(ResourceRow.address.in_(chunk)))

    def refresh_observed(self, observed: Mapping[str, Mapping[str, Any]]) -> None:
        """Update the platform-side facts of managed rows that changed (not a state write:
        the serial does not move, since plans are not computed from these facts).

        A digest of all the facts and the serial is kept: when neither moved since the last
        refresh (a no-op plan on a quiet estate), the rows are not even read."""
        with self.session() as s:
            text = json.dumps(observed, sort_keys=True, separators=(",", ":"), default=str)
            digest = f"{self._meta(s, 'serial')}:{hashlib.sha256(text.encode()).hexdigest()}"
            last = s.get(MetaRow, "observed_digest")
            if last is not None and last.value == digest:
                return
            current = s.connection().execute(select(ResourceRow.address, ResourceRow.observed))
            moved = [{"at": address, "facts": dict(observed[address])}
                     for address, facts in current
                     if address in observed and facts != observed[address]]
            if moved:
                table = table_of(ResourceRow)
                s.connection().execute(
                    update(table).where(table.c.address == bindparam("at"))
                    .values(observed=bindparam("facts")), moved)
            s.merge(MetaRow(key="observed_digest", value=digest))

    def rows(
        self, *, integration: str | None = None, kind: str | None = None
    ) -> list[ResourceRow]:
        """Managed resource rows, sorted by address, optionally filtered."""
        query = select(ResourceRow).order_by(ResourceRow.integration, ResourceRow.kind, ResourceRow.key)
        if integration:
            query = query.where(ResourceRow.integration == integration)
        if kind:
            query = query.where(ResourceRow.kind == kind)
        with self.session() as s:
            return list(s.execute(query).scalars())

    # -- catalogs -----------------------------------------------------------------------

    def save_catalog(self, integration: str, name: str, entries: Iterable[Mapping[str, Any]]) -> None:
        with self.session() as s:
            s.merge(CatalogRow(integration=integration, name=name,
                               entries=[dict(e) for e in entries], synced_at=_now()))

    def catalog(self, integration: str, name: str) -> list[dict[str, Any]] | None:
        with self.session() as s:
            row = s.get(CatalogRow, (integration, name))
            return list(row.entries) if row else None

    # -- apply journal ------------------------------------------------------------------

    def journal_intent(self, run_id: int | None, change: Change) -> int:
        """Record that ``change`` is about to be sent, before sending it."""
        return self.commit(Writes(intents=[change]), run_id)[0]

    def commit(self, writes: Writes, run_id: int | None = None) -> list[int]:
        """Commit what changes that landed close together wrote, in one transaction: the rows
        they applied (one serial for them all), their journal outcomes, then the intents of
        the changes about to be sent; returns the intents' journal ids, in order.

        One transaction for many changes is what makes an apply go at the platform's rate
        (each transaction costs about a millisecond, a change used to take three); the
        journal's guarantee is unchanged: an intent is committed before its change is sent."""
        now = _now()
        with self.session() as s:
            if writes.records or writes.removals:
                serial = self._bump(s, {r.integration for group, _ in writes.records
                                        for r in group} | _integrations_of(writes.removals))
                self._delete(s, writes.removals)
                self._upsert(s, writes.records, serial)
            if writes.outcomes:
                table = table_of(JournalRow)
                s.connection().execute(
                    update(table).where(table.c.id == bindparam("entry"))
                    .values(outcome=bindparam("verdict"), detail=bindparam("text"),
                            finished_at=now),
                    [{"entry": entry, "verdict": verdict, "text": detail[:1000]}
                     for entry, verdict, detail in writes.outcomes])
            if not writes.intents:
                return []
            journal = table_of(JournalRow)
            rows = [{"run_id": run_id, "change_id": c.id, "integration": c.integration,
                     "kind": c.kind, "action": c.action.value, "keys": list(c.keys),
                     "intent_at": now, "outcome": "pending", "detail": ""}
                    for c in writes.intents]
            ids = s.connection().execute(
                journal.insert().returning(journal.c.id, sort_by_parameter_order=True), rows)
            return [int(entry) for entry in ids.scalars()]

    def journal_pending(self) -> list[JournalRow]:
        """Changes whose outcome is not known: their apply died while they were in flight
        (pending), or the platform never answered for sure (unknown: a timeout or dropped
        connection after the retries, when the platform may or may not have done it)."""
        with self.session() as s:
            query = (select(JournalRow).where(JournalRow.outcome.in_(("pending", "unknown")))
                     .order_by(JournalRow.id))
            return list(s.execute(query).scalars())

    def journal_recover(self, entries: Iterable[int], detail: str) -> None:
        """Close entries once the platform was read again and planning accounted for them."""
        with self.session() as s:
            s.execute(update(JournalRow).where(JournalRow.id.in_(list(entries)))
                      .values(outcome="recovered", detail=detail, finished_at=_now()))

    def journal(self, run_id: int | None = None) -> list[JournalRow]:
        with self.session() as s:
            query = select(JournalRow).order_by(JournalRow.id)
            if run_id is not None:
                query = query.where(JournalRow.run_id == run_id)
            return list(s.execute(query).scalars())

    # -- run history --------------------------------------------------------------------

    def begin_run(self, command: str, plan_digest: str | None = None) -> int:
        with self.session() as s:
            run = RunRow(command=command, user=who(), started_at=_now(), plan_digest=plan_digest,
                         outcome="running", summary={})
            s.add(run)
            s.flush()
            return run.id

    def finish_run(self, run_id: int, outcome: str, summary: Mapping[str, Any]) -> None:
        with self.session() as s:
            run = s.get(RunRow, run_id)
            if run is not None:
                run.finished_at = _now()
                run.outcome = outcome
                run.summary = dict(summary)

    def runs(self, limit: int = 20) -> list[RunRow]:
        with self.session() as s:
            return list(s.execute(select(RunRow).order_by(RunRow.id.desc()).limit(limit)).scalars())

    # -- plan files -----------------------------------------------------------------------

    def record_plan_file(self, digest: str, *, serial: int, created_at: str,
                         expires_at: datetime | None, fields: Mapping[str, str]) -> None:
        """Record a plan file `plan --out` is about to write, by the sha256 of its bytes, and
        prune the rows of plans that expired. Not a write of resources: the serial stays."""
        now = _now()
        expires = expires_at.astimezone(UTC).replace(tzinfo=None) if expires_at else None
        with self.session() as s:
            s.execute(delete(PlanFileRow).where(PlanFileRow.expires_at < now))
            s.merge(PlanFileRow(digest=digest, lineage=self._meta(s, "lineage"), serial=serial,
                                created_at=created_at, expires_at=expires, fields=dict(fields),
                                recorded_at=now, holder=who()))

    def plan_file(self, digest: str) -> PlanFileRow | None:
        """The record of the plan file whose bytes have this sha256, if this state holds one."""
        with self.session() as s:
            row = s.get(PlanFileRow, digest)
            return row if row is not None and row.lineage == self._meta(s, "lineage") else None

    def plan_files_made_at(self, created_at: str) -> list[PlanFileRow]:
        """The plan files recorded as made at ``created_at`` (to tell what an edit changed)."""
        with self.session() as s:
            query = select(PlanFileRow).where(PlanFileRow.created_at == created_at)
            return list(s.execute(query).scalars())

    # -- drift, first seen ---------------------------------------------------------------

    def drift_seen(
        self, found: Iterable[tuple[str, str, str]], checked: Iterable[str],
        now: datetime | None = None,
    ) -> dict[tuple[str, str], datetime]:
        """Record the drift one run found, as (address, kind, integration) triples, and return
        when each was first seen (naive UTC), keyed by (address, kind).

        A drift recorded before keeps its first time; one that was recorded for an integration
        in ``checked`` but is not found any more is deleted (fixed, or gone), so that drifting
        again later starts afresh. Integrations not checked keep their rows untouched.
        """
        now = now or _now()
        current = {(address, kind): integration for address, kind, integration in found}
        with self.session() as s:
            rows = s.execute(select(DriftSeenRow).where(
                DriftSeenRow.integration.in_(sorted(set(checked))))).scalars()
            first: dict[tuple[str, str], datetime] = {}
            for row in rows:
                key = (row.address, row.kind)
                if key in current:
                    row.last_seen = now
                    first[key] = row.first_seen
                else:
                    s.delete(row)
            for (address, kind), integration in current.items():
                if (address, kind) not in first:
                    s.add(DriftSeenRow(address=address, kind=kind, integration=integration,
                                       first_seen=now, last_seen=now))
                    first[(address, kind)] = now
            return first

    def close(self) -> None:
        log.info("state %s: %d SQL statements", self.shown, self.statements)
        self.engine.dispose()


def _integrations_of(addresses: Iterable[str]) -> set[str]:
    return {at.partition(".")[0] for at in addresses}


def who() -> str:
    """This process as a lock holder or run author: user@host:pid."""
    try:
        user = getpass.getuser()
    except Exception:  # no login name in some containers
        user = "unknown"
    return f"{user}@{socket.gethostname()}:{os.getpid()}"
