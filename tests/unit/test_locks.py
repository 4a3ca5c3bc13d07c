"""Integration locks: one holder per integration, runs on others at once, waiting, naming the
holder, all-or-none (no deadlock), dead holders freed (a lease on SQLite, the holder's own
connection on PostgreSQL)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import update

from reconciler.errors import LockError
from reconciler.state import StateStore, locks
from reconciler.state.store import who
from reconciler.state.tables import LockRow


@pytest.fixture
def store(backend_url: str) -> StateStore:
    return StateStore(backend_url)


@pytest.fixture
def lease_store(tmp_path: Path) -> StateStore:
    """SQLite's: the lock is a lease there (on PostgreSQL it is the holder's session)."""
    return StateStore(f"sqlite:///{tmp_path / 'state' / 'reconciler.db'}")


def _pg(store: StateStore) -> bool:
    return store.engine.dialect.name == "postgresql"


def test_second_holder_fails_naming_the_holder_and_the_lock_id(store: StateStore) -> None:
    with locks.locked(store, "apply", ["stfc-sp"]) as lock_id:
        other = StateStore(store.url)
        started = time.monotonic()
        waits: list[str] = []
        with pytest.raises(LockError) as info, locks.locked(other, "plan", ["stfc-sp", "voip"],
                                                           timeout=0.6, warn=waits.append):
            pass
        waited = time.monotonic() - started
        message = str(info.value)
        assert f"stfc-sp is locked: lock {lock_id} on stfc-sp held by {who()}" in message
        assert "for apply" in message and f"reconcile lock release {lock_id}" in message
        assert 0.5 <= waited < 5
        assert len(waits) == 1 and waits[0].startswith("waiting up to 0.6s for lock " + lock_id)
        # all or none: the free integration was not kept by the run that could not have both
        assert [run.integrations for run in locks.current(store)] == [("stfc-sp",)]
    assert locks.current(store) == []  # released on exit


def test_runs_on_different_integrations_hold_their_locks_at_once(store: StateStore) -> None:
    with locks.locked(store, "apply", ["stfc-sp"]) as first, \
            locks.locked(StateStore(store.url), "apply", ["qualifica", "campsoft"]) as second:
        held = {run.id: run.integrations for run in locks.current(store)}
        assert held == {first: ("stfc-sp",), second: ("campsoft", "qualifica")}


def test_a_waiting_run_gets_the_lock_when_the_holder_finishes(store: StateStore) -> None:
    got: list[str] = []

    def second() -> None:
        with locks.locked(StateStore(store.url), "drift", ["stfc-sp"], timeout=10) as lock_id:
            got.append(lock_id)

    with locks.locked(store, "apply", ["stfc-sp", "qualifica"]) as first_id:
        waiter = threading.Thread(target=second)
        waiter.start()
        time.sleep(0.5)
        assert got == []
    waiter.join(timeout=10)
    assert len(got) == 1 and got[0] != first_id


def test_crossed_runs_never_deadlock(store: StateStore) -> None:
    """Many threads asking for overlapping sets in every order all finish: a run never holds
    part of its set while it waits for the rest."""
    sets = [["a", "b"], ["b", "a"], ["b", "c"], ["c", "a"], ["a", "b", "c"], ["c"]] * 2
    done: list[str] = []
    inside: list[set[str]] = []
    guard = threading.Lock()

    def run(names: list[str]) -> None:
        with locks.locked(StateStore(store.url), "apply", names, timeout=30):
            with guard:
                assert not any(set(names) & held for held in inside)  # exclusive
                inside.append(set(names))
            time.sleep(0.02)
            with guard:
                inside.remove(set(names))
        done.append(",".join(names))

    threads = [threading.Thread(target=run, args=(names,)) for names in sets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=40)
    assert len(done) == len(sets)


def test_a_dead_holders_lease_is_taken_over_with_a_warning(lease_store: StateStore) -> None:
    store = lease_store
    warnings: list[str] = []
    with locks.locked(store, "apply", ["stfc-sp"]) as dead_id:
        with store.session() as s:  # the holder stops answering: its expiry passes
            s.execute(update(LockRow).values(expires_at=datetime(2000, 1, 1)))
        with locks.locked(StateStore(store.url), "apply", ["stfc-sp"],
                          warn=warnings.append) as new_id:
            assert new_id != dead_id
            assert [run.id for run in locks.current(store)] == [new_id]
    assert len(warnings) == 1 and dead_id in warnings[0] and "stopped answering" in warnings[0]


def test_heartbeat_pushes_the_expiry(store: StateStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(locks, "HEARTBEAT", 0.1)
    with locks.locked(store, "apply", ["stfc-sp"]):
        with store.session() as s:
            before = s.get(LockRow, "integration:stfc-sp")
        time.sleep(0.5)
        with store.session() as s:
            after = s.get(LockRow, "integration:stfc-sp")
    assert before is not None and after is not None
    assert after.heartbeat_at > before.heartbeat_at and after.expires_at > before.expires_at


def test_release_by_id(store: StateStore) -> None:
    with locks.locked(store, "apply", ["stfc-sp", "voip"]) as lock_id:
        assert locks.release(store, "no-such-id") is False
        if _pg(store):  # a live session's lock is not ours to take
            with pytest.raises(LockError, match="held by a live PostgreSQL session"):
                locks.release(store, lock_id)
        else:
            assert locks.release(store, lock_id) is True
            assert locks.current(store) == []


def test_a_local_holder_whose_process_is_gone_is_taken_over_at_once(
        lease_store: StateStore) -> None:
    store = lease_store
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    holder = who().rpartition(":")[0] + ":" + dead.stdout.strip()
    warnings: list[str] = []
    with locks.locked(store, "apply", ["stfc-sp"]) as first:
        with store.session() as s:
            s.execute(update(LockRow).values(holder=holder))
        with locks.locked(StateStore(store.url), "plan", ["stfc-sp"],
                          warn=warnings.append) as second:
            assert second != first
    assert warnings and holder in warnings[0]


def test_a_sigkilled_holder_frees_its_lock_at_once(store: StateStore) -> None:
    """A holder killed mid-run: on PostgreSQL its connection ends and the server frees the lock
    at once; on SQLite the holder is on this machine and its process is gone, so too."""
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from reconciler.state import StateStore, locks
        with locks.locked(StateStore({store.url!r}), "apply", ["stfc-sp"]) as lock_id:
            print(lock_id, flush=True)
            time.sleep(60)
        """)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        held = child.stdout.readline().strip()
        assert [run.id for run in locks.current(store)] == [held]
        child.kill()
        child.wait(timeout=10)
        started = time.monotonic()
        with locks.locked(StateStore(store.url), "apply", ["stfc-sp"], timeout=5,
                          warn=lambda _: None) as mine:
            took = time.monotonic() - started
            assert [run.id for run in locks.current(store)] == [mine]
        assert took < 2  # at once: not after the 30 s lease
    finally:
        child.kill()
