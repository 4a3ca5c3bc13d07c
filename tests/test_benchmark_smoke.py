"""Smoke test of the benchmark (issue 5): the workload generator and the runner at N = 1,000,
against the simulators served on loopback. It checks the counts (exit codes, API calls, the
generated mix, the JSON), never the timings."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from benchmarks import billing, workload
from benchmarks import run as bench

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

N = 1_000
STEPS = ("initial apply", "sync", "validate", "YAML floor", "YAML floor (gc off)", "plan (cold)",
         "plan (warm)", "plan (1 file edited)", "plan (1% changed)", "apply (1%)", "drift")
PLATFORMS = ("saperx-stfc", "qualifica", "campsoft", "saperx-v2", "ozmap")
NUMBERS = 1_000  # the billing estate's
ERP_CLIENTS = 2_500  # the ERP export's: three files


def test_generator_mix_at_1000(tmp_path: Path) -> None:
    summary = workload.generate(tmp_path / "specs", N, seed=1)
    assert summary.services == N
    assert summary.files == 1
    _assert_mix(summary.numbers_assigned, summary.with_packages, summary.statuses)
    _assert_sip_mix(summary.sip_lines, summary.dids)
    _assert_port_mix(summary.ports, summary.boxes)
    again = workload.generate(tmp_path / "again", N, seed=1)
    assert again == summary  # deterministic from the seed
    assert _texts(tmp_path / "again") == _texts(tmp_path / "specs")
    changed = workload.mutate(tmp_path / "specs", 0.01, seed=2)
    assert changed.services == 10
    assert changed.sip_lines == 1  # the one service with a SIP line among the 10: its call limit
    assert changed.ports_moved >= 1
    # the generated and the changed sets are valid specs, every line and DID included
    env = bench.child_env(**dict.fromkeys(workload.ENV.values(), "x"))
    check = subprocess.run([sys.executable, "-m", "reconciler", "validate", "--specs",
                            str(tmp_path / "specs"), "--state",
                            f"sqlite:///{tmp_path / 'state.db'}"],
                           capture_output=True, text=True, env=env, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr


def test_mutate_moves_and_adds_dids_at_10000(tmp_path: Path) -> None:
    """At 10,000 the 1% change reaches ten SIP lines: call limits, DIDs added from the ranges'
    free numbers and DIDs moved between those lines; every DID still held once."""
    summary = workload.generate(tmp_path, 10 * N, seed=1)
    before = _lines(tmp_path)
    changed = workload.mutate(tmp_path, 0.01, seed=2)
    assert changed.services == 100 and changed.sip_lines == 10
    assert changed.dids_added >= 1 and changed.dids_moved >= 1
    after = _lines(tmp_path)
    held = [d for line in after.values() for d in line]
    assert len(held) == len(set(held)) == summary.dids + changed.dids_added
    assert len(set(held) - {d for line in before.values() for d in line}) == changed.dids_added
    owner = {d: service for service, dids in before.items() for d in dids}
    moved = [d for service, dids in after.items() for d in dids if owner.get(d, service) != service]
    assert len(moved) == changed.dids_moved


def _texts(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text(encoding="utf-8")
            for p in sorted(root.rglob("*.yaml"))}


def _lines(root: Path) -> dict[str, list[str]]:
    """Each SIP line's DID numbers, by service id."""
    out = {}
    for path in sorted((root / "clients").glob("*.yaml")):
        for client in yaml.safe_load(path.read_text(encoding="utf-8"))["clients"]:
            for service in client["services"]:
                for line in service.get("sip_lines", ()):
                    out[str(service["id"])] = [d["number"] for d in line["dids"]]
    return out


PG_STEPS = tuple(bench.PG_EXPECTED)


@pytest.fixture(scope="module")
def postgres(request: pytest.FixtureRequest) -> str | None:
    """The test server's admin URL, or None (and the PostgreSQL steps' tests skip) where none
    can be started outside CI."""
    try:
        return str(request.getfixturevalue("pg_server_url"))
    except pytest.skip.Exception:
        return None


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory, postgres: str | None) -> dict[str, Any]:
    """One run of the runner at N = 1,000, into a temporary directory; its state moved to
    PostgreSQL and measured there too when a server is at hand."""
    where = tmp_path_factory.mktemp("bench")
    out, table = where / "results.json", where / "table.md"
    code = bench.main(["--sizes", str(N), "--billing-numbers", str(NUMBERS),
                       "--erp-clients", str(ERP_CLIENTS), "--out", str(out),
                       "--markdown", str(table), "--keep", str(where / "work"), "--seed", "1",
                       *(["--postgres", postgres] if postgres else [])])
    data: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    data["_exit"] = code
    data["_table"] = table.read_text(encoding="utf-8")
    return data


