"""The safe-apply guarantees on SaperX v2 (VoIP), end to end against its simulator served over
loopback: an apply killed at random points, faults injected by the simulator, the safety limits
on inactivating, blocking and taking DIDs off SIP lines and on deleting number ranges, and two
runs at once."""

from __future__ import annotations

import random
from typing import Any

import pytest

from tests.e2e.conftest import Cli, VoipSim
from tests.e2e.safe_apply import (
    DB,
    NO_FAULT_RATES,
    apply_under_faults,
    bounded_trials,
    every_write_once,
    forget_state,
    kill_an_apply,
    recovered_by_the_next_run,
)
from tests.e2e.voip_specs import VoipSpecs

pytestmark = pytest.mark.e2e

LINES = 8  # services 7001..7008; 7001, 7003, 7005, 7007 declare account codes 710000.. 710006


def first_specs(cli: Cli, voip: VoipSim) -> VoipSpecs:
    """Two ranges and 8 lines, one of them (7004) suspended, so created blocked."""
    specs = VoipSpecs(cli.cwd / "specs", voip.url, lines=LINES)
    specs.service(7004)["status"] = "suspended"
    return specs


def changed_specs(cli: Cli, voip: VoipSim) -> VoipSpecs:
    """The first specs a month later: one change of every kind a line can take."""
    specs = first_specs(cli, voip)
    specs.service(7002)["status"] = "cancelled"  # inactivate (a line without account code)
    specs.service(7004)["status"] = "active"  # unblock
    specs.service(7007)["status"] = "suspended"  # block
    specs.line(7001)["call_limit"] = 4  # update (the line with a generated password)
    moved = specs.line(7003)["dids"].pop()  # unlink: 4734002002 leaves 710002...
    specs.line(7005)["dids"].append(moved)  # ...before 710004 takes it
    specs.clients += VoipSpecs(specs.root, voip.url, lines=LINES + 1).clients[LINES:]  # a new line
    return specs


def snapshot(voip: VoipSim) -> dict[str, Any]:
    """What the platform holds, without its own ids and dates: lines by contract (an account
    code the platform chose is not compared, it depends on the order of the creates)."""
    extensions = voip.extensions()
    lines = {}
    for code, ext in extensions.items():
        chosen = not code.startswith("71")
        lines[ext["contract"]] = {**{k: v for k, v in ext.items() if k != "created_on"},
                                  "account_code": "chosen" if chosen else code}
    assert len(lines) == len(extensions), f"a contract with two lines: {sorted(extensions)}"
    ranges = {name: {k: v for k, v in r.items() if k != "id"} for name, r in voip.ranges().items()}
    return {"lines": lines, "ranges": ranges}


def start_over(cli: Cli, voip: VoipSim) -> None:
    """An empty platform, a fresh state and no generated password yet."""
    voip.reset()
    forget_state(cli)
    for path in (cli.cwd / "secrets").glob("*"):
        path.unlink()


_CLEAN: list[tuple[dict[str, Any], dict[str, Any]]] = []  # computed once, by the first test


def clean_results(cli: Cli, voip: VoipSim) -> tuple[dict[str, Any], dict[str, Any]]:
    """What a clean first apply and a clean apply of the changed specs leave on the platform
    (the same for every test: neither depends on the state's or the platform's history)."""
    if not _CLEAN:
        _CLEAN.append(_clean_results(cli, voip))
    return _CLEAN[0]


def _clean_results(cli: Cli, voip: VoipSim) -> tuple[dict[str, Any], dict[str, Any]]:
    first_specs(cli, voip).write()
    cli("apply", "--auto-approve", check=0)
    first = snapshot(voip)
    assert len(first["lines"]) == LINES and len(first["ranges"]) == 2
    assert first["lines"][7004]["blocked"] is True
    assert len({d["number"] for e in first["lines"].values() for d in e["dids"]}) == LINES + 2
    changed_specs(cli, voip).write()
    cli("apply", "--auto-approve", check=0)
    second = snapshot(voip)
    assert len(second["lines"]) == LINES + 1
    assert second["lines"][7002]["active"] is False and second["lines"][7007]["blocked"] is True
    assert [d["number"] for d in second["lines"][7003]["dids"]] == ["554830001002"]
    assert "554734002002" in {d["number"] for d in second["lines"][7005]["dids"]}
    start_over(cli, voip)
    return first, second


KILL_TRIALS = 6
KILL_BUDGET = 30.0  # seconds: fewer trials on a slow or loaded machine


