"""The safe-apply guarantees on the content platforms, end to end: faults injected by the served
Qualifica and Campsoft simulators, an apply killed at random points, and the safety limits."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Cli, ContentSim
from tests.e2e.content_specs import ContentSpecs
from tests.e2e.safe_apply import (
    NO_FAULT_RATES,
    apply_under_faults,
    bounded_trials,
    every_write_once,
    forget_state,
    kill_an_apply,
    recovered_by_the_next_run,
)

pytestmark = pytest.mark.e2e


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


def writes_twice(qualifica: ContentSim, campsoft: ContentSim) -> dict[str, dict[str, int]]:
    """The writes either platform counted more than once per key and operation."""
    return every_write_once({"qualifica": qualifica, "campsoft": campsoft})


def start_over(cli: Cli, *platforms: ContentSim) -> None:
    """Empty platforms and a fresh state, as before a first apply."""
    for platform in platforms:
        platform.reset()
    forget_state(cli)


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
    logs = apply_under_faults(cli)
    assert logs.count("; retry ") >= 3  # the faults did happen, and were retried
    for platform in (qualifica, campsoft):
        platform.configure(**NO_FAULT_RATES)
    assert "No changes." in cli("plan", "--detailed-exitcode", check=0).stdout
    assert snapshot(qualifica, campsoft) == clean  # nothing lost, nothing extra
    assert writes_twice(qualifica, campsoft) == {}  # no write landed twice
    assert sum(len(p.writes()) for p in (qualifica, campsoft)) == 3 + 3 + 6


KILL_TRIALS = 5


def test_apply_killed_at_random_points_is_recovered_by_the_next_run(
        content_cli: Cli, qualifica: ContentSim, campsoft: ContentSim, specs: ContentSpecs) -> None:
    """Seeded trials: SIGKILL an apply somewhere in its run, apply again, check the result."""
    cli = content_cli
    clean = clean_result(cli, qualifica, campsoft)
    rng = random.Random(20261126)
    recovered = 0
    for trial in bounded_trials(KILL_TRIALS, 90):
        start_over(cli, qualifica, campsoft)
        kill_an_apply(cli, rng, [qualifica, campsoft], latency=0.15, longest=0.6)
        recovered += recovered_by_the_next_run(cli, trial)
        assert writes_twice(qualifica, campsoft) == {}, trial
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
