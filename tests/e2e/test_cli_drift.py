"""`reconcile drift` end to end: the real CLI against the STFC, Qualifica and Campsoft simulators
served on loopback. Objects are changed, added and removed behind the tool's back through each
simulator's own API; drift classifies them, keeps when each was first seen, and `--fix` puts
back what it may (never what it does not manage)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from reconciler.render.markdown import DRIFT_MARKER
from reconciler.state import StateStore
from tests.e2e.conftest import Cli, ContentSim, Sim
from tests.e2e.content_specs import ContentSpecs
from tests.e2e.specset import RANGES, write_files

LINKED = 'stfc-sp.link["1130001001"]'  # blocked on the platform: changed
SUSPENDED = 'campsoft.subscription["1001/livros-1001"]'  # suspended on the platform: changed
CANCELLED = 'qualifica.subscription["joao.pereira/pro"]'  # cancelled on the platform: missing
STRANGER_LINK = 'stfc-sp.link["1130001005"]'  # linked in a declared range: unmanaged
STRANGER_GRANT = 'qualifica.subscription["maria.silva/pro"]'  # a managed user's extra: unmanaged
FIXABLE = {LINKED, SUSPENDED, CANCELLED}


class DriftSpecs(ContentSpecs):
    """The content spec set plus the STFC integration, its ranges, and a number for two of
    the content clients' services: one spec set over three served simulators."""

    def __init__(self, root: Path, qualifica_url: str, campsoft_url: str, stfc_url: str) -> None:
        super().__init__(root, qualifica_url, campsoft_url)
        self.stfc_url = stfc_url
        for service_id, numero in ((1001, "1130001001"), (1002, "1130001002")):
            self.service(service_id)["phone_numbers"] = [
                {"integration": "stfc-sp", "number": numero, "plan": "STFC Ilimitado"}]

    def integrations(self) -> dict[str, Any]:
        stfc = {"platform": "saperx-stfc", "endpoint": self.stfc_url,
                "credentials": {"token": "${env:E2E_STFC_TOKEN}"}, "options": {"page_size": 4}}
        return {**super().integrations(), "stfc-sp": stfc}

    def write(self) -> Path:
        return write_files(super().write(), {"numbers.yaml": {"number_ranges": RANGES}})


@pytest.fixture
def specs(content_cli: Cli, sim: Sim, qualifica: ContentSim, campsoft: ContentSim) -> DriftSpecs:
    spec = DriftSpecs(content_cli.cwd / "specs", qualifica.url, campsoft.url, sim.url)
    spec.write()
    return spec


def report(cli: Cli, *args: str, check: int) -> dict[str, Any]:
    """`drift --json` (with ``args``) as data, by address."""
    data = json.loads(cli("drift", "--json", *args, check=check).stdout)
    data["by_address"] = {d["address"]: d for d in data["drift"]}
    return data


def change_behind_the_tools_back(sim: Sim, qualifica: ContentSim, campsoft: ContentSim) -> None:
    """Change two managed objects, cancel one, and add two the tool does not manage."""
    sim.api("POST", "/api/numeros/1130001001/bloquear").raise_for_status()
    sub = campsoft.subscriptions()["1001/livros-1001"]
    campsoft.api("POST", f"/subscriptions/{sub['subscription_id']}/suspend").raise_for_status()
    qualifica.api("DELETE", "/usuarios/joao.pereira/produtos/pro").raise_for_status()
    plan_id = sim.api("GET", "/api/planos").json()["planos"][0]["id"]
    sim.api("POST", "/api/numeros/1130001005/vincular",
            json={"id_externo": 9001, "id_plano": plan_id, "documento": "52998224725",
                  "nome": "Cliente de outro sistema"}).raise_for_status()
    qualifica.api("POST", "/usuarios/maria.silva/produtos",
                  json={"produto": "pro", "id_cliente_servico": 1001}).raise_for_status()


