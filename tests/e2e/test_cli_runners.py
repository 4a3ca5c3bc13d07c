"""Several runners on one state, on SQLite and PostgreSQL: applies on different integrations
at once, one waiting for another on the same integration, a killed holder, a state moved
between backends, eight schedulers sharing 200 due jobs.

The real CLI as subprocesses against the served Qualifica and Campsoft simulators, the state
given in RECONCILER_STATE (as CI jobs and schedulers give it)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from reconciler.state import StateStore
from reconciler.state.tables import JournalRow, MetaRow, ResourceRow, RunRow, ScheduleRunRow
from tests.e2e.conftest import Cli, ContentSim, child_env
from tests.e2e.content_specs import CAMPSOFT_SUBSCRIPTIONS, QUALIFICA_GRANTS, ContentSpecs

pytestmark = pytest.mark.e2e


@pytest.fixture
def runner(content_cli: Cli, qualifica: ContentSim, campsoft: ContentSim,
           backend_url: str) -> Iterator[Cli]:
    ContentSpecs(content_cli.cwd / "specs", qualifica.url, campsoft.url).write()
    content_cli.env["RECONCILER_STATE"] = backend_url
    yield content_cli


def _start(cli: Cli, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "reconciler", *args], cwd=cli.cwd,
                            env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True)


def _finish(proc: subprocess.Popen[str], want: int) -> str:
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == want, f"exited {proc.returncode}\n{stdout}\n{stderr}"
    return stderr


def _wait_for_lock(cli: Cli, integration: str, deadline: float = 20.0) -> str:
    until = time.monotonic() + deadline
    while time.monotonic() < until:
        listed = cli("lock", "list", check=0).stdout
        if f" on {integration} held by" in listed:
            return listed
        time.sleep(0.1)
    raise AssertionError(f"no run took the lock of {integration} within {deadline} s")


def test_applies_on_different_integrations_run_at_once_and_both_land(
        runner: Cli, qualifica: ContentSim, campsoft: ContentSim, backend_url: str) -> None:
    qualifica.configure(latency=0.15)
    campsoft.configure(latency=0.15)
    one = _start(runner, "apply", "--auto-approve", "--target", "qualifica")
    two = _start(runner, "apply", "--auto-approve", "--target", "campsoft")
    _finish(one, 0)
    _finish(two, 0)
    assert set(qualifica.grants()) == QUALIFICA_GRANTS
    assert set(campsoft.subscriptions()) == CAMPSOFT_SUBSCRIPTIONS

    store = StateStore(backend_url)
    try:
        with store.session() as s:
            applies = list(s.execute(select(RunRow).where(RunRow.command == "apply")).scalars())
            journal = list(s.execute(select(JournalRow)).scalars())
            rows = list(s.execute(select(ResourceRow)).scalars())
            serials = json.loads(s.get(MetaRow, "serials").value)  # type: ignore[union-attr]
            serial = int(s.get(MetaRow, "serial").value)  # type: ignore[union-attr]
    finally:
        store.close()
    first, second = sorted(applies, key=lambda r: r.started_at)
    assert first.finished_at is not None and second.started_at < first.finished_at  # overlapped
    assert {r.outcome for r in applies} == {"ok"}
    # the journal: one confirmed entry per change, each under its own run, none lost
    assert journal and {e.outcome for e in journal} == {"confirmed"}
    assert {e.run_id for e in journal} == {first.id, second.id}
    assert {e.integration for e in journal if e.run_id == first.id} | \
        {e.integration for e in journal if e.run_id == second.id} == {"qualifica", "campsoft"}
    # the serial: every write got its own (no lost update); each integration's is its last
    by_integration: dict[str, set[int]] = {}
    for row in rows:
        by_integration.setdefault(row.integration, set()).add(row.serial)
    assert serials == {name: max(seen) for name, seen in by_integration.items()}
    assert serial == max(serials.values())
    assert len({s for seen in by_integration.values() for s in seen}) == len(
        [s for seen in by_integration.values() for s in seen])  # no two writes shared one
    assert "No changes." in runner("plan", "--detailed-exitcode", check=0).stdout


def test_an_apply_on_a_held_integration_waits_and_names_the_holder(
        runner: Cli, qualifica: ContentSim) -> None:
    qualifica.configure(latency=1.0)  # the holder runs for several seconds
    holder = _start(runner, "apply", "--auto-approve", "--target", "qualifica")
    listed = _wait_for_lock(runner, "qualifica")
    assert "for apply" in listed
    refused = runner("apply", "--auto-approve", "--target", "qualifica", "--lock-timeout", "1s",
                     check=1)
    assert "qualifica is locked: lock " in refused.stderr and "held by" in refused.stderr
    assert "waiting up to 1s for lock" in refused.stderr
    waited = _start(runner, "plan", "--target", "qualifica", "--lock-timeout", "60s",
                    "--detailed-exitcode")
    _finish(holder, 0)
    assert "waiting up to 60s for lock" in _finish(waited, 0)  # got it when the apply ended


def test_a_killed_holder_frees_its_integration(runner: Cli, qualifica: ContentSim) -> None:
    qualifica.configure(latency=0.5)
    holder = _start(runner, "apply", "--auto-approve", "--target", "qualifica")
    _wait_for_lock(runner, "qualifica")
    holder.kill()
    holder.communicate(timeout=30)
    qualifica.configure(latency=0.0)
    started = time.monotonic()
    runner("apply", "--auto-approve", "--target", "qualifica", "--lock-timeout", "10s", check=0)
    assert time.monotonic() - started < 10  # not after the lease: the holder is gone
    assert set(qualifica.grants()) == QUALIFICA_GRANTS


def test_a_state_moved_to_another_backend_plans_nothing(
        runner: Cli, backend_url: str, tmp_path: Path) -> None:
    source = f"sqlite:///{tmp_path / 'before' / 'reconciler.db'}"
    runner.env["RECONCILER_STATE"] = source
    runner("apply", "--auto-approve", check=0)
    runner("drift", check=0)
    if backend_url.startswith("sqlite"):
        backend_url = f"sqlite:///{tmp_path / 'after' / 'moved.db'}"
    moved = runner("state", "migrate", "--from", source, "--to", backend_url, check=0)
    assert "Moved" in moved.stdout
    before, after = StateStore(source), StateStore(backend_url)
    try:
        assert (after.lineage, after.serial) == (before.lineage, before.serial)
        journal = [(e.id, e.change_id, e.outcome) for e in before.journal()]
        assert journal and [(e.id, e.change_id, e.outcome) for e in after.journal()] == journal
        assert [(r.id, r.command, r.outcome) for r in after.runs()] == \
            [(r.id, r.command, r.outcome) for r in before.runs()]
    finally:
        before.close()
        after.close()
    runner.env["RECONCILER_STATE"] = backend_url
    assert "No changes." in runner("plan", "--detailed-exitcode", check=0).stdout
    again = runner("state", "migrate", "--from", source, "--to", backend_url, check=1)
    assert "is not empty" in again.stderr  # never over a state that holds something


JOBS = 200
SCHEDULERS = 8


def test_eight_schedulers_run_each_of_200_due_jobs_exactly_once(
        tmp_path: Path, backend_url: str) -> None:
    """Eight `schedule run` processes at once, as on eight machines, over 200 jobs due at the
    same minute: every job runs once (its claim, its report and the run its command recorded),
    and the work is shared between them."""
    specs = tmp_path / "specs"
    specs.mkdir()
    lines = [f"  job-{n:03d}: {{cron: \"0 3 * * *\", run: drift}}" for n in range(JOBS)]
    (specs / "schedules.yaml").write_text("schedules:\n" + "\n".join(lines) + "\n")
    cli = Cli(tmp_path, {**child_env(NO_COLOR="1"), "RECONCILER_STATE": backend_url})
    cli("validate", check=0)  # the state made once, before the race
    procs = [_start(cli, "schedule", "run", "--now", "2026-11-25T03:05:00Z")
             for _ in range(SCHEDULERS)]
    outputs = [proc.communicate(timeout=240)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * SCHEDULERS, outputs

    store = StateStore(backend_url)
    try:
        with store.session() as s:
            claims = list(s.execute(select(ScheduleRunRow)).scalars())
            drifts = s.execute(select(func.count()).select_from(RunRow)
                               .where(RunRow.command == "drift")).scalar_one()
    finally:
        store.close()
    assert sorted(c.job for c in claims) == [f"job-{n:03d}" for n in range(JOBS)]
    assert {c.outcome for c in claims} == {"ok"}
    assert drifts == JOBS  # each job's command ran once: it recorded one run
    reports = sorted(p.parent.name for p in (tmp_path / "state" / "reports").glob("*/*.md"))
    assert reports == [f"job-{n:03d}" for n in range(JOBS)]
    ran = [out.count(": ok (exit 0)") for out in outputs]
    assert sum(ran) == JOBS and sum(1 for n in ran if n) > 1  # shared, not one doing it all
    assert len({c.holder for c in claims}) == sum(1 for n in ran if n)


def test_a_saved_partial_plan_outlives_an_apply_of_another_integration(
        runner: Cli, qualifica: ContentSim, campsoft: ContentSim) -> None:
    runner("plan", "--target", "qualifica", "--out", "qualifica.json", check=0)
    runner("plan", "--target", "campsoft", "--out", "campsoft.json", check=0)
    runner("apply", "--target", "campsoft", "--auto-approve", check=0)
    runner("apply", "qualifica.json", check=0)  # campsoft moved, qualifica did not
    assert set(qualifica.grants()) == QUALIFICA_GRANTS
    stale = runner("apply", "campsoft.json", check=1)  # its own integration moved
    assert "campsoft.json is stale: the state moved from serial 0 to " in stale.stderr
    assert "(on campsoft, which it plans)" in stale.stderr
