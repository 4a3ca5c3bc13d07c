"""Per-integration locks: a run holds the integrations it touches, so runs on others go on.

A plan, apply, drift, sync or import takes ``integration:<name>`` for each integration it reads
or writes, all of them or none (no run ever holds some and waits for the rest, so two runs
cannot deadlock), in sorted order. Every lock has a row in ``locks`` naming its holder, for
`reconcile lock list` and for the message of a run that has to wait.

- On **PostgreSQL** the lock itself is a session advisory lock, taken on a connection the run
  keeps open for as long as it holds it: when the holder's process ends, killed or not, its
  connection closes and the server frees the lock at once. The row only names the holder; a row
  whose advisory lock nobody holds is a leftover of a killed holder, and is not listed.
- On **SQLite** the row is the lock (a lease): taking it is an INSERT on the name, atomic; a
  daemon thread refreshes its heartbeat while the run holds it; a lock whose expiry passed (the
  holder was killed, the machine rebooted) is taken over with a warning, and so is, at once, the
  lock of a holder on this machine whose process is gone.

Holder rows are heartbeated on both backends, so a schema upgrade can tell a live holder from
a dead one without asking the server.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, delete, select, text, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from reconciler.errors import LockError, StateError
from reconciler.state.store import StateStore, who
from reconciler.state.tables import LockRow, table_of

log = logging.getLogger(__name__)

PREFIX = "integration:"
TTL = timedelta(seconds=30)  # a holder silent this long is dead
HEARTBEAT = 5.0  # seconds between heartbeats
POLL = 0.25  # seconds between attempts while waiting
# the first key of PostgreSQL's two-int advisory locks for integration locks (the schema
# upgrade uses 0x5EC0); the second is a 31-bit CRC of the lock's name
PG_CLASS = 0x5EC1


def names(integrations: Iterable[str]) -> list[str]:
    """The lock names of ``integrations``, in the order they are taken."""
    return sorted({PREFIX + name for name in integrations})


@dataclass(frozen=True)
class Held:
    """The locks one run holds: one id for them all (``reconcile lock release ID``)."""

    id: str
    integrations: tuple[str, ...]
    holder: str
    operation: str
    created_at: datetime
    heartbeat_at: datetime

    def describe(self) -> str:
        return (f"lock {self.id} on {', '.join(self.integrations)} held by {self.holder} for "
                f"{self.operation} since {self.created_at:%Y-%m-%d %H:%M:%S} UTC (last "
                f"heartbeat {self.heartbeat_at:%H:%M:%S} UTC)")


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _run_of(row_id: str) -> str:
    return row_id.partition(".")[0]


def _group(rows: Iterable[LockRow]) -> list[Held]:
    runs: dict[str, list[LockRow]] = {}
    for row in rows:
        runs.setdefault(_run_of(row.id), []).append(row)
    return [Held(run, tuple(sorted(r.name.removeprefix(PREFIX) for r in held)), held[0].holder,
                 held[0].operation, min(r.created_at for r in held),
                 min(r.heartbeat_at for r in held))
            for run, held in sorted(runs.items(), key=lambda item: item[1][0].created_at)]


def _pg_key(name: str) -> int:
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


def _pg_live(conn: Connection) -> set[int]:
    """The second keys of the integration advisory locks someone holds in this database."""
    return set(conn.execute(text(
        "SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = :c "
        "AND objsubid = 2 AND database = (SELECT oid FROM pg_database "
        "WHERE datname = current_database())"), {"c": PG_CLASS}).scalars())


def _alive(store: StateStore, rows: Sequence[LockRow], conn: Connection) -> list[LockRow]:
    """The rows whose holder still holds the lock."""
    if store.engine.dialect.name == "postgresql":
        live = _pg_live(conn)
        return [row for row in rows if _pg_key(row.name) in live]
    now = _now()
    return [row for row in rows if row.expires_at >= now and not _gone(row.holder)]


def current(store: StateStore) -> list[Held]:
    """Who holds which integrations now, one entry per run."""
    with store.session() as s:
        rows = list(s.execute(select(LockRow)).scalars())
        return _group(_alive(store, rows, s.connection()))


def release(store: StateStore, lock_id: str) -> bool:
    """Remove a run's locks by id (for `reconcile lock release`); False when no such lock.

    On PostgreSQL a live holder's lock is its server session's: it cannot be taken from it
    here (stop that run: its lock ends with its connection), and only a leftover row is removed.
    """
    with store.session() as s:
        rows = [row for row in s.execute(select(LockRow)).scalars() if _run_of(row.id) == lock_id]
        if not rows:
            return False
        if store.engine.dialect.name == "postgresql" and _alive(store, rows, s.connection()):
            raise LockError(f"lock {lock_id} is held by a live PostgreSQL session "
                            f"({rows[0].holder}): stop that run, and its lock ends with its "
                            f"connection")
        s.execute(delete(LockRow).where(LockRow.id.in_([row.id for row in rows])))
        return True


# -- taking them ------------------------------------------------------------------------


class _Take:
    """One attempt at a run's locks: all of them, or none and the run holding one of them."""

    def __init__(self, store: StateStore, operation: str, wanted: list[str],
                 warn: Callable[[str], None]) -> None:
        self.store, self.operation, self.wanted, self.warn = store, operation, wanted, warn
        self.id = secrets.token_hex(8)
        self.pg = store.engine.dialect.name == "postgresql"
        self.session: Connection | None = None  # PostgreSQL: the connection holding the locks

    def rows(self) -> list[dict[str, object]]:
        now = _now()
        return [{"name": name, "id": f"{self.id}.{n}", "holder": who(),
                 "operation": self.operation, "created_at": now, "heartbeat_at": now,
                 "expires_at": now + TTL} for n, name in enumerate(self.wanted)]

    def attempt(self) -> Held | None:
        """None when taken, else who holds (one of) them."""
        return self._attempt_pg() if self.pg else self._attempt_lease()

    def _attempt_lease(self) -> Held | None:
        with self.store.session() as s:
            held = list(s.execute(select(LockRow).where(LockRow.name.in_(self.wanted))).scalars())
            alive = _alive(self.store, held, s.connection())
            if alive:
                return _group(alive)[0]
            for run in _group(held):
                self.warn(f"taking over the lock from a holder that stopped answering: "
                          f"{run.describe()}")
            if held:
                s.execute(delete(LockRow).where(LockRow.name.in_(self.wanted)))
        try:
            with self.store.engine.begin() as conn:  # all rows in one transaction, or none
                conn.execute(table_of(LockRow).insert(), self.rows())
        except IntegrityError:  # another run took one between our read and our insert
            return self._holder() or self._attempt_lease()
        return None

    def _attempt_pg(self) -> Held | None:
        if self.session is None:
            self.session = self.store.engine.connect().execution_options(
                isolation_level="AUTOCOMMIT")
        got: list[str] = []
        for name in self.wanted:
            if not self.session.execute(text("SELECT pg_try_advisory_lock(:c, :k)"),
                                        {"c": PG_CLASS, "k": _pg_key(name)}).scalar():
                self._unlock(got)
                return self._holder(name) or Held("?", (name.removeprefix(PREFIX),),
                                                  "another session (not named yet)", "?",
                                                  _now(), _now())
            got.append(name)
        with self.store.session() as s:  # we hold them: any row under these names is stale
            s.execute(delete(LockRow).where(LockRow.name.in_(self.wanted)))
            s.connection().execute(table_of(LockRow).insert(), self.rows())
        return None

    def _unlock(self, taken: Iterable[str]) -> None:
        assert self.session is not None
        for name in taken:
            self.session.execute(text("SELECT pg_advisory_unlock(:c, :k)"),
                                 {"c": PG_CLASS, "k": _pg_key(name)})

    def _holder(self, name: str | None = None) -> Held | None:
        with self.store.session() as s:
            rows = s.execute(select(LockRow).where(
                LockRow.name.in_([name] if name else self.wanted))).scalars()
            runs = _group(rows)
        return runs[0] if runs else None

    def release(self) -> None:
        try:
            with self.store.session() as s:
                s.execute(delete(LockRow).where(LockRow.id.like(f"{self.id}.%")))
        finally:
            if self.session is not None:
                try:
                    self._unlock(self.wanted)
                except SQLAlchemyError as exc:  # the connection's end frees them anyway
                    log.warning("could not unlock %s: %s", ", ".join(self.wanted), exc)
                self.session.close()

    def abandon(self) -> None:
        if self.session is not None:
            self.session.close()


