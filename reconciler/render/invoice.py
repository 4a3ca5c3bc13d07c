"""An :class:`~reconciler.billing.invoice.Invoice` as CSV (for the ERP's import), JSON (for
machines; docs/json.md) or Markdown (for a person, a PR or a ticket). Pure: text in, text out.

Amounts are written as exact decimals with two places and a point (``"12.30"``), never floats;
CSV has one row per invoice line and the JSON has each line's items too.
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from typing import Any

from reconciler.billing.invoice import Invoice, InvoiceLine, Unbilled, day_ranges
from reconciler.render.markdown import escape

FORMAT_VERSION = 1
CSV_COLUMNS = ("month", "integration", "service_id", "document", "client", "line", "plan",
               "description", "period_from", "period_to", "calls", "minutes", "billable_minutes",
               "amount")


def money(value: Decimal) -> str:
    return f"{value:.2f}"


def render_csv(invoice: Invoice) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for line in invoice.lines:
        writer.writerow([invoice.month, line.integration, line.service_id or "", line.document,
                         line.client, line.line, line.plan, line.description,
                         line.period_from.isoformat(), line.period_to.isoformat(), line.calls,
                         line.minutes, line.billable, money(line.amount)])
    return buffer.getvalue()


def render_json(invoice: Invoice) -> str:
    document = {
        "format_version": FORMAT_VERSION,
        "kind": invoice.kind,
        "month": invoice.month,
        "complete": invoice.complete,
        "missing_days": {name: [d.isoformat() for d in days]
                         for name, days in sorted(invoice.missing.items())},
        "total": money(invoice.total),
        "lines": [_line_json(line) for line in invoice.lines],
        "unbilled": [_unbilled_json(u) for u in invoice.unbilled],
        "within_allowance": invoice.within_allowance,
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _line_json(line: InvoiceLine) -> dict[str, Any]:
    return {
        "integration": line.integration, "service_id": line.service_id,
        "document": line.document, "client": line.client, "line": line.line, "plan": line.plan,
        "description": line.description, "period_from": line.period_from.isoformat(),
        "period_to": line.period_to.isoformat(), "calls": line.calls, "minutes": line.minutes,
        "billable_minutes": line.billable, "amount": money(line.amount),
        "items": [{"label": i.label, "calls": i.calls, "minutes": i.minutes,
                   "allowance_minutes": i.allowance, "billable_minutes": i.billable,
                   "price_per_minute": f"{i.unit_price}", "amount": money(i.amount)}
                  for i in line.items],
    }


def _unbilled_json(item: Unbilled) -> dict[str, Any]:
    return {"integration": item.integration, "line": item.line, "service_id": item.service_id,
            "reason": item.reason, "calls": item.calls, "amount": money(item.amount)}


_TITLES = {"voip": "VoIP calls beyond the plans"}


def render_markdown(invoice: Invoice) -> str:
    title = _TITLES.get(invoice.kind, invoice.kind)
    out = [f"## {escape(title)}: {invoice.month}", "",
           f"**{len(invoice.lines)} invoice lines, R$ {money(invoice.total)}**; "
           f"{invoice.within_allowance} lines called within their plan; "
           f"{len(invoice.unbilled)} left unbilled.", ""]
    for name, days in sorted(invoice.missing.items()):
        out += [f"> **Incomplete:** {escape(name)} has no call records imported for "
                f"{day_ranges(days)}.", ""]
    if invoice.lines:
        out += ["| service | client | document | line | plan | period | calls | billable min "
                "| amount (R$) |", "| ---: | --- | --- | --- | --- | --- | ---: | ---: | ---: |"]
        out += [f"| {line.service_id or ''} | {escape(line.client)} | {escape(line.document)} | "
                f"{escape(line.line)} | {escape(line.plan)} | {line.period_from.isoformat()} to "
                f"{line.period_to.isoformat()} | {line.calls} | {line.billable} | "
                f"{money(line.amount)} |" for line in invoice.lines]
        out.append("")
    if invoice.unbilled:
        out += ["### Left unbilled", "", "| integration | line | service | reason | calls | "
                "amount (R$) |", "| --- | --- | ---: | --- | ---: | ---: |"]
        out += [f"| {escape(u.integration)} | {escape(u.line)} | {u.service_id or ''} | "
                f"{escape(u.reason)} | {u.calls} | {money(u.amount)} |" for u in invoice.unbilled]
        out.append("")
    return "\n".join(out)


RENDERERS = {"csv": render_csv, "json": render_json, "markdown": render_markdown}
