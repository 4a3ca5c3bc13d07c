"""SaperX STFC monthly charges as invoice lines: whose each charge is (the specs, then the state),
what is left apart and why, centavos rounded half up from the platform's exact decimals (never
a float), lines in service order made a batch at a time; the fetch kept in the state (a second
run asks nothing, a refresh of a closed month says what changed, a dead fetch is never read);
the provider's paging and its refusal of floats; the golden CSV, JSON and Markdown."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.billing import charges as billing_charges
from reconciler.billing.charges import Charge, ChargeInput, bill
from reconciler.billing.invoice import Call, Changed, Invoice, sort_unbilled
from reconciler.charge_fetch import Fetched, month_charges
from reconciler.errors import ProviderError
from reconciler.model import Integration
from reconciler.platforms.saperx_stfc.billing import bill_charges
from reconciler.platforms.saperx_stfc.provider import SaperxStfcProvider, charge_row
from reconciler.platforms.saperx_stfc.sim import create_app
from reconciler.render.invoice import render_csv, render_json, render_markdown
from reconciler.sim.clock import FakeClock
from reconciler.state import StateStore
from reconciler.state import charges as stored
from tests.golden.golden import assert_golden

NOVEMBER = date(2026, 11, 1)
Page = tuple[bool, list[dict[str, Any]]]
PLANS = [{"id": 101, "nome": "STFC Básico 100"}, {"id": 103, "nome": "STFC Ilimitado"}]


def link(number: str, service: int, plan: str = "STFC Básico 100",
         name: str = "") -> tuple[str, str, dict[str, Any]]:
    return ("link", number, {"service": service, "plan": plan, "document": f"{service:011d}",
                             "name": name or f"Client {service}", "params": {}})


DECLARED = [link("1130001001", 1001), link("1130001002", 1002, "STFC Ilimitado"),
            link("1130001003", 1001), ("number", "1130001001", {"range": "sp"})]
# the state still holds a link the specs dropped (a cancelled service, not applied yet), and an
# older one of a number the specs now give to another service
MANAGED = [link("1130001009", 1009, name="Carlos | Souza"), link("1130001002", 1777)]


def charge(number: str, service: int | None, total: str, franchise: str = "29.90",
           minutes: int = 80, allowance: int = 100, calls: int = 0,
           detail: Sequence[Call] = ()) -> Charge:
    return Charge(number, service, 101, allowance, minutes, calls, Decimal(total),
                  Decimal(franchise), Decimal(total) - Decimal(franchise), tuple(detail))


CALL = Call(datetime(2026, 11, 3, 14, 22, 10), "1130001001", "5521987650000", "VC2", 125,
            Decimal("2.07"))
CHARGES = [
    # 41.345 is 41.3449999... as a float: round() would say 41.34; half up on the exact decimal
    # is 41.35, and the franquia 29.895 is 29.90, so the excedente item is the rest, 11.45
    charge("1130001001", 1001, "41.345", "29.895", minutes=131, calls=1, detail=[CALL]),
    charge("1130001002", 1002, "79.90", "79.90"),
    charge("1130001003", 1001, "29.90"),
    charge("1130001004", 1004, "29.90", calls=4),  # held by nobody
    charge("1130001005", None, "12.00", "12.00", calls=0),  # nobody, and no service either
    charge("1130001009", 1009, "30.005", minutes=101),  # the state's link
]


def given(declared: Sequence[Any] = DECLARED, managed: Sequence[Any] = MANAGED) -> ChargeInput:
    return ChargeInput("stfc-sp", NOVEMBER, declared, managed,
                       {"plans": PLANS}.get, {})


def billed(charges: Sequence[Charge] = CHARGES,
           loads: list[Sequence[str]] | None = None) -> billing_charges.Month:
    by_number = {c.number: c for c in charges}

    def load(numbers: Sequence[str]) -> Mapping[str, Charge]:
        if loads is not None:
            loads.append(list(numbers))
        return {n: by_number[n] for n in numbers}

    return bill("stfc-sp", bill_charges(given()), [
        Charge(c.number, c.service_id, c.plan_id, c.allowance_minutes, c.minutes, c.calls,
               c.total, c.franchise, c.overage) for c in charges], load)


def test_float_rounding_would_lose_a_centavo_the_decimal_keeps() -> None:
    assert round(float("41.345"), 2) == 41.34  # why amounts are never floats


def test_lines_in_service_order_rounded_half_up_with_items_that_add_up() -> None:
    month = billed()
    lines = list(month.lines)
    assert [(ln.service_id, ln.line) for ln in lines] == [
        (1001, "1130001001"), (1001, "1130001003"), (1002, "1130001002"), (1009, "1130001009")]
    first = lines[0]
    assert first.amount == Decimal("41.35") and isinstance(first.amount, Decimal)
    assert [(i.label, i.calls, i.minutes, i.allowance, i.billable, i.unit_price, i.amount)
            for i in first.items] == [
        ("franquia", 1, 100, 100, 0, None, Decimal("29.90")),
        ("excedente", 0, 31, 0, 31, None, Decimal("11.45"))]
    assert (first.calls, first.minutes, first.billable) == (1, 131, 31)
    assert first.detail == (CALL,)  # the charge's calls ride along as loaded
    assert (first.document, first.client, first.plan, first.description) == (
        "00000001001", "Client 1001", "STFC Básico 100", "Telefonia Fixa (STFC)")
    assert (first.period_from, first.period_to) == (date(2026, 11, 1), date(2026, 11, 30))
    assert lines[2].plan == "STFC Ilimitado"  # the specs win over the state's older link
    assert lines[3].amount == Decimal("30.01")  # half up: 30.005 -> 30.01 (half even: 30.00)
    assert month.count == 4 and month.total == Decimal("181.16")
    assert month.total == sum((ln.amount for ln in lines), Decimal("0"))
    assert month.within_allowance == 2  # 1130001002 and 1130001003 stayed within 100 minutes


def test_a_number_nobody_holds_or_charged_to_another_service_is_listed_apart() -> None:
    other = charge("1130001002", 1777, "79.90", "79.90")  # the platform says 1777, specs 1002
    month = billed([*CHARGES[:1], other, *CHARGES[2:]])
    assert [(u.line, u.service_id, u.amount, u.calls) for u in sort_unbilled(month.unbilled)] == [
        ("1130001004", 1004, Decimal("29.90"), 4), ("1130001002", 1777, Decimal("79.90"), 0),
        ("1130001005", None, Decimal("12.00"), 0)]
    reasons = {u.line: u.reason for u in month.unbilled}
    assert reasons["1130001002"] == ("the platform charged it to service 1777, but it is held "
                                     "by service 1002")
    assert reasons["1130001004"] == ("no client service holds this number in the specs or the "
                                     "state (the platform charged it to service 1004)")
    assert reasons["1130001005"] == "no client service holds this number in the specs or the state"
    assert "1130001002" not in {ln.line for ln in month.lines}
    assert month.count == 3  # the unbilled are never in the total
    assert month.total == Decimal("101.26")


def test_lines_are_made_lazily_a_batch_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(billing_charges, "BATCH", 2)
    loads: list[Sequence[str]] = []
    month = billed(loads=loads)
    assert loads == []  # nothing loaded before the document asks for its first line
    lines = iter(month.lines)
    next(lines)
    assert loads == [["1130001001", "1130001003"]]
    rest = list(lines)
    assert len(rest) == 3 and loads[1:] == [["1130001002", "1130001009"]]


def test_batches_are_bounded_by_calls_as_well_as_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Memory must not grow with the calls: a batch stops before CALLS_BATCH calls, holds at
    least one number (however many calls it has), and keeps the order."""
    monkeypatch.setattr(billing_charges, "BATCH", 3)
    monkeypatch.setattr(billing_charges, "CALLS_BATCH", 10)
    calls = [4, 4, 4, 25, 1, 1, 1, 1, 9]
    keys = [(n, f"n{n}", None, c) for n, c in enumerate(calls)]
    cut = [[k[3] for k in batch] for batch in billing_charges.batches(keys)]  # type: ignore[arg-type]
    assert cut == [[4, 4], [4], [25], [1, 1, 1], [1, 9]]
    assert [k for batch in billing_charges.batches(keys) for k in batch] == keys  # type: ignore[arg-type]
    assert list(billing_charges.batches([])) == []