def test_apply_killed_at_random_points_is_recovered_by_the_next_run(voip_cli: Cli,
                                                                    voip: VoipSim) -> None:
    """Seeded trials, alternately from an empty platform (ranges and lines created) and from a
    converged one (lines inactivated, blocked, unblocked, updated, a DID moved, a line added):
    SIGKILL the apply somewhere in its run, apply again, check the platform and the state."""
    cli = voip_cli
    clean = clean_results(cli, voip)
    rng = random.Random(20261203)
    recovered = 0
    for trial in bounded_trials(KILL_TRIALS, KILL_BUDGET):
        start_over(cli, voip)
        first_specs(cli, voip).write()
        if trial % 2:  # the changes of a month later
            cli("apply", "--auto-approve", check=0)
            changed_specs(cli, voip).write()
        kill_an_apply(cli, rng, [voip], latency=0.15, longest=0.6)
        recovered += recovered_by_the_next_run(cli, trial)
        cli("drift", check=0)  # the state holds what the platform holds: nothing looks drifted
        assert every_write_once({"voip": voip}) == {}, trial  # nothing created or changed twice
        assert snapshot(voip) == clean[trial % 2], trial
    assert recovered >= 1  # some kills did land mid-change


@pytest.mark.parametrize("seed", [5, 6])
def test_apply_under_injected_faults_converges_to_the_clean_result(voip_cli: Cli, voip: VoipSim,
                                                                   seed: int) -> None:
    cli = voip_cli
    clean = clean_results(cli, voip)
    # a third of the requests faulted, every kind: 503, 429 (Retry-After: 0), a connection
    # dropped before the work, a response lost after it (a create the platform made, unheard:
    # the retry must find the line again, by its account code or its DIDs); and some latency
    voip.configure(latency=0.01, error_rate=0.08, rate_limit_rate=0.08, drop_rate=0.08,
                   lost_response_rate=0.08, retry_after=0, seed=seed)
    logs = ""
    for phase, specs in enumerate((first_specs(cli, voip), changed_specs(cli, voip))):
        specs.write()
        logs += apply_under_faults(cli)
        voip.configure(**NO_FAULT_RATES)
        assert "No changes." in cli("plan", "--detailed-exitcode", check=0).stdout
        cli("drift", check=0)
        assert snapshot(voip) == clean[phase], phase  # nothing lost, nothing extra
        assert every_write_once({"voip": voip}) == {}, phase  # no write landed twice
        voip.configure(error_rate=0.08, rate_limit_rate=0.08, drop_rate=0.08,
                       lost_response_rate=0.08, latency=0.01)
    assert logs.count("; retry ") >= 3  # the faults did happen, and were retried
    assert voip.counters()["logins"] >= 2  # each run logged in (through the faults too)


BULK = 12  # lines of the safety tests: services 7001..7012


@pytest.fixture
def bulk(voip_cli: Cli, voip: VoipSim) -> VoipSpecs:
    """12 converged lines (16 DIDs) on the two ranges."""
    specs = VoipSpecs(voip_cli.cwd / "specs", voip.url, lines=BULK)
    specs.write()
    voip_cli("apply", "--auto-approve", check=0)
    assert len(voip.extensions()) == BULK
    return specs


def refused(cli: Cli, *allow: str) -> str:
    """What `apply` says when it refuses the plan over the safety limits (nothing is sent)."""
    args = [a for limit in allow for a in ("--allow", limit)]
    message = cli("apply", "--auto-approve", *args, check=3).stderr
    assert "the plan goes over the safety limits, so nothing was applied" in message
    return message


def test_inactivating_many_lines_at_once_needs_the_exact_allowance(voip_cli: Cli, voip: VoipSim,
                                                                   bulk: VoipSpecs) -> None:
    cli = voip_cli
    for service in range(7001, 7007):
        bulk.service(service)["status"] = "cancelled"
    bulk.write()
    before = voip.counters()["writes"]

    plan = cli("plan", "--out", "p.json", check=3)
    assert plan.stdout.count("- voip.extension[") == 6  # the plan still prints
    assert ("this plan cancels 6 SIP lines of 12 (50.0%) on integration voip; the limit is 10% "
            "and 200: pass --allow voip.delete=6 if this is intended") in plan.stderr
    cli("apply", "p.json", check=3)
    wrong = refused(cli, "voip.delete=5")
    assert "(--allow voip.delete=5 was given, but the count is 6)" in wrong
    assert voip.counters()["writes"] == before  # refused before any write
    assert all(e["active"] for e in voip.extensions().values())

    cli("apply", "--auto-approve", "--allow", "voip.delete=6", check=0)
    inactive = {e["contract"] for e in voip.extensions().values() if not e["active"]}
    assert inactive == set(range(7001, 7007))
    assert "No changes." in cli("plan", "--detailed-exitcode", check=0).stdout


