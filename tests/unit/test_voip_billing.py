"""SaperX v2 overage billing against a hand-computed fixture: started minutes per call type, the
plan's allowance, prices per minute rounded half up to centavos, closing-day periods, and what is
left unbilled (prepaid, inactive, unknown lines). Then the three output formats, exactly."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from reconciler.billing.invoice import Billed, BillingInput, day_ranges, merge
from reconciler.errors import ReconcilerError
from reconciler.platforms.saperx_v2.billing import bill_calls, period
from reconciler.render.invoice import render_csv, render_json, render_markdown
from reconciler.state.calls import CallRecord

NOVEMBER = date(2026, 11, 1)
PLANS = [{"id": 101, "name": "Fixo Local 100",
          "allowance_minutes": {"LC": 100, "LDN": 0, "LDI": 0, "VC1": 0, "VC2": 0, "VC3": 0},
          "price_per_minute": {"LC": "0.10", "LDN": "0.25", "LDI": "1.90", "VC1": "0.45",
                               "VC2": "0.60", "VC3": "0.60"}}]
INTERNATIONAL = [{"id": 901, "name": "Américas", "allowance_minutes": {"LDI": 30},
                  "price_per_minute": {"LDI": "0.885"}}]  # 0.885: half up 0.89, half even 0.88


def line(code: str, service: int, **attrs: Any) -> tuple[str, str, dict[str, Any]]:
    return ("extension", code, {"service": service, "plan": "Fixo Local 100", "active": True,
                                "billing": "postpaid", "closing_day": 1, "name": f"Client {service}",
                                "document": f"{service:011d}", **attrs})


LINES = [
    line("483920", 7001),
    line("100000", 7002, closing_day=10, international_plan="Américas"),
    line("200000", 7003, billing="prepaid"),
    line("300000", 7004, active=False),
    line("400000", 7005),
    ("voip_range", "12", {"first": "30001000"}),  # not a line: ignored
]


def call(code: str, when: str, call_type: str, seconds: int, cost: str = "0.00") -> CallRecord:
    started = datetime.fromisoformat(when)
    return CallRecord(f"cdr-{code}-{when}-{call_type}", code, started, call_type, seconds,
                      Decimal(cost), "5548999990000")


RECORDS = [
    # 100000, closing day 10: Nov 10 .. Dec 9. LDI 30 + 1 min over 30 allowed -> 1 x 0.885 = 0.89;
    # LDN 2 min x 0.25 = 0.50 on its last day; the call of Nov 9 belongs to October's period.
    call("100000", "2026-11-09T20:00:00", "LC", 600),
    call("100000", "2026-11-10T08:00:00", "LDI", 1800),
    call("100000", "2026-11-20T08:00:00", "LDI", 31),
    call("100000", "2026-12-09T23:00:00", "LDN", 120),
    # 200000 prepaid: 101 min of LC, 1 over -> 0.10, never invoiced
    call("200000", "2026-11-03T10:00:00", "LC", 6060),
    # 300000 inactive: 3 min of VC1 -> 1.35
    call("300000", "2026-11-04T10:00:00", "VC1", 150),
    # 400000 within its plan
    call("400000", "2026-11-05T10:00:00", "LC", 59),
    # 483920: LC 50 + 51 + 1 = 102 min, 2 over -> 0.20; LDN 61 s = 2 min -> 0.50; VC1 0 s -> 0
    call("483920", "2026-11-01T00:00:00", "LC", 3000),
    call("483920", "2026-11-15T12:00:00", "LC", 3001),
    call("483920", "2026-11-15T13:00:00", "VC1", 0),
    call("483920", "2026-11-30T23:59:59", "LC", 60),
    call("483920", "2026-11-30T23:59:59", "LDN", 61),
    call("483920", "2026-12-01T00:00:00", "LC", 6000),  # December: not this month
    # 999999 is no line of ours: November's calls are listed apart with their cost
    call("999999", "2026-10-31T10:00:00", "LC", 60, "0.10"),
    call("999999", "2026-11-02T10:00:00", "LC", 180, "0.30"),
    call("999999", "2026-11-02T11:00:00", "LDN", 60, "0.25"),
]


def bill(options: dict[str, Any] | None = None, records: list[CallRecord] = RECORDS,
         catalogs: dict[str, list[dict[str, Any]]] | None = None) -> Billed:
    found = catalogs if catalogs is not None else {"plans": PLANS,
                                                   "international_plans": INTERNATIONAL}
    biller = bill_calls(BillingInput("voip", NOVEMBER, LINES, found.get, options or {}))
    assert biller.span == (date(2026, 11, 1), date(2026, 12, 9))
    return biller.bill(records)


def test_minutes_beyond_the_allowance_are_priced_per_call_type_and_rounded_half_up() -> None:
    billed = bill()
    by_line = {ln.line: ln for ln in billed.lines}
    assert sorted(by_line) == ["100000", "300000", "483920"]  # inactive still billed: option off
    first = by_line["483920"]
    assert [(i.label, i.calls, i.minutes, i.allowance, i.billable, i.amount) for i in first.items] \
        == [("LC", 3, 102, 100, 2, Decimal("0.20")), ("LDN", 1, 2, 0, 2, Decimal("0.50")),
            ("VC1", 1, 0, 0, 0, Decimal("0.00"))]
    assert first.amount == Decimal("0.70") and first.description == "Adicional de Telefonia"
    assert (first.service_id, first.document, first.client) == (7001, "00000007001", "Client 7001")
    second = by_line["100000"]
    assert (second.period_from, second.period_to) == (date(2026, 11, 10), date(2026, 12, 9))
    assert [(i.label, i.minutes, i.allowance, i.billable, i.unit_price, i.amount)
            for i in second.items] == [
        ("LDN", 2, 0, 2, Decimal("0.25"), Decimal("0.50")),
        ("LDI", 31, 30, 1, Decimal("0.885"), Decimal("0.89"))]
    assert second.amount == Decimal("1.39")
    assert by_line["300000"].amount == Decimal("1.35")
    assert billed.within_allowance == 1  # 400000
    assert [(u.line, u.reason.split(":")[0], u.calls, u.amount) for u in billed.unbilled] == [
        ("200000", "prepaid line", 1, Decimal("0.10")),
        ("999999", "no managed line has this account code", 2, Decimal("0.55"))]


def test_charge_active_extensions_only_lists_inactive_lines_apart() -> None:
    billed = bill({"charge_active_extensions_only": True})
    assert sorted(ln.line for ln in billed.lines) == ["100000", "483920"]
    inactive = [u for u in billed.unbilled if u.line == "300000"]
    assert len(inactive) == 1 and inactive[0].amount == Decimal("1.35")
    assert "charge_active_extensions_only" in inactive[0].reason and inactive[0].service_id == 7004


@pytest.mark.parametrize(("month", "closing", "expected"), [
    (date(2026, 11, 1), 1, (date(2026, 11, 1), date(2026, 11, 30))),
    (date(2026, 12, 1), 1, (date(2026, 12, 1), date(2026, 12, 31))),
    (date(2026, 12, 1), 10, (date(2026, 12, 10), date(2027, 1, 9))),
    (date(2027, 1, 1), 28, (date(2027, 1, 28), date(2027, 2, 27))),
    (date(2028, 2, 1), 28, (date(2028, 2, 28), date(2028, 3, 27))),
])
def test_a_closing_day_shifts_the_period(month: date, closing: int,
                                         expected: tuple[date, date]) -> None:
    assert period(month, closing) == expected


def test_a_plan_the_catalog_lacks_is_an_error_never_a_free_call() -> None:
    with pytest.raises(ReconcilerError, match=re.escape(
            "'Fixo Local 100', which the synced catalog does not list (none); run reconcile sync")):
        bill(catalogs={"plans": [], "international_plans": INTERNATIONAL})
    with pytest.raises(ReconcilerError, match="international plans catalog was never synced"):
        bill(catalogs={"plans": PLANS})


def test_no_records_no_lines() -> None:
    assert bill(records=[]) == Billed((), (), 0)


# -- the formats ---------------------------------------------------------------------------


def invoice() -> Any:
    return merge("voip", "2026-11", {"voip": bill({"charge_active_extensions_only": True})},
                 {"voip": (date(2026, 12, 3), date(2026, 12, 4), date(2026, 12, 9))})


def test_csv_has_one_row_per_invoice_line_with_exact_amounts() -> None:
    rows = list(csv.DictReader(io.StringIO(render_csv(invoice()))))
    assert [(r["service_id"], r["line"], r["period_from"], r["period_to"], r["calls"],
             r["minutes"], r["billable_minutes"], r["amount"]) for r in rows] == [
        ("7001", "483920", "2026-11-01", "2026-11-30", "5", "104", "4", "0.70"),
        ("7002", "100000", "2026-11-10", "2026-12-09", "3", "33", "3", "1.39")]
    assert {r["description"] for r in rows} == {"Adicional de Telefonia"}
    assert {r["month"] for r in rows} == {"2026-11"}


def test_json_carries_items_unbilled_totals_and_what_is_missing() -> None:
    document = json.loads(render_json(invoice()))
    assert document["format_version"] == 1 and document["kind"] == "voip"
    assert document["total"] == "2.09" and document["complete"] is False
    assert document["missing_days"] == {"voip": ["2026-12-03", "2026-12-04", "2026-12-09"]}
    assert [ln["amount"] for ln in document["lines"]] == ["0.70", "1.39"]
    ldi = document["lines"][1]["items"][1]
    assert ldi == {"label": "LDI", "calls": 2, "minutes": 31, "allowance_minutes": 30,
                   "billable_minutes": 1, "price_per_minute": "0.885", "amount": "0.89"}
    assert [(u["line"], u["amount"]) for u in document["unbilled"]] == [
        ("200000", "0.10"), ("300000", "1.35"), ("999999", "0.55")]


def test_markdown_states_the_total_the_gaps_and_escapes_names() -> None:
    text = render_markdown(invoice())
    assert "**2 invoice lines, R$ 2.09**" in text
    assert "no call records imported for 2026-12-03..2026-12-04, 2026-12-09" in text
    assert "| 7002 | Client 7002 | 00000007002 | 100000 | Fixo Local 100 | 2026-11-10 to " \
           "2026-12-09 | 3 | 3 | 1.39 |" in text
    assert "### Left unbilled" in text and "| voip | 999999 |  |" in text


def test_day_ranges_compacts_runs() -> None:
    days = [date(2026, 11, d) for d in (5, 1, 2, 3, 30)]
    assert day_ranges(days) == "2026-11-01..2026-11-03, 2026-11-05, 2026-11-30"