def test_a_plan_missing_from_the_holder_is_read_from_the_catalog() -> None:
    holder = bill_charges(given([("link", "1130001001", {"service": 1001, "document": "1",
                                                           "name": "A"})], []))
    found = holder.holder(charge("1130001001", 1001, "1.00"))
    assert not isinstance(found, str) and found.plan == "STFC Básico 100"


# -- the state --------------------------------------------------------------------------------


def row(number: str, total: str, service: int = 1001, calls: int = 0) -> dict[str, Any]:
    return {"number": number, "service_id": service, "plan_id": 101, "allowance_minutes": 100,
            "minutes": 10, "calls": calls, "total": total, "franchise": "29.90",
            "overage": str(Decimal(total) - Decimal("29.90")),
            "detail": [{"started_at": datetime(2026, 11, 2, 10, n), "origin": number,
                        "destination": "551140000000", "call_type": "LC",
                        "duration_seconds": 60 + n, "amount": "0.12"} for n in range(calls)]}


class Source:
    """A platform that answers pages of charges and counts how often it is asked."""

    def __init__(self, pages: list[list[dict[str, Any]]], closed: bool = True) -> None:
        self.pages, self.closed, self.asked, self.detailed = pages, closed, 0, None

    async def charges(self, month: date, detailed: bool) -> AsyncIterator[Page]:
        self.asked += 1
        self.detailed = detailed
        for page in self.pages:
            yield self.closed, page


