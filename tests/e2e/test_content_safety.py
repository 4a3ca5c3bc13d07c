"""The safe-apply guarantees on the content platforms, end to end: faults injected by the served
Qualifica and Campsoft simulators, an apply killed at random points, and the safety limits."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Cli, ContentSim, wait_for_pending_change
from tests.e2e.content_specs import ContentSpecs

pytestmark = pytest.mark.e2e

DB = "reconciler.db"


@pytest.fixture
def specs(content_cli: Cli, qualifica: ContentSim, campsoft: ContentSim) -> ContentSpecs:
    """The content spec set, one service suspended (subscriptions created suspended: two writes
    in one change) and two more clients, so a first apply makes 14 writes over several pages."""
    spec = ContentSpecs(content_cli.cwd / "specs", qualifica.url, campsoft.url, bulk=2)
    spec.service(1003)["status"] = "suspended"
    spec.write()
    return spec


def snapshot(qualifica: ContentSim, campsoft: ContentSim) -> dict[str, Any]:
    """What both platforms hold, without their own ids."""
    users = {name: {**u, "produtos": sorted(u["produtos"], key=lambda g: g["produto"])}
             for name, u in qualifica.users().items()}
    subs = {key: {k: v for k, v in s.items() if k != "subscription_id"}
            for key, s in campsoft.subscriptions().items()}
    return {"qualifica": users, "campsoft": subs}


def every_write_once(*platforms: ContentSim) -> dict[str, dict[str, int]]:
    """Each platform's writes that were counted more than once per key and operation."""
    return {f"{p.platform}:{key}": ops for p in platforms for key, ops in p.writes().items()
            if any(n != 1 for n in ops.values())}


def start_over(cli: Cli, *platforms: ContentSim) -> None:
    """Empty platforms and a fresh state, as before a first apply."""
    for platform in platforms:
        platform.reset()
    for path in (cli.cwd / "state").glob(DB + "*"):
        path.unlink()


def clean_result(cli: Cli, qualifica: ContentSim, campsoft: ContentSim) -> dict[str, Any]:
    cli("apply", "--auto-approve", check=0)
    clean = snapshot(qualifica, campsoft)
    assert len(clean["qualifica"]) == 3 and len(clean["campsoft"]) == 6
    assert clean["qualifica"]["ana.costa"]["produtos"][0]["status"] == "suspenso"
    assert clean["campsoft"]["1003/kids-1003"]["status"] == "suspended"
    start_over(cli, qualifica, campsoft)
    return clean


@pytest.mark.parametrize("seed", [7, 8])
def test_apply_under_injected_faults_converges_to_the_clean_result(
        content_cli: Cli, qualifica: ContentSim, campsoft: ContentSim, specs: ContentSpecs,
        seed: int) -> None:
    cli = content_cli
    clean = clean_result(cli, qualifica, campsoft)
    # a third of the requests faulted, every kind: 503, 429 with Retry-After, a connection
    # dropped before the work, a response lost after it; and some latency
    for offset, platform in enumerate((qualifica, campsoft)):
        platform.configure(latency=0.01, error_rate=0.08, rate_limit_rate=0.08, drop_rate=0.08,
                           lost_response_rate=0.08, retry_after=1, seed=seed * 10 + offset)
    logs, runs = "", 0
    deadline = time.monotonic() + 60
    while runs < 3 and time.monotonic() < deadline:  # retries absorb most faults; a rerun the rest
        runs += 1
        run = cli("-vv", "apply", "--auto-approve")
        logs += run.stderr
        if run.returncode == 0:
            break
    assert run.returncode == 0, run.stdout + run.stderr
    assert logs.count("; retry ") >= 3  # the faults did happen, and were retried
    for platform in (qualifica, campsoft):
        platform.configure(error_rate=0, rate_limit_rate=0, drop_rate=0, lost_response_rate=0,
                           latency=0)
    assert "No changes." in cli("plan", "--detailed-exitcode", check=0).stdout
    assert snapshot(qualifica, campsoft) == clean  # nothing lost, nothing extra
    assert every_write_once(qualifica, campsoft) == {}  # no write landed twice
    assert sum(len(p.writes()) for p in (qualifica, campsoft)) == 3 + 3 + 6


