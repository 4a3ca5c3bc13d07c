"""`reconcile schedule` end to end: real CLI processes, the STFC simulator served on loopback,
a real SQLite state. The scheduler's clock is pinned with the hidden --now option."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Cli, Sim, state_rows
from tests.e2e.specset import SpecSet

pytestmark = [pytest.mark.e2e, pytest.mark.both_backends]

SCHEDULES = """\
# yaml-language-server: $schema=../docs/schema/reconcile-specs.schema.json
schedules:
  nightly-drift: {cron: "0 3 * * *", run: drift}
  plan-check: {cron: "0 3 * * *", run: plan}
"""


@pytest.fixture
def specs(cli: Cli, sim: Sim) -> SpecSet:
    spec = SpecSet(cli.cwd / "specs", sim.url)
    spec.write()
    (spec.root / "schedules.yaml").write_text(SCHEDULES, encoding="utf-8")
    return spec


def schedule_rows(cli: Cli) -> list[dict[str, Any]]:
    """The run records, read straight from the SQLite state file."""
    return state_rows(cli, "SELECT * FROM schedule_runs ORDER BY id")


def test_schedule_run_writes_a_drift_report_and_a_run_record(cli: Cli, sim: Sim,
                                                             specs: SpecSet) -> None:
    cli("apply", "--auto-approve", check=0)
    sim.api("POST", "/api/numeros/1130001001/bloquear").raise_for_status()  # behind our back
    run = cli("schedule", "run", "--now", "2026-11-25T03:05:00Z", check=2)
    assert "nightly-drift: drift (exit 2)" in run.stdout, run.stdout
    assert "plan-check: changes (exit 2)" in run.stdout  # the plan puts the block back
    assert "Ran 2 jobs." in run.stdout
    (report,) = (cli.cwd / "state" / "reports" / "nightly-drift").glob("20261125T0305*.md")
    text = report.read_text()
    assert "| due | 2026-11-25 03:00:00 UTC |" in text
    assert "| outcome | **drift** (exit code 2) |" in text
    assert "1130001001" in text and "missed | none (first run of this job)" in text
    assert sim.token not in text
    rows = {r["job"]: r for r in schedule_rows(cli)}
    drift = rows["nightly-drift"]
    assert (drift["outcome"], drift["exit_code"], drift["report"]) == (
        "drift", 2, str(report.relative_to(cli.cwd)))
    assert drift["due_at"].startswith("2026-11-25 03:00:00") and drift["finished_at"] is not None
    listed = json.loads(cli("schedule", "list", "--json", "--now", "2026-11-25T04:00:00Z",
                            check=0).stdout)
    assert [(j["job"], j["last_run"]["outcome"], j["due_now"]) for j in listed] == [
        ("nightly-drift", "drift", False), ("plan-check", "changes", False)]
    assert listed[0]["next_due"] == "2026-11-26T03:00:00+00:00"


def test_missed_runs_run_once_and_are_reported(cli: Cli, sim: Sim, specs: SpecSet) -> None:
    cli("apply", "--auto-approve", check=0)
    cli("schedule", "run", "--now", "2026-11-25T03:00:00Z", check=0)
    listed = cli("schedule", "list", "--now", "2026-11-28T04:00:00Z", check=0).stdout
    assert "next due: now, for 2026-11-28 03:00 UTC; missed 2 runs: 2026-11-26 03:00, " \
           "2026-11-27 03:00 UTC" in listed
    run = cli("schedule", "run", "--now", "2026-11-28T04:00:00Z", check=0)
    assert "nightly-drift: running drift due 2026-11-28 03:00 UTC; missed 2 runs: " \
           "2026-11-26 03:00, 2026-11-27 03:00 UTC" in run.stdout
    assert cli("schedule", "run", "--now", "2026-11-28T04:30:00Z", check=0).stdout.strip() == \
        "No job is due."
    drift = [r for r in schedule_rows(cli) if r["job"] == "nightly-drift"]
    assert len(drift) == 2 and json.loads(drift[1]["missed"]) == ["2026-11-26T03:00", "2026-11-27T03:00"]
    text = Path(cli.cwd / drift[1]["report"]).read_text()
    assert "| missed | 2 runs: 2026-11-26 03:00, 2026-11-27 03:00 UTC |" in text


def test_two_schedulers_at_once_run_each_job_once(cli: Cli, sim: Sim, specs: SpecSet) -> None:
    cli("apply", "--auto-approve", check=0)
    cmd = [sys.executable, "-m", "reconciler", "schedule", "run", "--now", "2026-11-25T03:01:00Z"]
    procs = [subprocess.Popen(cmd, cwd=cli.cwd, env=cli.env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode in (0, 2) for p in procs), outputs
    rows = schedule_rows(cli)
    assert sorted(r["job"] for r in rows) == ["nightly-drift", "plan-check"], rows
    said = "".join(o[0] for o in outputs)
    assert said.count("nightly-drift: running") == 1 and said.count("plan-check: running") == 1


def test_serve_runs_jobs_when_due_and_stops_cleanly_on_sigterm(cli: Cli, sim: Sim,
                                                                specs: SpecSet) -> None:
    (specs.root / "schedules.yaml").write_text(
        'schedules:\n  often: {cron: "*/5 * * * *", run: drift}\n', encoding="utf-8")
    cli("apply", "--auto-approve", check=0)
    cmd = [sys.executable, "-m", "reconciler", "schedule", "serve",
           "--now", "2026-11-25T03:04:58Z", "--max-sleep", "1s"]
    proc = subprocess.Popen(cmd, cwd=cli.cwd, env=cli.env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while len(schedule_rows(cli)) < 2 or any(r["outcome"] == "running"
                                                 for r in schedule_rows(cli)):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr
    assert "Stopped." in stdout and "Traceback" not in stderr
    dues = [r["due_at"][:16] for r in schedule_rows(cli)][:2]
    assert dues == ["2026-11-25 03:00", "2026-11-25 03:05"]  # first run, then when due


def test_an_invalid_schedule_is_an_error_with_its_line_and_no_traceback(cli: Cli, sim: Sim,
                                                                       specs: SpecSet) -> None:
    (specs.root / "schedules.yaml").write_text(
        'schedules:\n  nightly: {cron: "0 3 * * *", run: cdr-import}\n'
        '  bad: {cron: "0 3 31 * 9", run: drift}\n', encoding="utf-8")
    result = cli("schedule", "run", check=1)
    assert "Traceback" not in result.stderr
    assert "specs/schedules.yaml:2:" in result.stderr and "a cdr-import job needs an " \
        "integration with call records" in result.stderr
    assert "specs/schedules.yaml:3:" in result.stderr and "day of week field '9'" in result.stderr


def test_a_state_password_is_masked_in_errors(cli: Cli, sim: Sim, specs: SpecSet) -> None:
    url = "postgresql://reconcile:pw%40state-77@127.0.0.1:1/reconcile"  # no server, no driver
    result = cli("schedule", "run", "--state", url, check=1)
    said = result.stdout + result.stderr
    assert "Error:" in said and "Traceback" not in said
    assert "pw%40state-77" not in said and "pw@state-77" not in said
    assert "postgresql://reconcile:***@127.0.0.1:1/reconcile" in said