def _step(results: Mapping[str, Any], name: str) -> dict[str, Any]:
    return results["runs"][0]["steps"][name]  # type: ignore[no-any-return]


def test_runner_exits_0_and_records_every_step(results: dict[str, Any]) -> None:
    assert results["_exit"] == 0
    assert [r["n"] for r in results["runs"]] == [N]
    steps = results["runs"][0]["steps"]
    assert set(steps) == set(STEPS) | (set(PG_STEPS) if results["config"]["postgresql"] else set())
    for name in STEPS:
        step = steps[name]
        assert not step["timed_out"], name
        for field in ("wall_s", "cpu_s", "max_rss_kib"):
            assert step[field] > 0, (name, field)
    machine = results["machine"]
    assert machine["cpu_count"] >= 1 and machine["python"] and machine["date"]
    # the table has a row per step, and the target check
    for name in STEPS:
        assert f"| 1,000 | {name} |" in results["_table"]
    assert "| target | status | measured |" in results["_table"]


@pytest.mark.parametrize(("name", "code"), [
    ("initial apply", 0), ("sync", 0), ("validate", 0), ("YAML floor", 0),
    ("YAML floor (gc off)", 0), ("plan (cold)", 0), ("plan (warm)", 0),
    ("plan (1 file edited)", 0), ("plan (1% changed)", 2), ("apply (1%)", 0), ("drift", 0)])
def test_every_step_exits_as_expected(results: dict[str, Any], name: str, code: int) -> None:
    step = _step(results, name)
    assert step["exit_code"] == code, Path(step["log"]).read_text(errors="replace")[-3000:]
    assert step["ok"]


@pytest.mark.parametrize("name", ["plan (cold)", "plan (warm)", "plan (1 file edited)", "drift",
                                  "sync"])
def test_reads_are_listings_only(results: dict[str, Any], name: str) -> None:
    """A no-op plan (and drift) lists each platform page by page: no per-object read, no
    write, and pages of at least 500 objects."""
    calls = _step(results, name)["api_calls"]
    assert set(calls) == set(PLATFORMS)
    for platform, c in calls.items():
        assert c["per_object_read"] == 0, (platform, c["requests"])
        assert c["write"] == 0, (platform, c["requests"])
        assert c["writes_that_changed"] == 0, platform
        assert c["listing"] >= 1, platform
        for route in c["requests"]:
            method, _, path = route.partition(" ")
            assert route in bench.LOGIN_ROUTES or (method == "GET" and "{" not in path), route
    objects = results["runs"][0]["platform_objects"]
    if name not in ("drift", "sync"):
        for platform, c in calls.items():
            paged = c["paged_listing"]
            assert paged["objects"] == objects[platform] > 0
            assert 1 <= paged["pages"] <= paged["pages_at_500"], (platform, paged)


def test_validate_makes_no_call(results: dict[str, Any]) -> None:
    for platform, c in _step(results, "validate")["api_calls"].items():
        assert c["total"] == 0, (platform, c["requests"])


def test_one_percent_apply_writes_about_the_changed_services(results: dict[str, Any]) -> None:
    run = results["runs"][0]
    changed = run["mutated_services"]
    assert changed == round(N * bench.MUTATE_FRACTION)
    calls = _step(results, "apply (1%)")["api_calls"]
    writes = sum(c["write"] for c in calls.values())
    assert writes > 0
    # a changed service costs one to a few writes (status on each platform, plan switch:
    # cancel + subscribe, a new user); never a rewrite of the estate
    assert changed // 2 <= writes <= 6 * changed, (writes, changed)
    # what changed on the platforms: one object per write call, but OZmap's premises are
    # created with their client in one call (two objects)
    assert sum(c["writes_that_changed"] for c in calls.values()) > 0
    for platform, c in calls.items():
        assert c["writes_that_changed"] <= c["write"] * (2 if platform == "ozmap" else 1), c
    for c in calls.values():
        assert c["per_object_read"] == 0, c["requests"]
    # each SIP line of a changed service costs one write at most (the platform takes a line's
    # every change in one), and each line edited needs one
    mutation = run["mutation"]
    assert mutation["services_with_lines"] >= 1
    assert mutation["sip_lines"] <= calls["saperx-v2"]["write"] <= mutation["services_with_lines"]
    # the plan before it saw the change, and made no write
    plan = _step(results, "plan (1% changed)")["api_calls"]
    assert sum(c["write"] for c in plan.values()) == 0