KILL_TRIALS = 5


def test_apply_killed_at_random_points_is_recovered_by_the_next_run(
        content_cli: Cli, qualifica: ContentSim, campsoft: ContentSim, specs: ContentSpecs) -> None:
    """Seeded trials: SIGKILL an apply somewhere in its run, apply again, check the result."""
    from reconciler.state import StateStore

    cli = content_cli
    clean = clean_result(cli, qualifica, campsoft)
    rng = random.Random(20261126)
    recovered, started = 0, time.monotonic()
    for trial in range(KILL_TRIALS):
        if trial and time.monotonic() - started > 90:
            break  # bounded in time as in count: a slow machine runs fewer trials, not forever
        start_over(cli, qualifica, campsoft)
        for platform in (qualifica, campsoft):  # each call in flight long enough to be cut
            platform.configure(latency=0.15)
        proc = subprocess.Popen([sys.executable, "-m", "reconciler", "apply", "--auto-approve"],
                                cwd=cli.cwd, env=cli.env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        # Kill once the changes have begun (however long startup takes on a loaded machine),
        # somewhere in the run: at once, or a few calls later.
        changing = wait_for_pending_change(cli.cwd / "state" / DB, proc, deadline=30)
        time.sleep(rng.uniform(0.0, 0.6) if changing else 0)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        for platform in (qualifica, campsoft):
            platform.configure(latency=0)
        store = StateStore(f"sqlite:///{cli.cwd / 'state' / DB}")
        try:
            interrupted = {row.change_id for row in store.journal_pending()}
            recovered += len(interrupted)
            again = cli("apply", "--auto-approve", check=0)
            for change_id in interrupted:
                assert f"left unfinished: {change_id}" in again.stderr, (trial, again.stderr)
            cli("plan", "--detailed-exitcode", check=0)
            assert store.journal_pending() == [], trial
        finally:
            store.close()
        assert every_write_once(qualifica, campsoft) == {}, trial
        assert snapshot(qualifica, campsoft) == clean, trial
    assert recovered >= 1  # some kills did land mid-change


def test_cancelling_many_subscriptions_at_once_needs_the_exact_allowance(
        content_cli: Cli, qualifica: ContentSim, campsoft: ContentSim, tmp_path: Path) -> None:
    cli = content_cli
    specs = ContentSpecs(cli.cwd / "specs", qualifica.url, campsoft.url, bulk=12)
    specs.write()
    cli("apply", "--auto-approve", check=0)
    assert len(campsoft.subscriptions()) == 16
    for service in range(5001, 5007):
        specs.service(service)["status"] = "cancelled"
    specs.write()
    before = (qualifica.counters()["writes"], campsoft.counters()["writes"])

    refused = cli("plan", "--out", "p.json", check=3)
    assert refused.stdout.count("- campsoft.subscription[") == 6  # the plan still prints
    message = refused.stderr
    assert "the plan goes over the safety limits, so nothing was applied" in message
    assert "6 subscriptions of 16 (37.5%) on integration campsoft" in message
    assert "the limit is 10% and 200: pass --allow campsoft.delete=6 if this is intended" in message
    assert json.loads((cli.cwd / "p.json").read_text())["summary"]["delete"] == 6

    for args in (["apply", "--auto-approve"], ["apply", "p.json"],
                 ["apply", "--auto-approve", "--allow", "campsoft.delete=5"]):
        result = cli(*args, check=3)
        assert "--allow campsoft.delete=6" in result.stderr
    assert "--allow campsoft.delete=5 was given, but the count is 6" in result.stderr
    assert (qualifica.counters()["writes"], campsoft.counters()["writes"]) == before
    assert {s["status"] for s in campsoft.subscriptions().values()} == {"active"}

    cli("apply", "--auto-approve", "--allow", "campsoft.delete=6", check=0)
    cancelled = {k for k, s in campsoft.subscriptions().items() if s["status"] == "cancelled"}
    assert cancelled == {f"{n}/livros-{n}" for n in range(5001, 5007)}
    assert qualifica.counters()["writes"] == before[0]
    assert "No changes." in cli("plan", "--detailed-exitcode", check=0).stdout
