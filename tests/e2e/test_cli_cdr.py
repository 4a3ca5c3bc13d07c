"""`reconcile cdr import` and `reconcile billing voip` end to end: the real CLI against the
SaperX v2 simulator served on loopback, whose call records are generated per extension and day.

One estate per module (four SIP lines applied, backdated to the first day of the month before
last, one of them then cancelled); each test works on its own copy of the specs and state, so
every test imports into an empty call-record table. Days are the real UTC days (the simulator
runs on the wall clock): "last month" is the one before today's.
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import (
    V2_API_KEY,
    V2_PASSWORD,
    V2_USERNAME,
    Cli,
    VoipSim,
    child_env,
    serve_logged_in,
    state_rows,
    wait_for_state,
)

pytestmark = pytest.mark.e2e

LINE_SECRETS = {"LINE_1001": "line-pw-" + secrets.token_hex(6),
                "LINE_1003": "line-pw-" + secrets.token_hex(6),
                "LINE_1004": "line-pw-" + secrets.token_hex(6)}
CDR = "GET /api/v2/cdr"
PERIODIC, CLOSING_10, PREPAID, CANCELLED = "483920", "483921", "483922", "483923"
KILL_TRIALS = 3


class V2Sim(VoipSim):
    """The served SaperX v2 simulator, with its call records."""

    def records(self, first: date, last: date) -> dict[str, dict[str, Any]]:
        """Every CDR the platform lists for ``first``..``last``, by id."""
        found: dict[str, dict[str, Any]] = {}
        for page in range(1, 100):
            response = self.api("GET", "/api/v2/cdr", params={
                "from": first.isoformat(), "to": last.isoformat(), "page": page,
                "per_page": 1000})
            response.raise_for_status()
            body = response.json()
            found.update((r["id"], {**r, "started_at": utc(r["started_at"])})
                         for r in body["items"])
            if page >= body["pages"]:
                return found
        raise AssertionError("more than 99 pages of CDRs")

    def cdr_requests(self) -> int:
        return int(self.counters()["requests"].get(CDR, 0))


# -- days --------------------------------------------------------------------------------------


def utc(moment: str) -> str:
    """A time as an ISO 8601 UTC string, whichever way it was written (the state's are naive)."""
    parsed = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    return (parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)).isoformat()


def today() -> date:
    return datetime.now(UTC).date()


def month_back(months: int) -> date:
    """The first day of the month ``months`` before today's."""
    first = today().replace(day=1)
    for _ in range(months):
        first = (first - timedelta(days=1)).replace(day=1)
    return first


def month_end(first: date) -> date:
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def days(first: date, last: date) -> set[str]:
    return {(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)}


# -- the estate --------------------------------------------------------------------------------


def line(code: str, did: str, **fields: Any) -> dict[str, Any]:
    return {"integration": "voip", "account_code": code, "plan": "Fixo Local 100",
            "dids": [{"number": did}], **fields}


def write_specs(root: Path, url: str, *, cancelled: str = "cancelled", cdr_import: str = "daily",
                stfc: bool = False, schedule: str | None = None) -> None:
    integrations: dict[str, Any] = {"voip": {
        "platform": "saperx-v2", "endpoint": url,
        "credentials": {"username": V2_USERNAME, "password": "${env:V2_PASSWORD}",
                        "api_key": "${env:V2_KEY}", "api_secret": "${env:V2_SECRET}"},
        "options": {"charge_active_extensions_only": True, "cdr_import": cdr_import}}}
    if stfc:
        integrations["stfc-sp"] = {"platform": "saperx-stfc", "endpoint": "embedded",
                                   "credentials": {"token": "${env:V2_SECRET}"}}
    lines = [("529.982.247-25", "Maria Silva", 1001, "active",
              line(PERIODIC, "4830001000", password="${env:LINE_1001}")),
             ("111.444.777-35", "Loja Exemplo", 1002, "active",
              line(CLOSING_10, "4830001001", password="generate", plan="Fixo Brasil 500",
                   password_file="../secrets/line-1002.txt", closing_day=10)),
             ("390.533.447-05", "Ana Costa", 1003, "active",
              line(PREPAID, "4830001002", password="${env:LINE_1003}", billing="prepaid")),
             ("123.456.789-09", "Carlos Souza", 1004, cancelled,
              line(CANCELLED, "4830001003", password="${env:LINE_1004}"))]
    data = {"integrations": integrations,
            "number_ranges": {"floripa": {"integration": "voip", "area_code": 48,
                                          "first": 30001000, "last": 30001099}},
            "clients": [{"document": doc, "name": name, "services": [
                {"id": service, "status": status, "sip_lines": [sip]}]}
                for doc, name, service, status, sip in lines]}
    if schedule is not None:
        data["schedules"] = {"calls": {"cron": schedule, "run": "cdr-import",
                                       "integration": "voip"}}
    specs = root / "specs"
    specs.mkdir(parents=True, exist_ok=True)
    (specs / "estate.yaml").write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
                                       encoding="utf-8")