def test_blocking_and_taking_dids_off_many_lines_are_limited_each_on_its_own(
        voip_cli: Cli, voip: VoipSim, bulk: VoipSpecs) -> None:
    cli = voip_cli
    for service in range(7001, 7006):
        bulk.service(service)["status"] = "suspended"  # block_on_suspend: blocked
    dropped = {service: bulk.line(service)["dids"].pop()["number"]  # the second DID of 4 lines
               for service in (7003, 7006, 7009, 7012)}
    bulk.write()
    before = voip.counters()["writes"]

    plan = cli("plan", check=3)
    assert plan.stdout.count("! voip.extension[") == 5
    assert plan.stdout.count("< voip.extension[") == 4
    assert ("take DIDs 4734002005 off the SIP line of service 7006") in plan.stdout
    both = ("this plan suspends 5 SIP lines of 12 (41.7%) on integration voip; the limit is 10% "
            "and 200: pass --allow voip.suspend=5 if this is intended",
            "this plan unlinks 4 SIP lines of 12 (33.3%) on integration voip; the limit is 10% "
            "and 200: pass --allow voip.unlink=4 if this is intended")
    assert all(line in plan.stderr for line in both)
    only_one = refused(cli, "voip.suspend=5")  # an allowance passes its own limit only
    assert both[0] not in only_one and both[1] in only_one
    assert voip.counters()["writes"] == before

    cli("apply", "--auto-approve", "--allow", "voip.suspend=5", "--allow", "voip.unlink=4",
        check=0)
    lines = {e["contract"]: e for e in voip.extensions().values()}
    assert {s for s, e in lines.items() if e["blocked"]} == set(range(7001, 7006))
    for service, number in dropped.items():
        assert "55" + number not in {d["number"] for d in lines[service]["dids"]}, service
        assert len(lines[service]["dids"]) == 1
    assert "No changes." in cli("plan", "--detailed-exitcode", check=0).stdout


def test_deleting_number_ranges_and_emptying_the_specs_are_limited(
        voip_cli: Cli, voip: VoipSim, bulk: VoipSpecs) -> None:
    cli = voip_cli
    spare = {f"spare-{n}": {"integration": "voip", "area_code": 11, "first": 30000000 + 100 * n,
                            "last": 30000000 + 100 * n + 9} for n in range(3)}
    bulk.ranges.update(spare)
    bulk.safety = {"voip": {"delete": {"max_count": 1}}}
    bulk.write()
    cli("apply", "--auto-approve", check=0)
    assert len(voip.ranges()) == 5
    del bulk.ranges["spare-0"], bulk.ranges["spare-1"]
    bulk.write()

    message = refused(cli)
    assert ("this plan deletes 2 number ranges of 5 (40.0%) on integration voip; the limit is "
            "10% and 1: pass --allow voip.delete=2 if this is intended") in message
    assert len(voip.ranges()) == 5
    cli("apply", "--auto-approve", "--allow", "voip.delete=2", check=0)
    assert set(voip.ranges()) == {"floripa", "joinville", "spare-2"}

    bulk.clients, bulk.ranges = [], {}  # an emptied (or unreadable) spec set
    bulk.write()
    emptied = refused(cli)  # a plan inactivating every line and deleting every range
    assert ("the specs declare nothing for integration voip, which still manages 15 resources "
            "(an emptied or unreadable file?): pass --allow voip.empty=15") in emptied
    assert len(voip.extensions()) == BULK and all(e["active"] for e in voip.extensions().values())


def test_two_runs_at_once_one_waits_then_fails_naming_the_holder(voip_cli: Cli,
                                                                  voip: VoipSim) -> None:
    from reconciler.state import StateStore, locks

    cli = voip_cli
    first_specs(cli, voip).write()
    store = StateStore(f"sqlite:///{cli.cwd / 'state' / DB}")
    try:
        with locks.locked(store, "apply", ["voip"]) as lock_id:
            waited = cli("apply", "--auto-approve", "--lock-timeout", "1s", check=1)
            assert f"voip is locked: lock {lock_id} on voip held by" in waited.stderr
            assert voip.counters()["writes"] == {}
        cli("apply", "--auto-approve", check=0)  # released: the next run goes ahead
    finally:
        store.close()
    assert len(voip.extensions()) == LINES