@contextmanager
def locked(
    store: StateStore,
    operation: str,
    integrations: Iterable[str],
    *,
    timeout: float = 0.0,
    warn: Callable[[str], None] = log.warning,
) -> Iterator[str]:
    """Hold the locks of ``integrations`` for the block; waits up to ``timeout`` seconds for
    a holder to finish. Yields the run's lock id.

    Raises LockError naming the holder and its lock id when it cannot."""
    take = _Take(store, operation, names(integrations), warn)
    if not take.wanted:  # nothing to lock (a run of no integration)
        yield take.id
        return
    try:
        _wait_for(take, timeout)
    except BaseException:
        take.abandon()
        raise
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(store, take.id, stop), daemon=True)
    beat.start()
    try:
        yield take.id
    finally:
        stop.set()
        beat.join(timeout=HEARTBEAT + 1)
        take.release()


def _wait_for(take: _Take, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    waiting = False
    while True:
        try:
            holder = take.attempt()
        except SQLAlchemyError as exc:
            raise StateError(f"state {take.store.shown!r}: {exc.__class__.__name__}: "
                             f"{exc}") from None
        if holder is None:
            return
        if time.monotonic() >= deadline:
            raise LockError(
                f"{', '.join(holder.integrations)} is locked: {holder.describe()}. Wait for it "
                f"to finish, pass --lock-timeout to wait longer, or, if that run is gone, "
                f"`reconcile lock release {holder.id}`")
        if not waiting:
            take.warn(f"waiting up to {timeout:g}s for {holder.describe()}")
            waiting = True
        time.sleep(POLL)


def _heartbeat(store: StateStore, lock_id: str, stop: threading.Event) -> None:
    while not stop.wait(HEARTBEAT):
        now = _now()
        try:
            with store.session() as s:
                s.execute(update(LockRow).where(LockRow.id.like(f"{lock_id}.%"))
                          .values(heartbeat_at=now, expires_at=now + TTL))
        except StateError as exc:  # keep running: the lock expires if the state stays away
            log.warning("lock heartbeat failed: %s", exc)


def _gone(holder: str) -> bool:
    """True when the holder ran on this machine and its process no longer exists: no need to
    wait for its heartbeat to expire (a holder elsewhere is judged by its heartbeat alone)."""
    user_host, _, pid = holder.rpartition(":")
    if user_host.partition("@")[2] != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
