"""An :class:`~reconciler.billing.invoice.Invoice` as CSV (for the ERP's import), JSON (for
machines; docs/json.md) or Markdown (for a person, a PR or a ticket).

Each format is written to a text stream as its lines come (``WRITERS``): an invoice of 100,000
lines with their calls is never held as one text. ``render_*`` give the same document as one
string. Amounts are written as exact decimals with two places and a point (``"12.30"``), never
floats. CSV has one row per invoice line (with call detail, each line's calls follow it, one
row each); the JSON has each line's items, and its calls with call detail.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any, Protocol

from reconciler.billing.invoice import Call, Changed, Invoice, InvoiceLine, Unbilled, day_ranges
from reconciler.render.markdown import escape

FORMAT_VERSION = 1
CSV_COLUMNS = ("month", "integration", "service_id", "document", "client", "line", "plan",
               "description", "type", "period_from", "period_to", "calls", "minutes",
               "billable_minutes", "amount")
CALL_COLUMNS = ("call_started_at", "call_origin", "call_destination", "call_type",
                "call_duration_seconds", "call_amount")


class Sink(Protocol):
    """Where a document is written: a text file, stdout, a buffer."""

    def write(self, text: str, /) -> object: ...


def money(value: Decimal) -> str:
    return f"{value:.2f}"


# -- CSV ---------------------------------------------------------------------------------------


def write_csv(invoice: Invoice, out: Sink) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS + (CALL_COLUMNS if invoice.detailed else ()))
    blank = ("",) * len(CALL_COLUMNS) if invoice.detailed else ()
    for line in invoice.lines:
        who = [invoice.month, line.integration, line.service_id or "", line.document,
               line.client, line.line, line.plan, line.description, invoice.type,
               line.period_from.isoformat(), line.period_to.isoformat()]
        writer.writerow([*who, line.calls, line.minutes, line.billable, money(line.amount),
                         *blank])
        if invoice.detailed:
            writer.writerows([*who, "", "", "", "", *_call_cells(call)] for call in line.detail)


def _call_cells(call: Call) -> list[Any]:
    return [f"{call.started_at.isoformat()}Z", call.origin, call.destination, call.call_type,
            call.duration_seconds, money(call.amount)]


# -- JSON --------------------------------------------------------------------------------------


def write_json(invoice: Invoice, out: Sink) -> None:
    """The document ``json.dumps(..., indent=2)`` would write, its lines (last) one at a time."""
    head = {
        "format_version": FORMAT_VERSION,
        "kind": invoice.kind,
        "month": invoice.month,
        "type": invoice.type,
        "complete": invoice.complete,
        "missing_days": {name: [d.isoformat() for d in days]
                         for name, days in sorted(invoice.missing.items())},
        "detailed": invoice.detailed,
        "count": invoice.count,
        "total": money(invoice.total),
        "unbilled": [_unbilled_json(u) for u in invoice.unbilled],
        "within_allowance": invoice.within_allowance,
        "changes": [_changed_json(c) for c in invoice.changes],
    }
    text = json.dumps(head, indent=2, ensure_ascii=False)
    out.write(text[:-2] + ',\n  "lines": [')  # the head without its closing "\n}"
    first = True
    for line in invoice.lines:
        item = json.dumps(_line_json(line, invoice.detailed), indent=2, ensure_ascii=False)
        out.write(("\n    " if first else ",\n    ") + item.replace("\n", "\n    "))
        first = False
    out.write("]\n}\n" if first else "\n  ]\n}\n")


def _line_json(line: InvoiceLine, detailed: bool) -> dict[str, Any]:
    out = {
        "integration": line.integration, "service_id": line.service_id,
        "document": line.document, "client": line.client, "line": line.line, "plan": line.plan,
        "description": line.description, "period_from": line.period_from.isoformat(),
        "period_to": line.period_to.isoformat(), "calls": line.calls, "minutes": line.minutes,
        "billable_minutes": line.billable, "amount": money(line.amount),
        "items": [{"label": i.label, "calls": i.calls, "minutes": i.minutes,
                   "allowance_minutes": i.allowance, "billable_minutes": i.billable,
                   "price_per_minute": None if i.unit_price is None else f"{i.unit_price}",
                   "amount": money(i.amount)}
                  for i in line.items],
    }
    if detailed:
        out["call_detail"] = [
            {"started_at": f"{c.started_at.isoformat()}Z", "origin": c.origin,
             "destination": c.destination, "type": c.call_type,
             "duration_seconds": c.duration_seconds, "amount": money(c.amount)}
            for c in line.detail]
    return out


def _unbilled_json(item: Unbilled) -> dict[str, Any]:
    return {"integration": item.integration, "line": item.line, "service_id": item.service_id,
            "reason": item.reason, "calls": item.calls, "amount": money(item.amount)}


def _changed_json(item: Changed) -> dict[str, Any]:
    return {"integration": item.integration, "line": item.line, "service_id": item.service_id,
            "before": None if item.before is None else money(item.before),
            "after": None if item.after is None else money(item.after)}


# -- Markdown ----------------------------------------------------------------------------------


_TITLES = {"voip": "VoIP calls beyond the plans", "stfc": "Fixed telephony (STFC) charges"}
_WITHIN = {"voip": "called within their plan", "stfc": "within their plan's minutes"}
_INCOMPLETE = {
    "voip": "has no call records imported for {days}.",
    "stfc": "was read before the month was over ({days} to come): its charges may still grow.",
}


def write_markdown(invoice: Invoice, out: Sink) -> None:
    title = _TITLES.get(invoice.kind, invoice.kind)
    posted = f" (posted as {escape(invoice.type)})" if invoice.type else ""
    out.write("\n".join([
        f"## {escape(title)}: {invoice.month}", "",
        f"**{invoice.count} invoice lines, R$ {money(invoice.total)}**{posted}; "
        f"{invoice.within_allowance} lines {_WITHIN.get(invoice.kind, _WITHIN['voip'])}; "
        f"{len(invoice.unbilled)} left unbilled.", "", ""]))
    for name, days in sorted(invoice.missing.items()):
        said = _INCOMPLETE.get(invoice.kind, _INCOMPLETE["voip"]).format(days=day_ranges(days))
        out.write(f"> **Incomplete:** {escape(name)} {said}\n\n")
    if invoice.changes:
        out.write("### Changed since the last read of this closed month\n\n"
                  "| integration | line | service | before (R$) | after (R$) |\n"
                  "| --- | --- | ---: | ---: | ---: |\n")
        for c in invoice.changes:
            out.write(f"| {escape(c.integration)} | {escape(c.line)} | {c.service_id or ''} | "
                      f"{_maybe(c.before)} | {_maybe(c.after)} |\n")
        out.write("\n")
    lines = iter(invoice.lines)
    (_detailed_blocks if invoice.detailed else _table)(lines, out.write)
    if invoice.unbilled:
        out.write("### Left unbilled\n\n| integration | line | service | reason | calls | "
                  "amount (R$) |\n| --- | --- | ---: | --- | ---: | ---: |\n")
        for u in invoice.unbilled:
            out.write(f"| {escape(u.integration)} | {escape(u.line)} | {u.service_id or ''} | "
                      f"{escape(u.reason)} | {u.calls} | {money(u.amount)} |\n")
        out.write("\n")


def _maybe(value: Decimal | None) -> str:
    return "—" if value is None else money(value)


def _row(line: InvoiceLine) -> str:
    return (f"| {line.service_id or ''} | {escape(line.client)} | {escape(line.document)} | "
            f"{escape(line.line)} | {escape(line.plan)} | {line.period_from.isoformat()} to "
            f"{line.period_to.isoformat()} | {line.calls} | {line.billable} | "
            f"{money(line.amount)} |\n")


_HEADER = ("| service | client | document | line | plan | period | calls | billable min | "
           "amount (R$) |\n| ---: | --- | --- | --- | --- | --- | ---: | ---: | ---: |\n")


def _table(lines: Iterator[InvoiceLine], write: Callable[[str], object]) -> None:
    first = next(lines, None)
    if first is None:
        return
    write(_HEADER + _row(first))
    for line in lines:
        write(_row(line))
    write("\n")


def _detailed_blocks(lines: Iterator[InvoiceLine], write: Callable[[str], object]) -> None:
    """Each line as its own table, followed by its calls (the detail printed on the invoice)."""
    for line in lines:
        write(f"### {escape(line.line)}: {escape(line.client)}, service {line.service_id or ''}"
              f"\n\n{_HEADER}{_row(line)}\n")
        if not line.detail:
            write("No calls.\n\n")
            continue
        write("| started (UTC) | origin | destination | type | seconds | amount (R$) |\n"
              "| --- | --- | --- | --- | ---: | ---: |\n")
        for call in line.detail:
            write(f"| {call.started_at.isoformat(sep=' ')} | {escape(call.origin)} | "
                  f"{escape(call.destination)} | {call.call_type} | {call.duration_seconds} | "
                  f"{money(call.amount)} |\n")
        write("\n")


# -- the formats by name -----------------------------------------------------------------------

WRITERS: dict[str, Callable[[Invoice, Sink], None]] = {
    "csv": write_csv, "json": write_json, "markdown": write_markdown}


def _rendered(writer: Callable[[Invoice, Sink], None]) -> Callable[[Invoice], str]:
    def render(invoice: Invoice) -> str:
        buffer = io.StringIO()
        writer(invoice, buffer)
        return buffer.getvalue()

    return render


render_csv, render_json, render_markdown = (
    _rendered(write_csv), _rendered(write_json), _rendered(write_markdown))
RENDERERS = {"csv": render_csv, "json": render_json, "markdown": render_markdown}
