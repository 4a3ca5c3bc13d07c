"""The state lock: one holder at a time, waiting, naming the holder, dead holders taken over."""

from __future__ import annotations

import threading
import time
from datetime import datetime

import pytest
from sqlalchemy import update

from reconciler.errors import LockError
from reconciler.state import StateStore, locks
from reconciler.state.tables import LockRow


@pytest.fixture
def store(backend_url: str) -> StateStore:
    return StateStore(backend_url)


def test_second_holder_fails_naming_the_holder_and_the_lock_id(store: StateStore) -> None:
    with locks.locked(store, "apply") as lock_id:
        other = StateStore(store.url)
        started = time.monotonic()
        with pytest.raises(LockError) as info, locks.locked(other, "plan", timeout=0.6):
            pass
        waited = time.monotonic() - started
        message = str(info.value)
        assert lock_id in message and "for apply" in message and "@" in message
        assert f"reconcile lock release {lock_id}" in message
        assert 0.5 <= waited < 5
    assert locks.current(store) == []  # released on exit


def test_a_waiting_run_gets_the_lock_when_the_holder_finishes(store: StateStore) -> None:
    got: list[str] = []

    def second() -> None:
        with locks.locked(StateStore(store.url), "drift", timeout=10) as lock_id:
            got.append(lock_id)

    with locks.locked(store, "apply") as first_id:
        waiter = threading.Thread(target=second)
        waiter.start()
        time.sleep(0.5)
        assert got == []
    waiter.join(timeout=10)
    assert len(got) == 1 and got[0] != first_id


def test_a_dead_holders_lock_is_taken_over_with_a_warning(store: StateStore) -> None:
    warnings: list[str] = []
    with locks.locked(store, "apply") as dead_id:
        with store.session() as s:  # the holder stops answering: its expiry passes
            s.execute(update(LockRow).values(expires_at=datetime(2000, 1, 1)))
        with locks.locked(StateStore(store.url), "apply", warn=warnings.append) as new_id:
            assert new_id != dead_id
            assert [row.id for row in locks.current(store)] == [new_id]
    assert len(warnings) == 1 and dead_id in warnings[0] and "stopped answering" in warnings[0]


def test_heartbeat_pushes_the_expiry(store: StateStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(locks, "HEARTBEAT", 0.1)
    with locks.locked(store, "apply"):
        (before,) = locks.current(store)
        time.sleep(0.5)
        (after,) = locks.current(store)
    assert after.heartbeat_at > before.heartbeat_at and after.expires_at > before.expires_at


def test_release_by_id(store: StateStore) -> None:
    with locks.locked(store, "apply") as lock_id:
        assert locks.release(store, "no-such-id") is False
        assert locks.release(store, lock_id) is True
        assert locks.current(store) == []


def test_a_local_holder_whose_process_is_gone_is_taken_over_at_once(store: StateStore) -> None:
    import subprocess
    import sys

    from reconciler.state.store import who

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    holder = who().rpartition(":")[0] + ":" + dead.stdout.strip()
    warnings: list[str] = []
    with locks.locked(store, "apply") as first:
        with store.session() as s:
            s.execute(update(LockRow).values(holder=holder))
        with locks.locked(StateStore(store.url), "plan", warn=warnings.append) as second:
            assert second != first
    assert warnings and holder in warnings[0]
