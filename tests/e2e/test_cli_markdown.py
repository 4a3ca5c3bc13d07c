"""`reconcile plan --format markdown` end to end, as a CI job runs it: the real CLI against the
SaperX STFC simulator served by uvicorn on loopback, stdout redirected to the comment file."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.e2e.conftest import Cli, Sim
from tests.e2e.specset import SpecSet

pytestmark = pytest.mark.e2e


@pytest.fixture
def specs(cli: Cli, sim: Sim) -> SpecSet:
    """The e2e spec set, written, its integration pointing at the served simulator."""
    (spec := SpecSet(cli.cwd / "specs", sim.url)).write()
    return spec


def test_markdown_plan_on_stdout_and_the_plan_file_beside_it_apply_as_reviewed(
        cli: Cli, sim: Sim, specs: SpecSet) -> None:
    first = cli("plan", "--format", "markdown", "--out", "plan.json", "--detailed-exitcode",
                check=2)
    lines = first.stdout.splitlines()
    assert lines[:2] == ["<!-- reconcile:plan -->", "### reconcile plan: 11 to create, 4 to link"]
    assert ("| stfc-sp | saperx-stfc | 11 | 4 | 2 reads, 6 writes, under 1 s at 10 req/s |"
            in lines)
    assert '> stfc-sp.link["1130001001"]  link to service 1001, plan STFC Ilimitado' in first.stdout
    assert "Saved the plan to plan.json" in first.stderr  # stdout is the comment only
    assert "Saved" not in first.stdout
    for text in (first.stdout, first.stderr, (cli.cwd / "plan.json").read_text()):
        assert sim.token not in text
    saved = json.loads((cli.cwd / "plan.json").read_text())
    assert saved["summary"]["changes"] == 15 and saved["expires_at"]

    cli("apply", "plan.json", check=0)  # the reviewed plan file, exactly
    assert len(sim.numbers()) == 11
    again = cli("plan", "--format", "markdown", check=0)
    assert again.stdout.splitlines()[1] == "### reconcile plan: no changes"


def test_markdown_plan_over_a_safety_limit_still_prints_and_exits_3(
        cli: Cli, sim: Sim, specs: SpecSet) -> None:
    cli("apply", "--auto-approve", check=0)
    for service in (1001, 1002):
        specs.service(service)["status"] = "cancelled"
    specs.write()
    (specs.root / "safety.yaml").write_text(
        yaml.safe_dump({"safety": {"stfc-sp": {"unlink": {"max_count": 1}}}}), encoding="utf-8")
    over = cli("plan", "--format", "markdown", check=3)
    assert "**Safety: apply refuses this plan** (exit 3): 1 limit exceeded." in over.stdout
    assert ("| `stfc-sp.unlink` | unlinks 2 numbers of 4 | 50.0% | 10% and 1 | **over**: "
            "pass `--allow stfc-sp.unlink=2` if intended |") in over.stdout
    assert "Error: the plan goes over the safety limits" in over.stderr
    assert "Traceback" not in over.stderr
    allowed = cli("plan", "--format", "markdown", "--allow", "stfc-sp.unlink=2", check=0)
    assert "over, allowed by `--allow stfc-sp.unlink=2`" in allowed.stdout


def test_markdown_plan_respects_max_chars(cli: Cli, sim: Sim, specs: SpecSet) -> None:
    specs.ranges["sp-centro"]["last"] = 30001099
    specs.clients[0]["services"] += [
        {"id": 1100 + n, "status": "active", "phone_numbers": [
            {"integration": "stfc-sp", "number": str(1130001010 + n), "plan": "STFC Ilimitado"}]}
        for n in range(40)]
    specs.write()
    cut = cli("plan", "--format", "markdown", "--max-chars", "3000", check=0)
    assert len(cut.stdout) <= 3000
    assert cut.stdout.count("<details>") == cut.stdout.count("</details>") == 1
    note = cut.stdout.splitlines()[-2]
    shown = sum(1 for line in cut.stdout.splitlines() if line.startswith(("+ stfc-sp", "> stfc-sp")))
    # 46 changes: two blocks of numbers to register, 44 links
    assert note == (f"> **Truncated to fit a comment:** {46 - shown} of 46 changes not shown "
                    f"(stfc-sp: {46 - shown} of 46).")
    full = cli("plan", "--format", "markdown", check=0)
    assert "Truncated" not in full.stdout and full.stdout.count("\n> stfc-sp.link[") == 44
    refused = cli("plan", "--format", "markdown", "--max-chars", "100", check=2)
    assert "--max-chars" in refused.stderr and "Traceback" not in refused.stderr
