"""The CLI end to end against the SaperX STFC simulator served by uvicorn on loopback."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import REPO, Cli, Sim, state_rows
from tests.e2e.safe_apply import (
    NO_FAULT_RATES,
    apply_under_faults,
    bounded_trials,
    every_write_once,
    forget_state,
    kill_an_apply,
    recovered_by_the_next_run,
)
from tests.e2e.specset import SpecSet

pytestmark = [pytest.mark.e2e, pytest.mark.both_backends]


@pytest.fixture
def specs(cli: Cli, sim: Sim) -> SpecSet:
    spec = SpecSet(cli.cwd / "specs", sim.url)
    spec.write()
    return spec


def converge(cli: Cli) -> None:
    cli("apply", "--auto-approve", check=0)
    cli("plan", "--detailed-exitcode", check=0)


def wait_until_free(sim: Sim, numero: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while sim.number(numero)["status"] != "livre":
        assert time.monotonic() < deadline, f"{numero} never left the removal queue"
        time.sleep(0.1)


def test_first_plan_lists_every_change_then_apply_converges(cli: Cli, sim: Sim,
                                                            specs: SpecSet) -> None:
    first = cli("plan", "--detailed-exitcode", check=2)
    assert "+ stfc-sp.number[1130001000..1130001009]  register 10 numbers" in first.stdout
    assert '+ stfc-sp.number["1140045000"]  register 1 number' in first.stdout
    for number in ("1130001001", "1130001002", "1130001003", "1140045000"):
        assert f'> stfc-sp.link["{number}"]' in first.stdout
    assert "1130001004\"]" not in first.stdout  # cancelled: never linked
    assert "Plan: 11 to create, 4 to link." in first.stdout
    assert "Cost: stfc-sp: 2 reads, 6 writes, under 1 s at 10 req/s" in first.stdout
    assert sim.counters()["writes"] == {}  # plan sends no write

    applied = cli("apply", "--auto-approve", check=0)
    assert "Apply complete: 6 done, 0 partial, 0 failed, 0 skipped" in applied.stdout
    numbers = sim.numbers()
    assert len(numbers) == 11
    assert {n for n, v in numbers.items() if v["status"] == "vinculado"} == {
        "1130001001", "1130001002", "1130001003", "1140045000"}
    assert numbers["1130001003"]["bloqueado"] is True  # service 1003 is suspended
    assert numbers["1130001001"]["vinculo"]["parametros"] == {"numero_telefone_nf": "1130001001"}

    again = cli("plan", "--detailed-exitcode", check=0)
    assert "No changes." in again.stdout
    writes = sim.counters()["writes"]
    assert all(count == 1 for per_key in writes.values() for count in per_key.values())


def test_suspend_blocks_and_reactivation_unblocks(cli: Cli, sim: Sim, specs: SpecSet) -> None:
    converge(cli)
    specs.service(1001)["status"] = "suspended"
    specs.write()
    plan = cli("plan", "--detailed-exitcode", check=2)
    assert '! stfc-sp.link["1130001001"]  block: service 1001 is suspended' in plan.stdout
    assert "Plan: 1 to suspend." in plan.stdout
    converge(cli)
    assert sim.number("1130001001")["bloqueado"] is True

    specs.service(1001)["status"] = "active"
    specs.write()
    plan = cli("plan", "--detailed-exitcode", check=2)
    assert '^ stfc-sp.link["1130001001"]  unblock: service 1001 is active' in plan.stdout
    converge(cli)
    assert sim.number("1130001001")["bloqueado"] is False


def test_cancel_unlinks_and_the_number_comes_back_free(cli: Cli, sim: Sim, specs: SpecSet) -> None:
    converge(cli)
    specs.service(1002)["status"] = "cancelled"
    specs.write()
    plan = cli("plan", "--detailed-exitcode", check=2)
    assert ('< stfc-sp.link["1130001002"]  unlink from service 1002 (to the removal queue): '
            "service 1002 is cancelled") in plan.stdout
    cli("apply", "--auto-approve", check=0)
    assert sim.number("1130001002")["status"] in ("em_remocao", "livre")
    cli("plan", "--detailed-exitcode", check=0)  # the queue is not planned again
    wait_until_free(sim, "1130001002")
    assert sim.number("1130001002")["vinculo"] is None
    cli("plan", "--detailed-exitcode", check=0)
    shown = json.loads(cli("show", "--kind", "link", "--json", check=0).stdout)
    assert "1130001002" not in {row["key"] for row in shown}


def link_outside_the_tool(sim: Sim, numero: str, service: int, name: str) -> None:
    """Link a number on the platform directly, as someone on HubSoft would."""
    plan_id = sim.api("GET", "/api/planos").json()["planos"][0]["id"]
    sim.api("POST", f"/api/numeros/{numero}/vincular",
            json={"id_plano": plan_id, "documento": "98765432100", "nome": name,
                  "id_externo": service, "parametros": {}}).raise_for_status()


def journal(cli: Cli) -> dict[str, str]:
    return {r["change_id"]: r["outcome"]
            for r in state_rows(cli, "SELECT change_id, outcome FROM journal")}


def test_shrinking_a_range_under_linked_numbers_is_refused_then_unlinked_and_deleted_in_bulk(
        cli: Cli, sim: Sim, specs: SpecSet) -> None:
    specs.options["batch_size"] = 4
    specs.write()
    converge(cli)
    link_outside_the_tool(sim, "1130001007", 555, "Zé Ninguém")
    specs.ranges["sp-centro"]["last"] = 30001002  # 1130001003..1130001009 leave the range
    specs.write()
    invalid = cli("validate", check=1)  # the specs still link 1130001003: validation can tell
    assert "number 1130001003 of service 1003 is in no range of integration stfc-sp" in \
        invalid.stderr
    specs.service(1003)["phone_numbers"] = []
    specs.write()

    refused = cli("plan", check=3)
    assert ('< stfc-sp.link["1130001003"]  unlink from service 1003 (to the removal queue): '
            "number no longer assigned to service 1003; range sp-centro no longer holds the "
            "number") in refused.stdout
    assert ('< stfc-sp.link["1130001007"]  unlink from service 555 (to the removal queue): '
            "range sp-centro no longer holds the number (linked outside this tool)") \
        in refused.stdout
    assert "- stfc-sp.number" not in refused.stdout  # the blocks wait for their linked numbers
    assert ("because no declared range holds them any more: range sp-centro (shrunk): "
            "1130001003 (service 1003, Ana Costa), 1130001007 (service 555, Zé Ninguém): set "
            "`on_remove: unlink` on range sp-centro, or pass --allow stfc-sp.range-unlink=2 to "
            "unlink them in this run") in refused.stderr
    writes = sim.counters()["writes"]
    cli("apply", "--auto-approve", check=3)
    assert sim.counters()["writes"] == writes  # refused before any write

    specs.ranges["sp-centro"]["on_remove"] = "unlink"
    specs.write()
    unlinked = cli("apply", "--auto-approve", check=0)  # one edit, one apply
    assert "Plan: 2 to unlink; 2 converging." in unlinked.stdout
    assert ("unlinked first; deleted once the queue frees it, with the 3 other numbers of "
            "stfc-sp.number[1130001003..1130001006] in one bulk call") in unlinked.stdout
    assert "stfc-sp.number[1130001007..1130001009] in one bulk call" in unlinked.stdout
    for numero in ("1130001003", "1130001007"):
        assert sim.number(numero)["status"] in ("em_remocao", "livre")
    assert len(sim.numbers()) == 11  # nothing deleted before the queue frees the blocks
    assert journal(cli)['unlink:stfc-sp.link["1130001007"]'] == "confirmed"

    for numero in ("1130001003", "1130001007"):
        wait_until_free(sim, numero)
    over = cli("plan", check=3)  # the deletes count against the delete limit
    assert "- stfc-sp.number[1130001003..1130001006]  delete 4 free numbers" in over.stdout
    assert "- stfc-sp.number[1130001007..1130001009]  delete 3 free numbers" in over.stdout
    assert "pass --allow stfc-sp.delete=7 if this is intended" in over.stderr
    cli("apply", "--auto-approve", "--allow", "stfc-sp.delete=7", check=0)
    requests = sim.counters()["requests"]
    assert requests.get("POST /api/numeros/remover") == math.ceil(7 / 4)  # bulk, batch_size 4
    assert "DELETE /api/numeros/{numero}" not in requests
    assert set(sim.numbers()) == {"1130001000", "1130001001", "1130001002", "1140045000"}
    assert journal(cli)["delete:stfc-sp.number[1130001003..1130001006]"] == "confirmed"
    cli("plan", "--detailed-exitcode", check=0)


def test_a_mistaken_range_removed_is_unlinked_for_one_run_with_allow(cli: Cli, sim: Sim,
                                                                      specs: SpecSet) -> None:
    specs.ranges["sp-errada"] = {"integration": "stfc-sp", "area_code": 11,
                                 "first": 30009000, "last": 30009004}
    specs.write()
    converge(cli)
    link_outside_the_tool(sim, "1130009002", 777, "Loja Errada")
    del specs.ranges["sp-errada"]
    specs.write()
    refused = cli("plan", check=3)
    assert ("range sp-errada (removed from the specs): 1130009002 (service 777, Loja Errada): "
            "pass --allow stfc-sp.range-unlink=1 to unlink them in this run") in refused.stderr
    cli("apply", "--auto-approve", "--allow", "stfc-sp.range-unlink=1", check=0)
    wait_until_free(sim, "1130009002")
    deleted = cli("apply", "--auto-approve", "--allow", "stfc-sp.delete=5", check=0)
    assert "- stfc-sp.number[1130009000..1130009004]  delete 5 free numbers" in deleted.stdout
    assert sim.counters()["requests"].get("POST /api/numeros/remover") == 1
    assert not [n for n in sim.numbers() if n.startswith("11300090")]
    cli("plan", "--detailed-exitcode", check=0)


def test_change_behind_the_tools_back_is_drift(cli: Cli, sim: Sim, specs: SpecSet) -> None:
    converge(cli)
    cli("drift", check=0)
    sim.api("POST", "/api/numeros/1130001001/bloquear").raise_for_status()
    sim.api("POST", "/api/numeros/1130001002/desvincular").raise_for_status()
    report = cli("drift", check=2)
    assert 'changed    stfc-sp.link["1130001001"]' in report.stdout
    assert "blocked: False (applied) -> True (on the platform)" in report.stdout
    assert 'missing    stfc-sp.link["1130001002"]' in report.stdout
    data = json.loads(cli("drift", "--json", check=2).stdout)
    assert data["summary"] == {"drifted": 2, "changed": 1, "missing": 1}
    plan = cli("plan", "--detailed-exitcode", check=2)
    assert '^ stfc-sp.link["1130001001"]  unblock' in plan.stdout


def test_saved_plan_is_applied_exactly_and_refused_when_stale(cli: Cli, sim: Sim,
                                                              specs: SpecSet) -> None:
    cli("plan", "--out", "first.json", check=0)
    cli("plan", "--out", "second.json", check=0)
    saved = json.loads((cli.cwd / "first.json").read_text())
    assert saved["summary"]["create"] == 11 and saved["fingerprint"]["serial"] == 0
    cli("apply", "first.json", check=0)  # no prompt: a saved plan was reviewed already
    stale = cli("apply", "second.json", check=1)
    assert "plan file second.json is stale: the state moved from serial 0" in stale.stderr
    assert "Traceback" not in stale.stderr

    cli("plan", "--out", "third.json", check=0)
    specs.service(1001)["status"] = "suspended"
    specs.write()
    moved = cli("apply", "third.json", check=1)
    assert "was made from other specs" in moved.stderr


def test_invalid_specs_fail_with_location_and_send_nothing(cli: Cli, sim: Sim,
                                                           specs: SpecSet) -> None:
    specs.clients[0]["document"] = "529.982.247-26"  # wrong check digit
    specs.ranges["overlap"] = {"integration": "stfc-sp", "area_code": 11,
                               "first": 30001005, "last": 30001020}
    specs.service(1002)["phone_numbers"][0]["number"] = "1130009999"  # in no range
    specs.write()
    for command in ("validate", "plan", "apply"):
        result = cli(command, *(["--auto-approve"] if command == "apply" else []), check=1)
        assert "Traceback" not in result.stderr
        assert "clients.yaml:" in result.stderr and "numbers.yaml:" in result.stderr
        assert "3 problems" in result.stderr or "problems" in result.stderr
    assert sim.counters()["requests"] == {}


def test_the_token_never_leaks(cli: Cli, sim: Sim, specs: SpecSet) -> None:
    outputs = [cli("-vv", "plan", "--out", "plan.json", check=0),
               cli("-vv", "apply", "--auto-approve", check=0),
               cli("-vv", "drift", check=0), cli("show", "--json", check=0)]
    cli.env["E2E_STFC_TOKEN"] = "wrong-" + sim.token
    outputs.append(cli("-vv", "plan", check=1))
    assert "401" in outputs[-1].stderr or "credentials" in outputs[-1].stderr.lower()
    leaked = [o.args for o in outputs if sim.token in o.stdout + o.stderr]
    assert leaked == []
    for path in [cli.cwd / "plan.json", *(cli.cwd / "state").rglob("*")]:
        if path.is_file():
            assert sim.token.encode() not in path.read_bytes(), path


def test_apply_without_approval_off_a_terminal_is_refused(cli: Cli, sim: Sim,
                                                          specs: SpecSet) -> None:
    result = cli("apply", check=1)
    assert "--auto-approve" in result.stderr
    assert sim.counters()["writes"] == {}


def test_show_filters_numbers_in_transmission_error(cli: Cli, sim: Sim, specs: SpecSet) -> None:
    converge(cli)
    sim.client.post("/_sim/numbers/1130001005/transmission",
                    json={"transmissao": "erro"}).raise_for_status()
    plan = cli("plan", "--detailed-exitcode", check=2)  # refreshes what `show` reads
    assert '~ stfc-sp.number["1130001005"]  retransmit' in plan.stdout
    rows = json.loads(cli("show", "--status", "error", "--json", check=0).stdout)
    assert [r["key"] for r in rows] == ["1130001005"]
    converge(cli)
    assert sim.number("1130001005")["transmissao"] == "transmitido"


@pytest.mark.sqlite_only  # a state file per example: the backend is not what it tests
def test_default_specs_and_examples_converge_on_the_embedded_platform(cli: Cli,
                                                                      tmp_path: Path) -> None:
    cli.env.update(SAPERX_STFC_TOKEN="example-token", SAPERX_STFC_JOINVILLE_TOKEN="example-2",
                   QUALIFICA_CLIENT_SECRET="example-secret", CAMPSOFT_API_KEY="example-key",
                   CAMPSOFT_API_SECRET="example-secret", SAPERX_V2_PASSWORD="example",
                   SAPERX_V2_API_KEY="example-key", SAPERX_V2_API_SECRET="example-secret",
                   LINE_7001_PASSWORD="example-1", LINE_7002_PASSWORD="example-2",
                   LINE_7003_PASSWORD="example-3", OZMAP_API_KEY="example-key",
                   GEOSITE_PASSWORD="example-password")
    examples = sorted(p for p in (REPO / "examples").iterdir() if (p / "README.md").is_file()
                      and any(p.glob("*.yaml")))
    assert {p.name for p in examples} >= {"telephony-only", "content-combos", "voip", "mapping"}
    for specs_dir in (REPO / "specs", *examples):
        name = specs_dir.name
        state = f"sqlite:///{tmp_path / name / 'reconciler.db'}"
        cli("validate", "--specs", str(specs_dir), check=0)
        cli("check", "--specs", str(specs_dir), "--state", state, check=0)
        cli("plan", "--specs", str(specs_dir), "--state", state, "--detailed-exitcode", check=2)
        cli("apply", "--specs", str(specs_dir), "--state", state, "--auto-approve", check=0)
        cli("plan", "--specs", str(specs_dir), "--state", state, "--detailed-exitcode", check=0)
    platforms = {p.name for p in (tmp_path / "specs" / "embedded").iterdir()}
    assert platforms == {"saperx-stfc", "qualifica", "campsoft"}  # the demo sells content too


def test_two_runs_at_once_one_waits_then_fails_naming_the_holder(cli: Cli, sim: Sim,
                                                                  specs: SpecSet) -> None:
    from reconciler.state import StateStore, locks

    store = StateStore(cli.env.get("RECONCILER_STATE",
                                   f"sqlite:///{cli.cwd / 'state' / 'reconciler.db'}"))
    with locks.locked(store, "apply", ["stfc-sp"]) as lock_id:
        listed = cli("lock", "list", check=0)
        assert f"lock {lock_id} on stfc-sp held by" in listed.stdout
        assert "for apply" in listed.stdout
        refused = cli("apply", "--auto-approve", "--lock-timeout", "1s", check=1)
        assert f"stfc-sp is locked: lock {lock_id} on stfc-sp held by" in refused.stderr
        assert "waiting up to 1s for lock" in refused.stderr
        assert sim.counters()["writes"] == {}
        if "RECONCILER_STATE" in cli.env:  # PostgreSQL: a live session's lock is its own
            kept = cli("lock", "release", lock_id, check=1)
            assert "held by a live PostgreSQL session" in kept.stderr
        else:
            cli("lock", "release", lock_id, check=0)
            cli("apply", "--auto-approve", check=0)  # the lock was released by hand
    assert "No integration of the state is locked." in cli("lock", "list", check=0).stdout
    cli("apply", "--auto-approve", check=0)


def test_saved_plan_is_refused_after_its_time_to_live(cli: Cli, sim: Sim, specs: SpecSet) -> None:
    cli("plan", "--out", "short.json", "--ttl", "1s", check=0)
    data = json.loads((cli.cwd / "short.json").read_text())
    assert data["expires_at"] > data["created_at"]
    time.sleep(1.5)
    expired = cli("apply", "short.json", check=1)
    assert "plan file short.json expired at" in expired.stderr
    data["expires_at"], data["tool_version"] = None, "0.0.1"
    (cli.cwd / "other.json").write_text(json.dumps(data))
    assert "was made by reconcile 0.0.1" in cli("apply", "other.json", check=1).stderr
    assert sim.counters()["writes"] == {}


KILL_TRIALS = 20


def test_apply_killed_at_random_points_is_recovered_by_the_next_run(cli: Cli, sim: Sim,
                                                                    specs: SpecSet) -> None:
    """20 seeded trials: SIGKILL an apply somewhere in its run, apply again, check the result
    (fewer when they take over 75 s: each takes about 5 s, and a loaded machine must not run
    into the test's timeout)."""
    import random

    rng = random.Random(20261125)
    recovered = 0
    for trial in bounded_trials(KILL_TRIALS, 75):
        sim.client.post("/_sim/reset").raise_for_status()
        forget_state(cli)
        # each call in flight long enough for kills to land in one
        kill_an_apply(cli, rng, [sim], latency=0.25, longest=1.2)
        recovered += recovered_by_the_next_run(cli, trial)
        assert every_write_once({"stfc-sp": sim}) == {}, trial
        linked = {n for n, v in sim.numbers().items() if v["status"] == "vinculado"}
        assert linked == {"1130001001", "1130001002", "1130001003", "1140045000"}, trial
    assert recovered >= 1  # some kills did land mid-change


def test_an_emptied_spec_set_is_refused(cli: Cli, sim: Sim, specs: SpecSet) -> None:
    converge(cli)
    specs.clients, specs.ranges = [], {}
    specs.write()
    refused = cli("plan", check=3)
    assert ("the specs declare nothing for integration stfc-sp, which still manages 15 resources "
            "(an emptied or unreadable file?): pass --allow stfc-sp.empty=15") in refused.stderr
    cli("apply", "--auto-approve", check=3)
    assert len(sim.numbers()) == 11


def platform_snapshot(sim: Sim) -> dict[str, tuple[object, ...]]:
    """What the platform holds, without its own ids and timestamps."""
    return {n: (v["status"], v["bloqueado"], json.dumps(v["vinculo"], sort_keys=True))
            for n, v in sim.numbers().items()}


@pytest.mark.parametrize("seed", [1, 2])
def test_apply_under_injected_faults_converges_to_the_clean_result(cli: Cli, sim: Sim,
                                                                   specs: SpecSet,
                                                                   seed: int) -> None:
    cli("apply", "--auto-approve", check=0)
    clean = platform_snapshot(sim)
    sim.client.post("/_sim/reset").raise_for_status()
    forget_state(cli)
    # 20% of requests faulted, every kind: 503, 429, dropped, response lost after the work
    sim.configure(error_rate=0.05, rate_limit_rate=0.05, drop_rate=0.05,
                  lost_response_rate=0.05, retry_after=0, seed=seed)
    logs = apply_under_faults(cli)
    assert logs.count("; retry ") >= 1  # the faults did happen, and were retried
    sim.configure(**NO_FAULT_RATES)
    cli("plan", "--detailed-exitcode", check=0)
    assert platform_snapshot(sim) == clean  # nothing lost
    assert every_write_once({"stfc-sp": sim}) == {}  # no write landed twice


def test_saved_plan_is_refused_when_a_touched_remote_object_changed(cli: Cli, sim: Sim,
                                                                    specs: SpecSet) -> None:
    converge(cli)
    specs.service(1001)["status"] = "suspended"
    specs.write()
    cli("plan", "--out", "p.json", check=0)
    touched = json.loads((cli.cwd / "p.json").read_text())["touched"]
    assert set(touched) == {'stfc-sp.link["1130001001"]', 'stfc-sp.number["1130001001"]'}
    sim.api("PUT", "/api/numeros/1130001001/vinculo",
            json={"id_plano": sim.api("GET", "/api/planos").json()["planos"][1]["id"],
                  "documento": "52998224725", "nome": "Maria Silva",
                  "parametros": {}}).raise_for_status()
    refused = cli("apply", "p.json", check=1)
    assert ("1 object(s) it touches changed on the platform since it was made: "
            'stfc-sp.link["1130001001"]') in refused.stderr
    assert sim.number("1130001001")["bloqueado"] is False
