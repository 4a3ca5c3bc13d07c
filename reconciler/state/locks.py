"""The state lock: one plan, apply or drift at a time per state.

The lock is a row in the state database itself, so it works for every backend the state works
for, with no other service. Taking it is an INSERT on a fixed primary key, atomic in SQLite and
PostgreSQL alike. While a run holds it, a daemon thread refreshes its heartbeat; a lock whose
expiry passed (the holder was killed, the machine rebooted) is taken over with a warning, and so
is, at once, the lock of a holder on this machine whose process is gone.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from reconciler.errors import LockError, StateError
from reconciler.state.store import StateStore, who
from reconciler.state.tables import LockRow, table_of

log = logging.getLogger(__name__)

NAME = "state"
TTL = timedelta(seconds=30)  # a holder silent this long is dead
HEARTBEAT = 5.0  # seconds between heartbeats
POLL = 0.25  # seconds between attempts while waiting


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def describe(row: LockRow) -> str:
    return (f"lock {row.id} held by {row.holder} for {row.operation} since "
            f"{row.created_at:%Y-%m-%d %H:%M:%S} UTC (last heartbeat "
            f"{row.heartbeat_at:%H:%M:%S} UTC)")


def current(store: StateStore) -> list[LockRow]:
    with store.session() as s:
        return list(s.execute(select(LockRow)).scalars())


def release(store: StateStore, lock_id: str) -> bool:
    """Remove a lock by id (for `reconcile lock release`); False when no such lock."""
    with store.session() as s:
        # on the session's connection: a Core result, which has the row count
        return bool(s.connection().execute(delete(LockRow).where(LockRow.id == lock_id)).rowcount)


def _try_take(
    store: StateStore, operation: str, warn: Callable[[str], None]
) -> tuple[bool, LockRow]:
    """(True, our lock) when taken, else (False, the live holder's lock)."""
    now = _now()
    mine = LockRow(name=NAME, id=str(uuid.uuid4()), holder=who(), operation=operation,
                   created_at=now, heartbeat_at=now, expires_at=now + TTL)
    with store.session() as s:
        held = s.get(LockRow, NAME)
        if held is not None and held.expires_at >= now and not _gone(held.holder):
            return False, held
        if held is not None:
            warn(f"taking over the state lock from a holder that stopped answering: "
                 f"{describe(held)}")
            s.execute(delete(LockRow).where(LockRow.id == held.id))
    try:
        with store.engine.begin() as conn:
            conn.execute(table_of(LockRow).insert().values(
                name=mine.name, id=mine.id, holder=mine.holder, operation=mine.operation,
                created_at=mine.created_at, heartbeat_at=mine.heartbeat_at,
                expires_at=mine.expires_at))
    except IntegrityError:
        with store.session() as s:
            held = s.get(LockRow, NAME)
        return (False, held) if held is not None else _try_take(store, operation, warn)
    return True, mine


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


@contextmanager
def locked(
    store: StateStore,
    operation: str,
    *,
    timeout: float = 0.0,
    warn: Callable[[str], None] = log.warning,
) -> Iterator[str]:
    """Hold the state lock for the block; waits up to ``timeout`` seconds for a holder to finish.

    Yields the lock id. Raises LockError naming the holder and the lock id when it cannot.
    """
    deadline = time.monotonic() + timeout
    while True:
        taken, row = _try_take(store, operation, warn)
        if taken:
            break
        if time.monotonic() >= deadline:
            raise LockError(
                f"the state is locked: {describe(row)}. Wait for it to finish, pass "
                f"--lock-timeout to wait longer, or, if that run is gone, "
                f"`reconcile lock release {row.id}`"
            )
        time.sleep(POLL)
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(store, row.id, stop), daemon=True)
    beat.start()
    try:
        yield row.id
    finally:
        stop.set()
        beat.join(timeout=HEARTBEAT + 1)
        release(store, row.id)


def _heartbeat(store: StateStore, lock_id: str, stop: threading.Event) -> None:
    while not stop.wait(HEARTBEAT):
        now = _now()
        try:
            with store.session() as s:
                s.execute(update(LockRow).where(LockRow.id == lock_id)
                          .values(heartbeat_at=now, expires_at=now + TTL))
        except StateError as exc:  # keep running: the lock expires if the state stays away
            log.warning("state lock heartbeat failed: %s", exc)