def test_drift_classifies_keeps_first_seen_and_fix_puts_back_only_what_it_manages(
        content_cli: Cli, sim: Sim, qualifica: ContentSim, campsoft: ContentSim,
        specs: DriftSpecs) -> None:
    cli = content_cli
    cli("apply", "--auto-approve", check=0)
    assert "No changes." in cli("plan", "--detailed-exitcode", check=0).stdout
    assert "No drift on campsoft, qualifica, stfc-sp." in cli("drift", check=0).stdout

    change_behind_the_tools_back(sim, qualifica, campsoft)
    text = cli("drift", check=2).stdout
    for kind, addr in (("changed", LINKED), ("changed", SUSPENDED), ("missing", CANCELLED),
                       ("unmanaged", STRANGER_LINK), ("unmanaged", STRANGER_GRANT)):
        assert re.search(rf"{kind}\s+{re.escape(addr)}.*\(first seen now\)", text), (addr, text)
    assert "blocked: False (applied) -> True (on the platform)" in text
    assert "linked to service 9001 in declared range sp-centro" in text
    assert "Drift: 5 on campsoft, qualifica, stfc-sp (2 changed, 1 missing, 2 unmanaged)" in text

    time.sleep(1.1)  # a second run re-stamping its own time would show here (1 s resolution)
    first = report(cli, check=2)
    assert first["summary"] == {"drifted": 5, "changed": 2, "missing": 1, "unmanaged": 2}
    assert set(first["by_address"]) == FIXABLE | {STRANGER_LINK, STRANGER_GRANT}
    assert first["by_address"][CANCELLED]["after"] == {"status": "cancelled"}
    assert first["by_address"][SUSPENDED]["fields"] == ["status"]
    time.sleep(1.1)
    second = report(cli, check=2)
    for addr, item in second["by_address"].items():
        assert item["first_seen"] == first["by_address"][addr]["first_seen"], addr
        assert item["age_seconds"] >= 2, addr

    markdown = cli("drift", "--format", "markdown", check=2).stdout
    assert markdown.startswith(DRIFT_MARKER) and "1130001005" in markdown

    writes = (sim.counters()["writes"], qualifica.writes(), campsoft.writes())
    refused = cli("drift", "--fix", check=1)  # no terminal, no --auto-approve
    assert "--auto-approve" in refused.stderr and "Traceback" not in refused.stderr
    assert (sim.counters()["writes"], qualifica.writes(), campsoft.writes()) == writes

    fixed = report(cli, "--fix", "--auto-approve", check=2)  # the unmanaged ones remain
    assert sorted(fixed["fix"]["fixed"]) == sorted(FIXABLE)
    assert sorted(fixed["fix"]["not_fixed"]) == sorted([STRANGER_GRANT, STRANGER_LINK])
    assert fixed["fix"]["applied"]["failed"] == 0
    assert sim.number("1130001001")["bloqueado"] is False
    assert campsoft.subscriptions()["1001/livros-1001"]["status"] == "active"
    assert qualifica.grants()["joao.pereira/pro"]["status"] == "ativo"
    # never deleted by --fix: still on the platforms as the other system left them
    assert sim.number("1130001005")["vinculo"]["id_externo"] == 9001
    assert qualifica.grants()["maria.silva/pro"]["status"] == "ativo"

    after = report(cli, check=2)
    assert set(after["by_address"]) == {STRANGER_LINK, STRANGER_GRANT}
    assert all(after["by_address"][a]["first_seen"] == first["by_address"][a]["first_seen"]
               for a in after["by_address"])

    # The operator removes the strangers by hand; the unlinked number drains the queue.
    sim.api("POST", "/api/numeros/1130001005/desvincular").raise_for_status()
    qualifica.api("DELETE", "/usuarios/maria.silva/produtos/pro").raise_for_status()
    clean = cli("drift", check=0).stdout
    assert "No drift on campsoft, qualifica, stfc-sp." in clean

    store = StateStore(f"sqlite:///{cli.cwd / 'state' / 'reconciler.db'}")
    try:
        runs = [(r.command, r.outcome) for r in reversed(store.runs(limit=50))
                if r.command == "drift"]
        summaries = [r.summary for r in store.runs(limit=50) if r.command == "drift"]
    finally:
        store.close()
    assert runs == [("drift", "clean"), ("drift", "drift"), ("drift", "drift"),
                    ("drift", "drift"), ("drift", "drift"), ("drift", "failed"),
                    ("drift", "drift"), ("drift", "drift"), ("drift", "clean")]
    fix_run = summaries[2]  # newest first: the clean run, the report after, the --fix run
    assert fix_run["fixed"] == 3 and fix_run["unmanaged"] == 2 and fix_run["done"] == 3


def test_a_fix_over_a_safety_limit_is_refused_with_exit_3_and_changes_nothing(
        content_cli: Cli, sim: Sim, qualifica: ContentSim, campsoft: ContentSim,
        specs: DriftSpecs) -> None:
    cli = content_cli
    (specs.root / "safety.yaml").write_text("safety:\n  campsoft:\n    suspend: {max_count: 2}\n",
                                            encoding="utf-8")
    for service_id in (1001, 1002, 1003):
        specs.service(service_id)["status"] = "suspended"
    specs.write()
    cli("apply", "--auto-approve", "--allow", "campsoft.suspend=3", check=0)
    # Reactivated behind the tool's back: putting them back suspends 3, over the limit of 2.
    for key, sub in campsoft.subscriptions().items():
        if key != "2001/livros-paoquente":
            campsoft.api("POST", f"/subscriptions/{sub['subscription_id']}/reactivate"
                         ).raise_for_status()
    writes = campsoft.writes()
    refused = cli("drift", "--fix", "--auto-approve", check=3)
    assert "pass --allow campsoft.suspend=3" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr
    assert campsoft.writes() == writes
    cli("drift", "--fix", "--auto-approve", "--allow", "campsoft.suspend=3", check=0)
    statuses = {k: s["status"] for k, s in campsoft.subscriptions().items()}
    assert statuses.pop("2001/livros-paoquente") == "active"
    assert set(statuses.values()) == {"suspended"}
    cli("drift", check=0)


def test_drift_of_named_integrations_reads_and_fixes_only_those(
        content_cli: Cli, specs: DriftSpecs, sim: Sim, qualifica: ContentSim,
        campsoft: ContentSim) -> None:
    cli = content_cli
    cli("apply", "--auto-approve", check=0)
    change_behind_the_tools_back(sim, qualifica, campsoft)
    untouched = {"q": qualifica.counters()["requests"], "c": campsoft.counters()["requests"]}

    data = report(cli, "stfc-sp", check=2)
    assert data["integrations"] == ["stfc-sp"]
    assert set(data["by_address"]) == {LINKED, STRANGER_LINK}  # the content drift is not read
    cli("drift", "stfc-sp", "--fix", "--auto-approve", check=2)  # the unmanaged link stays
    assert report(cli, "stfc-sp", check=2)["by_address"].keys() == {STRANGER_LINK}
    assert {"q": qualifica.counters()["requests"],
            "c": campsoft.counters()["requests"]} == untouched  # never read, never written
    assert cli("drift", "nope", check=1).stderr.count("integration nope is not declared") == 1