@pytest.fixture(scope="module")
def v2() -> Iterator[V2Sim]:
    yield from serve_logged_in(V2Sim, "saperx-v2", V2_API_KEY)


def cli_in(root: Path, v2: V2Sim) -> Cli:
    return Cli(root, child_env(**LINE_SECRETS, V2_SECRET=v2.secret, V2_PASSWORD=V2_PASSWORD,
                               V2_KEY=V2_API_KEY, NO_COLOR="1", COLUMNS="250"))


@pytest.fixture(scope="module")
def estate(v2: V2Sim, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four lines applied, with calls since the first day of the month before last, the last
    one then cancelled (inactive, but with the calls it made while active)."""
    root = tmp_path_factory.mktemp("cdr-estate")
    cli = cli_in(root, v2)
    write_specs(root, v2.url, cancelled="active")
    cli("apply", "--auto-approve", check=0)
    for code in (PERIODIC, CLOSING_10, PREPAID, CANCELLED):
        v2.client.post("/_sim/backdate", json={
            "account_code": code, "created_on": month_back(2).isoformat()}).raise_for_status()
    write_specs(root, v2.url)
    cli("apply", "--auto-approve", check=0)
    return root


@pytest.fixture
def cli(estate: Path, v2: V2Sim, tmp_path: Path) -> Cli:
    for part in ("specs", "state", "secrets"):
        shutil.copytree(estate / part, tmp_path / part)
    return cli_in(tmp_path, v2)


# -- the state ---------------------------------------------------------------------------------


def held(cli: Cli) -> dict[str, dict[str, Any]]:
    """The call records in the state, by id, in the simulator's wire shape."""
    rows = state_rows(cli, "SELECT * FROM call_records")
    assert len(rows) == len({r["record_id"] for r in rows})
    assert all((r["integration"], r["environment"]) == ("voip", "production") for r in rows)
    return {r["record_id"]: {
        "id": r["record_id"], "account_code": r["account_code"],
        "started_at": utc(r["started_at"]),
        "destination": r["destination"], "call_type": r["call_type"],
        "duration_seconds": r["duration_seconds"], "cost": r["cost"]} for r in rows}


def call_days(cli: Cli) -> dict[str, bool]:
    """Each day an import read to its end, and whether it is complete."""
    return {r["day"]: bool(r["complete"])
            for r in state_rows(cli, "SELECT day, complete FROM call_days")}


def of_days(records: dict[str, dict[str, Any]], wanted: set[str]) -> set[str]:
    return {i for i, r in records.items() if r["started_at"][:10] in wanted}


# -- 1. import -----------------------------------------------------------------------------


def test_import_holds_exactly_the_platforms_records_and_a_rerun_asks_for_no_complete_day(
        cli: Cli, v2: V2Sim) -> None:
    first = month_back(1)
    last = month_end(first)
    period = first.strftime("%Y-%m")
    before = v2.cdr_requests()
    done = cli("cdr", "import", "voip", "--period", period, check=0).stdout
    assert v2.cdr_requests() - before == len(days(first, last))  # a day a page: all fit in one
    listed = v2.records(first, last)  # (asked after counting: this asks too)
    assert len(listed) > 50  # four lines, a month: the comparison below is not of nothing
    assert held(cli) == listed  # every field of every record, and nothing else
    assert f"read {len(days(first, last))} days, {len(listed):,} call records, " \
           f"{len(listed):,} new" in done
    assert call_days(cli) == dict.fromkeys(days(first, last), True)

    before = v2.cdr_requests()
    again = cli("cdr", "import", "voip", "--period", period, check=0).stdout
    assert v2.cdr_requests() == before  # complete days are not asked for again
    assert f"Skipped {len(days(first, last))} days already imported whole" in again
    assert "0 new" in again
    assert held(cli) == listed


# -- 2. kill -------------------------------------------------------------------------------


def test_an_import_killed_midway_is_completed_by_the_next_without_duplicates(
        cli: Cli, v2: V2Sim) -> None:
    first = month_back(1)
    last = month_end(first)
    period, db = first.strftime("%Y-%m"), cli.cwd / "state" / "reconciler.db"
    listed = v2.records(first, last)
    rng = random.Random(20261203)
    landed = 0
    try:
        v2.configure(latency=0.08)  # a month is ~30 slow pages: room for a kill to land
        for trial in range(KILL_TRIALS):
            count = len(held(cli))
            proc = subprocess.Popen([sys.executable, "-m", "reconciler", "cdr", "import", "voip",
                                     "--period", period], cwd=cli.cwd, env=cli.env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            started = wait_for_state(db, proc, f"SELECT count(*) > {count} FROM call_records",
                                     deadline=30)
            time.sleep(rng.uniform(0.0, 0.8) if started else 0)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            now, marked = held(cli), call_days(cli)
            landed += len(now) < len(listed)
            assert set(now) <= set(listed), trial
            complete = {d for d, whole in marked.items() if whole}
            assert of_days(now, complete) == of_days(listed, complete), trial  # whole days only
    finally:
        v2.configure(latency=0.0)
    assert landed >= 1  # some kill did stop an import halfway
    kept = len(held(cli))
    rerun = cli("cdr", "import", "voip", "--period", period, check=0).stdout
    assert f"{len(listed) - kept:,} new" in rerun
    assert held(cli) == listed
    assert call_days(cli) == dict.fromkeys(days(first, last), True)


# -- 3. which days -------------------------------------------------------------------------


def test_today_stays_open_and_the_default_period_follows_the_cadence(cli: Cli,
                                                                      v2: V2Sim) -> None:
    now, yesterday = today(), today() - timedelta(days=1)
    before = v2.cdr_requests()
    opened = cli("cdr", "import", "voip", "--day", now.isoformat(), check=0).stdout
    assert "Not complete yet (the day is not over)" in opened and now.isoformat() in opened
    cli("cdr", "import", "voip", "--day", (now - timedelta(days=5)).isoformat(), check=0)
    assert v2.cdr_requests() - before == 2
    assert call_days(cli) == {now.isoformat(): False, (now - timedelta(days=5)).isoformat(): True}
    assert held(cli) == v2.records(now, now) | v2.records(now - timedelta(days=5),
                                                          now - timedelta(days=5))

    daily = cli("cdr", "import", "voip", check=0).stdout  # from the last complete day on
    assert f"{(now - timedelta(days=4)).isoformat()}..{yesterday.isoformat()}: read 4 days" in daily
    assert call_days(cli) == {**dict.fromkeys(days(now - timedelta(days=5), yesterday), True),
                              now.isoformat(): False}
    before = v2.cdr_requests()
    up_to_date = cli("cdr", "import", "voip", check=0).stdout  # again the same day
    assert "up to date" in up_to_date and v2.cdr_requests() == before

    write_specs(cli.cwd, v2.url, cdr_import="monthly")
    previous = month_back(1)
    monthly = cli("cdr", "import", "voip", check=0).stdout
    assert f"{previous.isoformat()}..{month_end(previous).isoformat()}:" in monthly
    complete = {d for d, whole in call_days(cli).items() if whole}
    assert days(previous, month_end(previous)) <= complete
    assert held(cli) == v2.records(previous, month_end(previous)) | v2.records(
        now - timedelta(days=5), now)


# -- 4, 5. billing, and no secret anywhere ---------------------------------------------------


def expected_line(records: dict[str, dict[str, Any]], invoice_line: dict[str, Any],
                  plans: dict[str, Any]) -> dict[str, Any]:
    """An invoice line's items as this test works them out from the records in the state."""
    minutes: dict[str, int] = defaultdict(int)
    calls: dict[str, int] = defaultdict(int)
    for r in records.values():
        if (r["account_code"] == invoice_line["line"]
                and invoice_line["period_from"] <= r["started_at"][:10]
                <= invoice_line["period_to"]):
            minutes[r["call_type"]] += math.ceil(r["duration_seconds"] / 60)
            calls[r["call_type"]] += 1
    plan = plans[invoice_line["plan"]]
    items = {}
    for kind, used in minutes.items():
        billable = max(0, used - plan["allowance_minutes"][kind])
        price = Decimal(plan["price_per_minute"][kind])
        items[kind] = (calls[kind], used, billable,
                       str((price * billable).quantize(Decimal("0.01"), ROUND_HALF_UP)))
    return items


def test_billing_prices_the_imported_calls_alike_in_every_format(cli: Cli, v2: V2Sim) -> None:
    month = month_back(2)
    following = month_back(1)
    label, next_label = month.strftime("%Y-%m"), following.strftime("%Y-%m")
    said = [cli("cdr", "import", "voip", "--period", label, check=0)]

    short = cli("billing", "voip", "--month", label, "--format", "json", check=1)
    gap = f"{following.isoformat()}..{following.replace(day=9).isoformat()}"
    assert gap in short.stderr and f"reconcile cdr import voip --period {next_label}" in short.stderr
    assert "Traceback" not in short.stderr and short.stdout == ""
    partial = cli("billing", "voip", "--month", label, "--format", "json", "--partial", check=0)
    assert "Warning:" in partial.stderr and gap in partial.stderr
    document = json.loads(partial.stdout)
    assert document["complete"] is False
    assert document["missing_days"] == {"voip": sorted(days(following, following.replace(day=9)))}

    said.append(cli("-vv", "cdr", "import", "voip", "--period", next_label, check=0))
    said.append(cli("-vv", "billing", "voip", "--month", label, "--format", "json", check=0))
    bill = json.loads(said[-1].stdout)
    assert bill["complete"] is True and bill["missing_days"] == {}
    lines = {ln["line"]: ln for ln in bill["lines"]}
    assert set(lines) == {PERIODIC, CLOSING_10}
    assert (lines[PERIODIC]["period_from"], lines[PERIODIC]["period_to"]) == (
        month.isoformat(), month_end(month).isoformat())
    assert (lines[CLOSING_10]["period_from"], lines[CLOSING_10]["period_to"]) == (
        month.replace(day=10).isoformat(), following.replace(day=9).isoformat())
    records = held(cli)
    plans = {p["name"]: p for p in v2.api("GET", "/api/v2/plans").json()["items"]}
    for code, invoice_line in lines.items():
        items = {i["label"]: (i["calls"], i["minutes"], i["billable_minutes"], i["amount"])
                 for i in invoice_line["items"]}
        assert items == expected_line(records, invoice_line, plans), code
        assert invoice_line["minutes"] == sum(i[1] for i in items.values())
        assert invoice_line["amount"] == str(sum(Decimal(i[3]) for i in items.values()))
    assert {u["line"]: u["reason"] for u in bill["unbilled"]} == {
        PREPAID: "prepaid line: its calls are paid from its credit",
        CANCELLED: "extension inactive (charge_active_extensions_only)"}
    total = bill["total"]
    assert Decimal(total) == sum(Decimal(ln["amount"]) for ln in lines.values()) > 0

    as_csv = cli("billing", "voip", "--month", label, check=0).stdout
    rows = list(csv.DictReader(io.StringIO(as_csv)))
    assert {r["line"]: r["amount"] for r in rows} == {c: ln["amount"] for c, ln in lines.items()}
    assert sum(Decimal(r["amount"]) for r in rows) == Decimal(total)
    written = cli.cwd / "out" / "voip.md"
    to_file = cli("billing", "voip", "--month", label, "--format", "markdown", "--out",
                  str(written), check=0)
    assert to_file.stdout == "" and str(written) in to_file.stderr
    markdown = written.read_text(encoding="utf-8")
    assert f"**2 invoice lines, R$ {total}**" in markdown and "2 left unbilled" in markdown
    for code, invoice_line in lines.items():
        assert re.search(rf"\| {code} \|.*\| {re.escape(invoice_line['amount'])} \|", markdown)

    generated = (cli.cwd / "secrets" / "line-1002.txt").read_text().strip()
    hidden = [*LINE_SECRETS.values(), generated, v2.secret, V2_PASSWORD]
    blobs = [p.read_bytes() for p in (cli.cwd / "state").glob("reconciler.db*")]
    blobs += [(r.stdout + r.stderr).encode() for r in [*said, short, partial]]
    blobs += [as_csv.encode(), markdown.encode()]
    assert "DEBUG" in said[1].stderr  # -vv did log
    for blob in blobs:
        for secret in hidden:
            assert secret.encode() not in blob


# -- 6. schedules --------------------------------------------------------------------------


def test_a_cdr_import_job_imports_and_a_mismatched_cadence_is_a_warning(cli: Cli,
                                                                         v2: V2Sim) -> None:
    write_specs(cli.cwd, v2.url, schedule="30 7 * * *")
    yesterday = today() - timedelta(days=1)
    run = cli("schedule", "run", "--now", f"{today().isoformat()}T07:31:00Z", check=0)
    assert "calls: ok (exit 0)" in run.stdout, run.stdout
    assert "Warning" not in run.stderr  # a daily job on a daily import agrees
    (job,) = state_rows(cli, "SELECT job, outcome FROM schedule_runs")
    assert job == {"job": "calls", "outcome": "ok"}
    assert held(cli) == v2.records(yesterday, yesterday) != {}  # a first daily run: yesterday
    assert call_days(cli) == {yesterday.isoformat(): True}

    write_specs(cli.cwd, v2.url, schedule="0 7 * * 1")
    weekly = cli("validate", check=0)
    assert "Warning" in weekly.stderr and "imports call records daily" in weekly.stderr
    assert "does not run every day" in weekly.stderr
    write_specs(cli.cwd, v2.url, schedule="30 7 * * *", cdr_import="monthly")
    daily = cli("validate", check=0)
    assert "Warning" in daily.stderr and "does not run once a month" in daily.stderr


# -- 7. errors -----------------------------------------------------------------------------


def test_import_errors_are_clear_and_without_traceback(cli: Cli, v2: V2Sim) -> None:
    write_specs(cli.cwd, v2.url, stfc=True)
    cases = [
        (("stfc-sp",), 1, "integration stfc-sp (saperx-stfc) has no call records to import; "
                          "integrations that have: voip"),
        (("nowhere",), 1, "integration nowhere is not declared in the specs; declared: "
                          "stfc-sp, voip"),
        (("voip", "--period", "2026-13"), 1, "'2026-13' is not a month: write YYYY-MM"),
        (("voip", "--period", "2026-11", "--day", "2026-11-02"), 2,
         "give --period or --day, not both"),
    ]
    before = v2.cdr_requests()
    for args, code, message in cases:
        result = cli("cdr", "import", *args, check=code)
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    assert v2.cdr_requests() == before and state_rows(
        cli, "SELECT count(*) AS n FROM call_records") == [{"n": 0}]
