"""--target and --exclude end to end: the real CLI against the SaperX STFC, Qualifica and
Campsoft simulators served on loopback, what each platform received read back from their own API
and counters."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import Cli, ContentSim, Sim
from tests.e2e.content_specs import ContentSpecs
from tests.e2e.specset import SpecSet

pytestmark = pytest.mark.e2e


@pytest.fixture
def specs(content_cli: Cli, qualifica: ContentSim, campsoft: ContentSim) -> ContentSpecs:
    spec = ContentSpecs(content_cli.cwd / "specs", qualifica.url, campsoft.url)
    spec.write()
    content_cli("apply", "--auto-approve", check=0)
    content_cli("plan", "--detailed-exitcode", check=0)
    return spec


def plan_json(cli: Cli, *args: str) -> dict:
    return json.loads(cli("plan", "--json", *args, check=0).stdout)  # type: ignore[no-any-return]


def test_targeting_one_integration_applies_it_alone_and_leaves_the_other_for_later(
        content_cli: Cli, qualifica: ContentSim, campsoft: ContentSim, specs: ContentSpecs) -> None:
    cli = content_cli
    specs.service(1001)["status"] = "suspended"  # touches both platforms
    specs.write()
    full = plan_json(cli)
    assert {c["integration"] for c in full["changes"]} == {"qualifica", "campsoft"}

    untouched = campsoft.counters()
    grants_before = qualifica.writes()["maria.silva/premium"]
    done = cli("apply", "--target", "qualifica", "--auto-approve", check=0)
    assert '! qualifica.subscription["maria.silva/premium"]  suspend' in done.stdout
    assert "campsoft.subscription" not in done.stdout
    assert "this plan is partial (--target qualifica)" in done.stdout
    assert "Partial plan: 1 to suspend." in done.stdout
    assert campsoft.counters() == untouched  # neither read nor written: no login, no request
    assert qualifica.writes()["maria.silva/premium"] == {**grants_before, "suspender": 1}
    assert qualifica.grants()["maria.silva/premium"]["status"] == "suspenso"

    later = cli("plan", "--detailed-exitcode", check=2).stdout
    assert '! campsoft.subscription["1001/livros-1001"]  suspend' in later
    assert "qualifica.subscription" not in later and "partial" not in later
    assert campsoft.writes()["1001/livros-1001"] == {"create": 1}
    cli("apply", "--auto-approve", check=0)
    assert campsoft.subscriptions()["1001/livros-1001"]["status"] == "suspended"
    cli("plan", "--detailed-exitcode", check=0)


def test_a_saved_plan_for_one_service_records_its_targets_and_is_applied_exactly(
        content_cli: Cli, qualifica: ContentSim, campsoft: ContentSim, specs: ContentSpecs) -> None:
    cli = content_cli
    for service in (1001, 1002):
        specs.service(service)["status"] = "suspended"
    specs.write()
    cli("plan", "--target", "service:1002", "--out", "partial.json", check=0)
    saved = json.loads((cli.cwd / "partial.json").read_text(encoding="utf-8"))
    assert saved["targets"] == ["service:1002"] and saved["excludes"] == []
    assert sorted(c["id"] for c in saved["changes"]) == [
        'suspend:campsoft.subscription["1002/livros-premium-1002"]',
        'suspend:qualifica.subscription["joao.pereira/pro"]']
    assert "this plan is partial (--target service:1002)" in saved["warnings"][-1]["message"]

    refused = cli("apply", "partial.json", "--target", "qualifica", check=1)
    assert "Error:" in refused.stderr and "applied exactly as it was saved" in refused.stderr
    assert "Traceback" not in refused.stderr

    applied = cli("apply", "partial.json", check=0)
    assert "partial.json is a partial plan (--target service:1002)" in applied.stderr
    assert qualifica.grants()["joao.pereira/pro"]["status"] == "suspenso"
    assert campsoft.subscriptions()["1002/livros-premium-1002"]["status"] == "suspended"
    assert qualifica.grants()["maria.silva/premium"]["status"] == "ativo"  # service 1001 waits
    assert campsoft.subscriptions()["1001/livros-1001"]["status"] == "active"

    rest = plan_json(cli)
    assert rest["targets"] == [] and sorted(c["id"] for c in rest["changes"]) == [
        'suspend:campsoft.subscription["1001/livros-1001"]',
        'suspend:qualifica.subscription["maria.silva/premium"]']


def test_dependencies_are_brought_by_a_target_and_dropped_with_an_exclude(
        content_cli: Cli, qualifica: ContentSim, campsoft: ContentSim, specs: ContentSpecs) -> None:
    cli = content_cli
    specs.service(1003)["packages"] = [{"package": "cursos-pro"}]
    specs.write()
    cli("apply", "--auto-approve", check=0)
    specs.service(1002)["packages"] = []
    specs.write()
    cli("apply", "--auto-approve", check=0)  # João's user stays (users are never deleted)
    specs.clients.append({
        "document": "628.194.821-12", "name": "Beatriz Lima", "email": "beatriz@example.com.br",
        "phone": "11 91234-5678", "services": [{"id": 1005, "login": "beatriz.lima",
                                                "status": "active",
                                                "packages": [{"package": "cursos-pro"},
                                                             {"package": "kids"}]}]})
    specs.write()

    sub = 'create:qualifica.subscription["beatriz.lima/pro"]'
    user = 'create:qualifica.user["beatriz.lima"]'
    brought = plan_json(cli, "--target", 'qualifica.subscription["beatriz.lima/*"]')
    assert [c["id"] for c in brought["changes"]] == [user, sub]
    assert any(w["address"] == 'qualifica.user["beatriz.lima"]' and sub in w["message"]
               for w in brought["warnings"])

    dropped = plan_json(cli, "--target", "service:1005", "--exclude", "qualifica.user")
    assert [c["id"] for c in dropped["changes"]] == [
        'create:campsoft.subscription["1005/kids-1005"]']
    assert any(w["address"] == 'qualifica.subscription["beatriz.lima/pro"]'
               and f"depends on {user}" in w["message"] for w in dropped["warnings"])

    before = (qualifica.counters(), campsoft.counters())
    typo = cli("plan", "--target", "qualifca.user", check=1)
    assert "--target qualifca.user matches nothing" in typo.stderr
    assert "did you mean 'qualifica.user'?" in typo.stderr and "Traceback" not in typo.stderr
    assert (qualifica.counters(), campsoft.counters()) == before  # refused before any read

    converged = cli("plan", "--target", 'qualifica.subscription["ana.costa/pro"]', check=0)
    assert "nothing to change" in converged.stdout
    assert "No changes in the targeted part of the plan." in converged.stdout


def test_safety_limits_hold_what_remains_after_narrowing(
        content_cli: Cli, qualifica: ContentSim, campsoft: ContentSim) -> None:
    cli = content_cli
    specs = ContentSpecs(cli.cwd / "specs", qualifica.url, campsoft.url, bulk=12)
    specs.write()
    cli("apply", "--auto-approve", check=0)
    for service in range(5001, 5007):
        specs.service(service)["status"] = "cancelled"
    specs.write()
    writes = campsoft.counters()["writes"]

    over = cli("apply", "--target", 'campsoft.subscription["500*"]', "--auto-approve", check=3)
    assert "6 subscriptions of 16 (37.5%) on integration campsoft" in over.stderr
    over = cli("apply", "--exclude", "service:5001", "--auto-approve", check=3)
    assert "cancels 5 subscriptions of 16" in over.stderr
    assert "pass --allow campsoft.delete=5 if this is intended" in over.stderr
    assert campsoft.counters()["writes"] == writes

    cli("apply", "--target", "service:5001", "--auto-approve", check=0)  # 1 of 16: under 10%
    cancelled = {k for k, s in campsoft.subscriptions().items() if s["status"] == "cancelled"}
    assert cancelled == {"5001/livros-5001"}
    rest = json.loads(cli("plan", "--json", check=3).stdout)  # the other 5: still over
    assert rest["summary"]["delete"] == 5 and rest["targets"] == []


def test_a_targeted_link_registers_its_number_block_first_and_nothing_else(
        cli: Cli, sim: Sim) -> None:
    SpecSet(cli.cwd / "specs", sim.url).write()
    done = cli("apply", "--target", 'stfc-sp.link["1130001002"]', "--auto-approve", check=0)
    assert ('! stfc-sp.number[1130001000..1130001009]  included although no --target selects '
            'it: link:stfc-sp.link["1130001002"] depends on it') in done.stdout
    assert "Apply complete: 2 done, 0 partial, 0 failed, 0 skipped" in done.stdout
    numbers = sim.numbers()
    assert sorted(numbers) == [f"113000100{i}" for i in range(10)]  # not 1140045000's range
    assert {n for n, v in numbers.items() if v["status"] == "vinculado"} == {"1130001002"}

    rest = json.loads(cli("plan", "--json", check=0).stdout)
    assert sorted(c["id"] for c in rest["changes"]) == [
        'create:stfc-sp.number["1140045000"]', 'link:stfc-sp.link["1130001001"]',
        'link:stfc-sp.link["1130001003"]', 'link:stfc-sp.link["1140045000"]']