def test_initial_apply_converged_the_whole_estate(results: dict[str, Any]) -> None:
    run = results["runs"][0]
    summary, objects = run["summary"], run["platform_objects"]
    calls = _step(results, "initial apply")["api_calls"]
    # every assigned number of a live service was linked, one call each
    links = calls["saperx-stfc"]["requests"].get("POST /api/numeros/{numero}/vincular", 0)
    assert 0.9 * summary["numbers_assigned"] <= links <= summary["numbers_assigned"]
    # the ranges were registered in blocks (a few calls), not number by number
    assert calls["saperx-stfc"]["requests"].get("POST /api/numeros", 0) <= 10
    assert objects["saperx-stfc"] >= summary["numbers_assigned"]
    assert objects["qualifica"] > 0 and objects["campsoft"] > 0
    # every SIP line of a live service created, one call each (with its DIDs), the ranges in
    # one call each; a cancelled service's line is left absent
    v2 = calls["saperx-v2"]["requests"]
    live = summary["sip_lines"] - summary["sip_lines_inactive"]
    creates = v2.get("POST /api/v2/extensions", 0) + v2.get("POST /api/v2/extensions/{account_code}", 0)
    assert creates == live == objects["saperx-v2"]
    assert 0 < v2.get("POST /api/v2/extensions", 0) < v2.get("POST /api/v2/extensions/{account_code}", 0)
    assert v2.get("POST /api/v2/ranges", 0) == 1  # v0000 holds every DID
    assert calls["saperx-v2"]["per_object_read"] == 0
    assert calls["saperx-v2"]["write"] == creates + 1
    # every live service on a port connected: one call each (the premises with their client)
    ozmap = calls["ozmap"]
    assert ozmap["requests"].get("POST /api/v2/properties", 0) == summary["ports_live"]
    assert ozmap["write"] == summary["ports_live"] == objects["ozmap"]
    assert ozmap["per_object_read"] == 0


def test_ports_moved_by_the_one_percent_change(results: dict[str, Any]) -> None:
    """A service moved to another port costs a few writes on OZmap, never a relisting."""
    moved = results["runs"][0]["mutation"]["ports_moved"]
    ozmap = _step(results, "apply (1%)")["api_calls"]["ozmap"]
    assert moved >= 1
    assert moved <= ozmap["write"] <= 4 * round(N * bench.MUTATE_FRACTION), ozmap["requests"]


def test_billing_a_month_then_again_from_the_state(results: dict[str, Any]) -> None:
    """Issue 14: the month fetched once (pages, no per-number call), a second run with no call
    at all and the same document, the call detail growing the document and not the memory."""
    run = results["billing"]
    assert run["numbers"] == NUMBERS and run["backdated"] == NUMBERS
    steps = run["steps"]
    assert set(steps) == set(billing.EXPECTED)
    for step in steps.values():
        assert step["ok"], Path(step["log"]).read_text(errors="replace")[-3000:]
    fetch = steps["billing stfc"]["api_calls"]["saperx-stfc"]
    assert fetch["listing"] >= 1 and fetch["non_listing"] == 0, fetch["requests"]
    assert steps["billing stfc (kept)"]["api_calls"]["saperx-stfc"]["total"] == 0
    out = run["outputs"]
    assert out["month.csv"] == out["month-kept.csv"]
    assert out["month.csv"]["rows"] == NUMBERS + 1  # a line per number, and the header
    # every line and its calls; three times the calls per day gives about three times the rows
    assert out["details.csv"]["rows"] > 2 * NUMBERS
    calls_1x = out["details.csv"]["rows"] - NUMBERS - 1
    calls_3x = out["details-3x.csv"]["rows"] - NUMBERS - 1
    assert 2.5 * calls_1x <= calls_3x <= 3.5 * calls_1x, (calls_1x, calls_3x)
    assert "Billing: 1,000 STFC numbers" in results["_table"]


def test_generator_summary_in_the_json(results: dict[str, Any]) -> None:
    summary = results["runs"][0]["summary"]
    assert summary["services"] == N
    # the clients' files, and integrations.yaml, numbers.yaml, content.yaml
    assert results["runs"][0]["spec_files"] == summary["files"] + 3
    _assert_mix(summary["numbers_assigned"], summary["with_packages"], summary["statuses"])
    _assert_sip_mix(summary["sip_lines"], summary["dids"])
    _assert_port_mix(summary["ports"], summary["boxes"])