def fetch(store: StateStore, source: Source, *, detailed: bool = False,
          refresh: bool = False) -> Fetched:
    async def opened() -> Source:
        return source

    return asyncio.run(month_charges(store, "stfc-sp", NOVEMBER, detailed, refresh, opened))  # type: ignore[arg-type]


def test_a_closed_month_is_fetched_once_and_a_refresh_says_what_changed(tmp_path: Path) -> None:
    store = StateStore(f"sqlite:///{tmp_path}/state.db")
    first = Source([[row("1130001001", "41.35"), row("1130001002", "29.90")],
                    [row("1130001003", "30.00")]])
    done = fetch(store, first)
    assert (done.called, done.why, done.fetch.numbers, done.fetch.total, done.changes) == (
        True, "not fetched yet", 3, Decimal("101.25"), ())
    again = fetch(store, first)
    assert (again.called, again.fetch.id, first.asked) == (False, done.fetch.id, 1)

    corrected = Source([[row("1130001001", "31.35"), row("1130001003", "30.00"),
                         row("1130001004", "29.90", service=1004)]])
    refreshed = fetch(store, corrected, refresh=True)
    assert refreshed.called and refreshed.why == "--refresh"
    assert refreshed.changes == (
        Changed("stfc-sp", "1130001001", 1001, Decimal("41.35"), Decimal("31.35")),
        Changed("stfc-sp", "1130001002", 1001, Decimal("29.90"), None),
        Changed("stfc-sp", "1130001004", 1004, None, Decimal("29.90")))
    # the replaced fetch is gone with its rows
    assert {c.number for c in stored.summaries(store, refreshed.fetch.id)} == {
        "1130001001", "1130001003", "1130001004"}
    assert list(stored.summaries(store, done.fetch.id)) == []


