"""What the safe-apply suites of every platform do alike: start over from empty platforms, kill an
apply somewhere in its run and check that the next run recovers it, apply until converged under
injected faults, and find writes that landed twice. Every loop here is bounded in count and in
time."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any, Protocol

from tests.e2e.conftest import Cli, state_url_of, wait_for_pending_change

DB = "reconciler.db"


class Served(Protocol):
    """A served simulator as these helpers drive it (ContentSim, VoipSim, the STFC Sim)."""

    def counters(self) -> dict[str, Any]: ...

    def configure(self, **settings: Any) -> None: ...


def every_write_once(platforms: dict[str, Served]) -> dict[str, dict[str, int]]:
    """Each platform's writes that were counted more than once per key and operation (by the
    name given to the platform: ``{"campsoft": sim}``)."""
    return {f"{name}:{key}": ops for name, platform in platforms.items()
            for key, ops in platform.counters()["writes"].items()
            if any(n != 1 for n in ops.values())}


def forget_state(cli: Cli) -> None:
    """A fresh state, as before a first apply (the SQLite file removed, or every table of a
    PostgreSQL state dropped)."""
    if "RECONCILER_STATE" in cli.env:
        from sqlalchemy import create_engine, text

        from reconciler.state.store import engine_url
        from reconciler.state.tables import Base

        engine = create_engine(engine_url(cli.env["RECONCILER_STATE"]))
        try:
            Base.metadata.drop_all(engine)
            with engine.begin() as conn:
                conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        finally:
            engine.dispose()
        return
    for path in (cli.cwd / "state").glob(DB + "*"):
        path.unlink()


def bounded_trials(count: int, seconds: float) -> Iterator[int]:
    """Trial numbers 0..count-1, stopping early once ``seconds`` have passed (a slow machine
    runs fewer trials, not forever); the first trial always runs."""
    started = time.monotonic()
    for trial in range(count):
        if trial and time.monotonic() - started > seconds:
            return
        yield trial


def kill_an_apply(cli: Cli, rng: random.Random, platforms: list[Served], *, latency: float,
                  longest: float) -> None:
    """Start an apply with each call slowed by ``latency`` (in flight long enough to be cut),
    and SIGKILL it once its changes have begun (however long startup takes on a loaded
    machine), somewhere in its run: at once, or up to ``longest`` seconds later."""
    for platform in platforms:
        platform.configure(latency=latency)
    proc = subprocess.Popen([sys.executable, "-m", "reconciler", "apply", "--auto-approve"],
                            cwd=cli.cwd, env=cli.env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    changing = wait_for_pending_change(cli, proc, deadline=30)
    time.sleep(rng.uniform(0.0, longest) if changing else 0)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    for platform in platforms:
        platform.configure(latency=0)


def recovered_by_the_next_run(cli: Cli, trial: int) -> int:
    """Apply again after a kill: every change the killed run left pending is reported as left
    unfinished, the plan that follows is empty and no journal entry stays pending. Returns how
    many changes had been interrupted."""
    from reconciler.state import StateStore

    store = StateStore(state_url_of(cli))
    try:
        interrupted = {row.change_id for row in store.journal_pending()}
        again = cli("apply", "--auto-approve", check=0)
        for change_id in interrupted:
            assert f"left unfinished: {change_id}" in again.stderr, (trial, again.stderr)
        cli("plan", "--detailed-exitcode", check=0)
        assert store.journal_pending() == [], trial
    finally:
        store.close()
    return len(interrupted)


def apply_under_faults(cli: Cli, *, runs: int = 3, seconds: float = 60) -> str:
    """Apply (verbosely) until a run succeeds, at most ``runs`` times and while ``seconds``
    last: retries inside a run absorb most faults, a rerun the rest. Returns the runs' logs;
    fails when no run succeeded."""
    logs, deadline = "", time.monotonic() + seconds
    for attempt in range(runs):
        if attempt and time.monotonic() > deadline:
            break
        run = cli("-vv", "apply", "--auto-approve")
        logs += run.stderr
        if run.returncode == 0:
            return logs
    raise AssertionError(f"no apply succeeded under faults\n{run.stdout}\n{logs}")


NO_FAULT_RATES = {"error_rate": 0, "rate_limit_rate": 0, "drop_rate": 0, "lost_response_rate": 0,
                  "latency": 0}