def test_targets_are_checked(results: dict[str, Any]) -> None:
    targets = {t["target"]: t for t in results["targets"]}
    listing = targets["no-op plan: only paginated listings, >= 500 objects per page"]
    assert listing["status"] == "met", listing["detail"]
    # the others are stated at 100,000 (and 10,000 for growth): not measured at 1,000
    for name, t in targets.items():
        if name != listing["target"]:
            assert t["status"].startswith("not measured"), (name, t)


def _assert_mix(numbers: int, packages: int, statuses: Mapping[str, int]) -> None:
    total = sum(statuses.values())
    assert total == N
    assert abs(numbers / N - 0.30) <= 0.05, numbers
    assert abs(packages / N - 0.60) <= 0.05, packages
    assert abs(statuses.get("active", 0) / N - 0.90) <= 0.03, statuses
    assert abs(statuses.get("suspended", 0) / N - 0.07) <= 0.03, statuses
    assert abs(statuses.get("cancelled", 0) / N - 0.03) <= 0.03, statuses


def _assert_port_mix(ports: int, boxes: int) -> None:
    assert abs(ports / N - workload.PORT_SHARE) <= 0.03, ports
    assert ports < boxes * workload.PORTS_PER_BOX <= 1.2 * ports, (ports, boxes)


def _assert_sip_mix(lines: int, dids: int) -> None:
    assert abs(lines / N - 0.10) <= 0.02, lines
    assert lines <= dids <= 3 * lines and abs(dids / lines - 1.7) <= 0.2, (lines, dids)


def test_the_one_file_plan_parses_that_file_only(results: dict[str, Any]) -> None:
    run = results["runs"][0]
    assert run["edited_file"] == "clients/0001.yaml"
    log = Path(_step(results, "plan (1 file edited)")["log"]).read_text(encoding="utf-8")
    said = re.findall(r"spec cache: (\d+) of (\d+) files reused, (\d+) parsed", log)
    assert said, log[-2000:]
    reused, total, parsed = map(int, said[-1])
    assert (parsed, reused, total) == (1, run["spec_files"] - 1, run["spec_files"])


def test_both_floors_parse_every_file(results: dict[str, Any]) -> None:
    run = results["runs"][0]
    for name in ("YAML floor", "YAML floor (gc off)"):
        measured = _step(results, name)["in_process"]
        assert measured["files"] == run["spec_files"] and measured["parse_s"] > 0, name


def test_every_cli_step_reports_its_state_statements(results: dict[str, Any]) -> None:
    steps = results["runs"][0]["steps"]
    assert steps["YAML floor"]["sql_statements"] is None  # not a CLI command
    for name in ("plan (cold)", "plan (warm)", "apply (1%)", "drift"):
        assert steps[name]["sql_statements"] > 0, name
    assert "| state SQL |" in results["_table"]


@pytest.mark.parametrize(("name", "code"), list(bench.PG_EXPECTED.items()))
def test_the_estate_moved_to_postgresql_measures_the_same(
        results: dict[str, Any], postgres: str | None, name: str, code: int) -> None:
    if postgres is None:
        pytest.skip("no PostgreSQL server could be started here (see tests/conftest.py)")
    step = _step(results, name)
    assert step["exit_code"] == code, Path(step["log"]).read_text(errors="replace")[-3000:]
    if name == "plan (PostgreSQL)":  # the moved state plans nothing, reading as much as SQLite
        assert step["api_calls"]["saperx-stfc"]["non_listing"] == 0
        # as many as on SQLite, but for taking and releasing each integration's advisory lock
        warm = _step(results, "plan (warm)")["sql_statements"]
        assert step["sql_statements"] == warm + 2 * len(PLATFORMS)
    if name == "apply (1%, PostgreSQL)":
        assert sum(c["non_listing"] for c in step["api_calls"].values()) > 0


def test_erp_export_is_measured_and_byte_stable(results: dict[str, Any]) -> None:
    run = results["erp"]
    assert run["clients"] == ERP_CLIENTS and run["files"] == 3
    assert run["services"] > ERP_CLIENTS * 0.9  # a few per cent are skipped, some have two
    steps = run["steps"]
    assert list(steps) == ["erp export", "erp export (re-run)", "erp export (1 change)"]
    assert all(s["ok"] and s["peak_rss_mb"] > 0 for s in steps.values())
    assert steps["erp export (re-run)"]["byte_stable"] is True
    assert steps["erp export (1 change)"]["changed_lines"] == 2
    assert f"ERP export: {ERP_CLIENTS:,} HubSoft clients" in results["_table"]