def test_an_open_month_is_asked_again_and_call_detail_is_fetched_when_wanted(
        tmp_path: Path) -> None:
    store = StateStore(f"sqlite:///{tmp_path}/state.db")
    open_month = Source([[row("1130001001", "29.90")]], closed=False)
    assert fetch(store, open_month).fetch.closed is False
    later = fetch(store, open_month)
    assert later.called and later.why == "the month was not over when last fetched"
    assert later.changes == ()  # an open month grows: that is no change to report
    closed = Source([[row("1130001001", "30.14", calls=2)]])
    fetch(store, closed)  # still open when last fetched: asked again, now closed
    detailed = fetch(store, closed, detailed=True)
    assert detailed.why == "call detail asked for, and the last fetch has none"
    assert closed.detailed is True
    loaded = stored.load(store, detailed.fetch.id, ["1130001001"], True)["1130001001"]
    assert [(c.duration_seconds, c.amount) for c in loaded.detail] == [
        (60, Decimal("0.12")), (61, Decimal("0.12"))]
    assert stored.load(store, detailed.fetch.id, ["1130001001"], False)["1130001001"].detail == ()
    assert fetch(store, closed, detailed=True).called is False  # detail held: no call
    assert fetch(store, closed).called is False  # a detailed fetch serves a plain bill too


def test_a_fetch_killed_half_way_is_never_read_and_the_next_one_drops_it(tmp_path: Path) -> None:
    store = StateStore(f"sqlite:///{tmp_path}/state.db")

    class Dies(Source):
        async def charges(self, month: date, detailed: bool) -> AsyncIterator[Page]:
            yield True, [row("1130001001", "99.99")]
            raise ProviderError("connection lost", integration="stfc-sp")

    with pytest.raises(ProviderError):
        fetch(store, Dies([]))
    assert stored.current(store, "stfc-sp", "2026-11") is None  # unfinished: not the month's
    done = fetch(store, Source([[row("1130001001", "29.90")]]))
    assert done.why == "not fetched yet" and done.fetch.total == Decimal("29.90")
    with store.session() as s:
        from reconciler.state.tables import ChargeFetchRow, ChargeRow
        assert s.query(ChargeFetchRow).count() == 1 and s.query(ChargeRow).count() == 1


# -- the provider ------------------------------------------------------------------------------


def test_the_provider_reads_every_page_and_the_calls_with_detail() -> None:
    clock = FakeClock(datetime(2026, 12, 10, tzinfo=UTC).timestamp())
    app = create_app("T", clock=clock, seed=3)
    store = app.state.store
    store.register([f"11300010{n:02d}" for n in range(5)], 55)
    from reconciler.platforms.saperx_stfc.sim_store import Link
    for n in range(5):
        store.link(f"11300010{n:02d}", Link(1000 + n, 101, "1", "A"), False)
    store.backdate(None, datetime(2026, 10, 20, tzinfo=UTC).timestamp())
    integration = Integration("stfc-sp", "saperx-stfc", "http://sim", {"token": "T"},
                              {"page_size": 2})
    provider = SaperxStfcProvider(integration, {"token": "T"},
                                  transport=httpx.ASGITransport(app=app))

    async def read(detailed: bool) -> list[tuple[bool, list[dict[str, Any]]]]:
        try:
            return [page async for page in provider.charges(NOVEMBER, detailed)]
        finally:
            await provider.aclose()

    pages = asyncio.run(read(False))
    assert [len(p) for _, p in pages] == [2, 2, 1] and all(closed for closed, _ in pages)
    rows = [r for _, p in pages for r in p]
    assert [r["number"] for r in rows] == [f"11300010{n:02d}" for n in range(5)]
    assert all(r["detail"] is None and r["service_id"] == 1000 + i for i, r in enumerate(rows))
    assert all(Decimal(r["total"]) == Decimal(r["franchise"]) + Decimal(r["overage"])
               for r in rows)
    assert store.requests["GET /api/faturamento"] == 3
    provider = SaperxStfcProvider(integration, {"token": "T"},
                                  transport=httpx.ASGITransport(app=app))
    detailed = [r for _, p in asyncio.run(read(True)) for r in p]
    assert [r["total"] for r in detailed] == [r["total"] for r in rows]
    for r in detailed:  # the calls' values make up the excedente (nothing corrected)
        assert sum((Decimal(c["amount"]) for c in r["detail"]), Decimal("0")) == Decimal(r["overage"])
        assert len(r["detail"]) == r["calls"]
        assert all(isinstance(c["started_at"], datetime) and c["started_at"].tzinfo is None
                   for c in r["detail"])


