"""`reconcile billing stfc` end to end: the real CLI against the SaperX STFC simulator served on
loopback. The estate of tests/e2e/specset.py is applied, its links backdated to the first day of
the month before last, so that last month (closed) and this one (open) both have charges; a
number is then linked on the platform by hand, which no spec holds. Days are real UTC days (the
simulator runs on the wall clock)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from tests.e2e.conftest import Cli, Sim, state_rows
from tests.e2e.specset import SpecSet

pytestmark = pytest.mark.e2e

FETCH = "GET /api/faturamento"
BY_HAND = "1130001005"  # linked on the platform, by no spec
PAGES = 2  # a month's 5 charges in pages of 4 (the specs' page_size): one fetch


def month_back(months: int) -> date:
    first = datetime.now(UTC).date().replace(day=1)
    for _ in range(months):
        first = (first - timedelta(days=1)).replace(day=1)
    return first


LAST, THIS = month_back(1).strftime("%Y-%m"), month_back(0).strftime("%Y-%m")


@pytest.fixture
def estate(cli: Cli, sim: Sim) -> SpecSet:
    specs = SpecSet(cli.cwd / "specs", sim.url)
    specs.service(1001)["phone_numbers"][0]["plan"] = "STFC Básico 100"  # 100 minutes: overage
    specs.write()
    cli("apply", "--auto-approve", check=0)
    sim.api("POST", f"/api/numeros/{BY_HAND}/vincular", json={
        "id_plano": 101, "documento": "00000000191", "nome": "Feito à mão",
        "id_externo": 9999}).raise_for_status()
    sim.client.post("/_sim/links/backdate", json={
        "desde": month_back(2).isoformat()}).raise_for_status()
    return specs


def fetches(sim: Sim) -> int:
    return int(sim.counters()["requests"].get(FETCH, 0))


def platform_month(sim: Sim, month: str, detailed: bool = False) -> dict[str, dict[str, Any]]:
    year, number = month.split("-")
    body = sim.api("GET", "/api/faturamento", params={
        "mes": int(number), "ano": int(year), "itens_por_pagina": 1000,
        "detalhado": str(detailed).lower()}).json()
    assert body["paginacao"]["ultima_pagina"] == 0
    return {c["numero"]: c for c in body["cobrancas"]}


def bill(cli: Cli, *args: str, month: str = LAST) -> tuple[dict[str, Any], str]:
    done = cli("billing", "stfc", "stfc-sp", "--month", month, "--format", "json", *args, check=0)
    return json.loads(done.stdout), done.stderr


def test_a_closed_month_is_billed_once_then_read_from_the_state(cli: Cli, sim: Sim,
                                                                estate: SpecSet) -> None:
    charged = platform_month(sim, LAST)
    assert set(charged) == {"1130001001", "1130001002", "1130001003", "1140045000", BY_HAND}
    before = fetches(sim)
    document, stderr = bill(cli)
    assert fetches(sim) - before == PAGES
    assert f"stfc-sp: {LAST}: read from the platform (not fetched yet): 5 numbers" in stderr
    assert document["complete"] is True and document["kind"] == "stfc"
    lines = {ln["line"]: ln for ln in document["lines"]}
    assert [ln["service_id"] for ln in document["lines"]] == [1001, 1002, 1003, 2001]
    for number, line in lines.items():  # the platform's totals, to the centavo
        assert line["amount"] == f"{Decimal(charged[number]['valor_total']):.2f}"
        assert sum(Decimal(i["amount"]) for i in line["items"]) == Decimal(line["amount"])
    maria = lines["1130001001"]
    assert (maria["plan"], maria["client"], maria["document"]) == (
        "STFC Básico 100", "Maria Silva", "52998224725")
    assert Decimal(maria["items"][1]["amount"]) > 0  # beyond the 100 minutes
    assert lines["1130001003"]["service_id"] == 1003  # suspended, still billed
    assert document["total"] == f"{sum(Decimal(ln['amount']) for ln in lines.values()):.2f}"
    assert [(u["line"], u["service_id"], u["amount"]) for u in document["unbilled"]] == [
        (BY_HAND, 9999, f"{Decimal(charged[BY_HAND]['valor_total']):.2f}")]
    assert "1 charged numbers left unbilled" in stderr and BY_HAND in stderr

    again, stderr = bill(cli)
    assert fetches(sim) - before == PAGES  # no platform call the second time
    assert again == document
    assert f"stfc-sp: {LAST}: from the state" in stderr and "no platform call" in stderr
    csv_run = cli("billing", "stfc", "stfc-sp", "--month", LAST, "--type", "STFC", check=0)
    rows = list(csv.DictReader(io.StringIO(csv_run.stdout)))
    assert [(r["line"], r["amount"], r["type"]) for r in rows] == [
        (ln["line"], ln["amount"], "STFC") for ln in document["lines"]]
    assert fetches(sim) - before == PAGES
    kept = state_rows(cli, "SELECT month, closed, detailed, numbers FROM charge_fetches")
    assert kept == [{"month": LAST, "closed": 1, "detailed": 0, "numbers": 5}]


def test_a_refresh_after_the_platform_corrected_a_charge_says_what_changed(
        cli: Cli, sim: Sim, estate: SpecSet) -> None:
    first, _ = bill(cli)
    old = next(ln["amount"] for ln in first["lines"] if ln["line"] == "1130001002")
    fixed = sim.client.post("/_sim/charges", json={"numero": "1130001002", "mes": LAST,
                                                   "excedente": "7.35"}).json()
    assert fixed["valor_total"] == "87.25"
    unchanged, _ = bill(cli)
    assert unchanged == first  # the state's copy, until asked again
    calls = fetches(sim)
    refreshed, stderr = bill(cli, "--refresh")
    assert fetches(sim) == calls + PAGES
    assert refreshed["changes"] == [{"integration": "stfc-sp", "line": "1130001002",
                                     "service_id": 1002, "before": old, "after": "87.25"}]
    assert (f"stfc-sp: {LAST} is closed, and the platform changed 1 of its charges since the "
            f"last read: 1130001002 (service 1002): R$ {old} -> R$ 87.25") in stderr
    line = next(ln for ln in refreshed["lines"] if ln["line"] == "1130001002")
    assert line["amount"] == "87.25"
    assert Decimal(refreshed["total"]) - Decimal(first["total"]) == Decimal("87.25") - Decimal(old)
    assert bill(cli)[0]["changes"] == []  # said once: the next run reads the new copy
    assert len(state_rows(cli, "SELECT id FROM charge_fetches")) == 1  # the old one pruned


def test_call_detail_to_a_file_and_an_open_month_asked_each_time(cli: Cli, sim: Sim,
                                                                 estate: SpecSet) -> None:
    bill(cli)  # without detail first: --details must ask again
    out = cli.cwd / "out" / "detail.csv"
    calls = fetches(sim)
    done = cli("billing", "stfc", "stfc-sp", "--month", LAST, "--details", "--out", str(out),
               check=0)
    assert fetches(sim) == calls + PAGES and done.stdout == ""
    assert "call detail asked for, and the last fetch has none" in done.stderr
    assert "Wrote 4 invoice lines (R$ " in done.stderr and str(out) in done.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    detail = platform_month(sim, LAST, detailed=True)
    call_rows = [r for r in rows if r["call_started_at"]]
    billed_numbers = {r["line"] for r in rows if not r["call_started_at"]}
    assert len(call_rows) == sum(len(detail[n]["chamadas"]) for n in billed_numbers) > 0
    first = detail["1130001001"]["chamadas"][0]
    assert [call_rows[0][k] for k in ("line", "call_destination", "call_type", "call_amount")] \
        == ["1130001001", first["destino"], first["tipo"], first["valor"]]
    markdown = cli("billing", "stfc", "stfc-sp", "--month", LAST, "--details", "--format",
                   "markdown", check=0)
    assert fetches(sim) == calls + PAGES + 1  # and this test's own read: none by markdown
    assert "### 1130001001: Maria Silva, service 1001" in markdown.stdout
    assert "| started (UTC) | origin | destination |" in markdown.stdout

    calls = fetches(sim)
    current, stderr = bill(cli, month=THIS)
    assert "the month is not over, so the next run asks again" in stderr
    assert current["complete"] is False and current["missing_days"]["stfc-sp"]
    bill(cli, month=THIS)
    assert fetches(sim) == calls + 2 * PAGES  # an open month is asked every time


def test_secrets_never_reach_an_output_and_errors_are_clear(cli: Cli, sim: Sim,
                                                            estate: SpecSet) -> None:
    outputs = []
    for fmt in ("csv", "json", "markdown"):
        done = cli("billing", "stfc", "stfc-sp", "--month", LAST, "--details", "--format", fmt,
                   check=0)
        outputs += [done.stdout, done.stderr]
    out = cli.cwd / "bill.json"
    cli("billing", "stfc", "stfc-sp", "--month", LAST, "--format", "json", "--out", str(out),
        check=0)
    outputs.append(out.read_text(encoding="utf-8"))
    assert all(sim.token not in text for text in outputs)
    assert sim.token.encode() not in (cli.cwd / "state" / "reconciler.db").read_bytes()
    wrong = cli("billing", "stfc", "nope", "--month", LAST, check=1)
    assert "integration nope is not declared in the specs; declared: stfc-sp" in wrong.stderr
    bad = cli("billing", "stfc", "stfc-sp", "--month", "2026-13", check=None)
    assert bad.returncode != 0 and "2026-13" in bad.stderr
    sim.configure(error_rate=1.0)  # the platform down: a clear error, nothing half-kept
    try:
        down = cli("billing", "stfc", "stfc-sp", "--month", THIS, "--refresh", check=1)
    finally:
        sim.configure(error_rate=0.0)
    assert "Error:" in down.stderr and "Traceback" not in down.stderr
    assert sim.token not in down.stderr
    months = {r["month"] for r in state_rows(
        cli, "SELECT month FROM charge_fetches WHERE finished_at IS NOT NULL")}
    assert months == {LAST}
