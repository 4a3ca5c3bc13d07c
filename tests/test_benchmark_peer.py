"""The benchmark's octoDNS peer (issue 15) at N = 1,000, alone (not the whole runner): octoDNS's
plan of the converged estate plans nothing, and after the 1% change about N/100 updates. It
checks the counts from octoDNS's own output, never the timings. Skipped without octoDNS."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
import yaml

from benchmarks import peer_octodns
from benchmarks import run as bench

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(120),
    pytest.mark.skipif(importlib.util.find_spec("octodns") is None,
                       reason="octoDNS is not installed (pip install octodns, or the bench extra)"),
]

N = 1_000


@pytest.fixture(scope="module")
def peer(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("peer") / "octodns"
    return peer_octodns.run_peer(N, root, seed=1, fraction=bench.MUTATE_FRACTION,
                                 say=lambda message: None)


def _log(step: dict[str, Any]) -> str:
    return Path(step["log"]).read_text(encoding="utf-8", errors="replace")


def test_the_estate_is_n_records_in_zones_of_1000(peer: dict[str, Any]) -> None:
    assert peer["records"] == N and peer["zones"] == 1
    source = Path(peer["root"]) / "source"
    records = yaml.safe_load((source / "z0001.bench.example.yaml").read_text(encoding="utf-8"))
    assert len(records) == N
    assert {r["type"] for r in records.values()} == {"A", "TXT"}


def test_no_op_plan_exits_0_and_plans_nothing(peer: dict[str, Any]) -> None:
    step = peer["steps"][peer_octodns.NO_OP]
    assert step["exit_code"] == 0, _log(step)[-3000:]
    assert peer_octodns.NOTHING_PLANNED in _log(step)
    assert step["plan"] == {"zones_with_changes": 0, "creates": 0, "updates": 0, "deletes": 0,
                            "changes": 0}
    assert step["ok"]


def test_one_percent_plan_reports_about_n_over_100_changes(peer: dict[str, Any]) -> None:
    step = peer["steps"][peer_octodns.CHANGED]
    assert step["exit_code"] == 0, _log(step)[-3000:]
    assert peer["changed_records"] == N // 100
    plan = step["plan"]
    assert plan is not None, _log(step)[-3000:]
    assert plan["changes"] == plan["updates"] == N // 100  # values changed: updates only
    assert step["ok"]
    for field in ("wall_s", "cpu_s", "max_rss_kib"):
        assert step[field] > 0, field


def test_plan_changes_reads_every_zone_summary() -> None:
    text = ("* z0001.bench.example.\n*   Summary: Creates=1, Updates=7, Deletes=0, Existing=1000, "
            "Meta=False\n* z0002.bench.example.\n*   Summary: Creates=0, Updates=3, Deletes=2, "
            "Existing=1000, Meta=False\n")
    assert peer_octodns.plan_changes(text) == {"zones_with_changes": 2, "creates": 1,
                                               "updates": 10, "deletes": 2, "changes": 13}
    assert peer_octodns.plan_changes("Traceback (most recent call last):") is None


def test_the_peer_table_sits_beside_the_tool_plans(peer: dict[str, Any]) -> None:
    mine = {"wall_s": 1.5, "peak_rss_mb": 120.0}
    run = {"n": N, "steps": {"plan (warm)": mine, "plan (1% changed)": mine},
           "peer": {"octodns": peer}}
    table = "\n".join(bench.peer_markdown([run]))
    assert "| 1,000 | octoDNS plan (no-op) | 0 |" in table
    assert "| plan (warm) | 1.50 | 120 |" in table
    assert "| 10 | plan (1% changed) | 1.50 | 120 |" in table
    assert bench.peer_markdown([{"n": N, "steps": {}}]) == []


def test_runner_without_octodns_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    def no_simulators(*args: Any) -> None:
        raise AssertionError("the runner went on without octoDNS")

    monkeypatch.setattr(peer_octodns, "version", lambda: None)
    monkeypatch.setattr(bench, "simulators", no_simulators)
    assert bench.main(["--peer", "octodns", "--sizes", "1"]) == 1
    assert "pip install octodns" in capsys.readouterr().err