@pytest.mark.parametrize("bad", [{"valor_total": 41.35}, {"valor_total": "abc"},
                                 {"valor_total": "NaN"}, {"minutos": -1}, {"numero": "11a"}])
def test_a_charge_that_is_not_exact_is_refused(bad: dict[str, Any]) -> None:
    item = {"numero": "1130001001", "id_externo": 1, "id_plano": 101, "franquia_minutos": 100,
            "minutos": 1, "quantidade_chamadas": 0, "valor_total": "29.90", "franquia": "29.90",
            "excedente": "0.00"}
    assert charge_row(item, False)["total"] == "29.90"
    with pytest.raises(ValueError):
        charge_row({**item, **bad}, False)


# -- the formats -------------------------------------------------------------------------------


def invoice(*, detailed: bool, changes: tuple[Changed, ...] = ()) -> Invoice:
    month = billed()
    return Invoice("stfc", "2026-11", tuple(month.lines), sort_unbilled(month.unbilled),
                   month.within_allowance, month.count, month.total, {}, "Telefonia",
                   detailed, changes)


CHANGES = (Changed("stfc-sp", "1130001001", 1001, Decimal("51.35"), Decimal("41.35")),)


def test_golden_csv() -> None:
    text = render_csv(invoice(detailed=False))
    assert_golden("stfc_billing.csv", text)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["amount"] for r in rows] == ["41.35", "29.90", "79.90", "30.01"]
    assert {r["type"] for r in rows} == {"Telefonia"}


def test_golden_csv_with_call_detail_puts_each_call_under_its_line() -> None:
    text = render_csv(invoice(detailed=True))
    assert_golden("stfc_billing_detail.csv", text)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 5 and rows[1]["call_destination"] == "5521987650000"
    assert rows[1]["amount"] == "" and rows[1]["line"] == "1130001001"  # never summed twice
    assert sum(Decimal(r["amount"]) for r in rows if r["amount"]) == Decimal("181.16")


def test_golden_json_is_what_json_dumps_would_write() -> None:
    text = render_json(invoice(detailed=True, changes=CHANGES))
    assert_golden("stfc_billing.json", text)
    document = json.loads(text)
    assert text == json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    assert (document["kind"], document["total"], document["count"]) == ("stfc", "181.16", 4)
    assert document["lines"][0]["call_detail"][0]["amount"] == "2.07"
    assert document["changes"] == [{"integration": "stfc-sp", "line": "1130001001",
                                    "service_id": 1001, "before": "51.35", "after": "41.35"}]
    empty = Invoice("stfc", "2026-11", iter(()), (), 0, 0, Decimal("0.00"))
    text = render_json(empty)
    assert text == json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n"
    assert json.loads(text)["lines"] == []


def test_golden_markdown_plain_and_detailed() -> None:
    plain = render_markdown(invoice(detailed=False, changes=CHANGES))
    assert_golden("stfc_billing.md", plain)
    assert "| 1009 | Carlos \\| Souza |" in plain  # a pipe in a name never breaks the table
    detailed = render_markdown(invoice(detailed=True))
    assert_golden("stfc_billing_detail.md", detailed)
    assert "| 2026-11-03 14:22:10 | 1130001001 | 5521987650000 | VC2 | 125 | 2.07 |" in detailed
