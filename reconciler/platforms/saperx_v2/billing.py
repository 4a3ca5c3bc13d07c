"""SaperX v2's calls beyond the plan, as invoice lines: the seed's "Geração do Adicional de
Telefonia". Pure: the state's lines, the synced plan catalogs and the imported records in; lines
out.

Per SIP line (an ``extension`` of the state, as last applied) and billing period:

- **The period** of ``--month M`` starts on the line's closing day of M and ends the day before
  its closing day of the next month: closing day 1 (the default) is the calendar month M, closing
  day 10 is M-10 to (M+1)-09. Days are UTC, as the platform dates its records.
- **Minutes** are started minutes (``ceil(duration / 60)``, as the platform prices a call), summed
  per call type (LC, LDN, LDI, VC1, VC2, VC3).
- **The allowance** of a type is the plan's ``allowance_minutes`` (for LDI, plus the
  international plan's); minutes beyond it are billable, at the plan's ``price_per_minute`` of
  that type (for LDI, the international plan's when the line has one). Each type's amount is
  rounded to centavos; the line's amount is their sum, invoiced as "Adicional de Telefonia".
- **Not invoiced, listed apart**: a prepaid line's calls (paid from its credit); with
  ``charge_active_extensions_only``, an inactive extension's; and records whose account code no
  managed line has.

The plans are read as the last sync saw them (``reconcile sync``, or any plan/apply): a plan a
line names that the catalog lacks is an error, never a line priced at zero.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from itertools import groupby
from typing import Any

from reconciler.billing.invoice import (
    Billed,
    BillingInput,
    CallBiller,
    InvoiceLine,
    Item,
    Unbilled,
    cents,
)
from reconciler.errors import ReconcilerError

DESCRIPTION = "Adicional de Telefonia"
CALL_TYPES = ("LC", "LDN", "LDI", "VC1", "VC2", "VC3")
INTERNATIONAL = "LDI"


@dataclass(frozen=True)
class Line:
    """One managed SIP line, as the state holds it."""

    account_code: str
    service_id: int | None
    document: str
    client: str
    plan: str
    international_plan: str | None
    closing_day: int
    prepaid: bool
    active: bool


@dataclass(frozen=True)
class Tariff:
    """Allowance and price per minute of each call type, for one line."""

    allowance: Mapping[str, int]
    price: Mapping[str, Decimal]


def period(month: date, closing_day: int) -> tuple[date, date]:
    """The days a line with ``closing_day`` is billed for in ``month`` (its first day)."""
    start = month.replace(day=closing_day)
    following = (month.replace(day=28) + timedelta(days=4)).replace(day=closing_day)
    return start, following - timedelta(days=1)


def bill_calls(given: BillingInput) -> CallBiller:
    return _Biller(given)


class _Biller(CallBiller):
    def __init__(self, given: BillingInput) -> None:
        self.given = given
        self.lines = {line.account_code: line for line in _lines(given.resources)}
        self.periods = {code: period(given.month, line.closing_day)
                        for code, line in self.lines.items()}
        self.span = (min((p[0] for p in self.periods.values()), default=given.month),
                     max((p[1] for p in self.periods.values()),
                         default=period(given.month, 1)[1]))
        plans = _catalog(given, "plans")
        international = _catalog(given, "international_plans")
        self.tariffs = {code: _tariff(line, plans, international, given.integration)
                        for code, line in self.lines.items()}

    def bill(self, records: Iterable[Any]) -> Billed:
        """``records`` in account-code order (as :func:`reconciler.state.calls.records` reads
        them), each with ``account_code``, ``started_at``, ``call_type``, ``duration_seconds``
        and ``cost``."""
        active_only = bool(self.given.options.get("charge_active_extensions_only"))
        lines: list[InvoiceLine] = []
        unbilled: list[Unbilled] = []
        within = 0
        for code, calls in groupby(records, key=lambda r: r.account_code):
            line = self.lines.get(code)
            if line is None:
                month = period(self.given.month, 1)
                stray = [r for r in calls if month[0] <= r.started_at.date() <= month[1]]
                if not stray:
                    continue
                unbilled.append(Unbilled(self.given.integration, code, None,
                                         "no managed line has this account code", len(stray),
                                         sum((Decimal(r.cost) for r in stray), Decimal("0.00"))))
                continue
            first, last = self.periods[code]
            inside = [r for r in calls if first <= r.started_at.date() <= last]
            if not inside:
                continue
            invoice_line = self._line(line, inside, first, last)
            reason = ("prepaid line: its calls are paid from its credit" if line.prepaid else
                      "extension inactive (charge_active_extensions_only)"
                      if active_only and not line.active else None)
            if invoice_line.amount == 0:
                within += 1
            elif reason is not None:
                unbilled.append(Unbilled(self.given.integration, code, line.service_id, reason,
                                         invoice_line.calls, invoice_line.amount))
            else:
                lines.append(invoice_line)
        return Billed(tuple(lines), tuple(unbilled), within)

    def _line(self, line: Line, calls: list[Any], first: date, last: date) -> InvoiceLine:
        tariff = self.tariffs[line.account_code]
        count: dict[str, int] = defaultdict(int)
        minutes: dict[str, int] = defaultdict(int)
        for call in calls:
            count[call.call_type] += 1
            minutes[call.call_type] += math.ceil(call.duration_seconds / 60)
        items = []
        for call_type in CALL_TYPES:
            if not count[call_type]:
                continue
            allowance = tariff.allowance.get(call_type, 0)
            billable = max(0, minutes[call_type] - allowance)
            price = tariff.price.get(call_type, Decimal("0"))
            items.append(Item(call_type, count[call_type], minutes[call_type], allowance,
                              billable, price, cents(price * billable)))
        return InvoiceLine(self.given.integration, line.service_id, line.document, line.client,
                           line.account_code, line.plan, DESCRIPTION, first, last, tuple(items))


def _lines(resources: Iterable[tuple[str, str | None, Mapping[str, Any]]]) -> list[Line]:
    out = []
    for kind, remote_id, attrs in resources:
        code = remote_id or attrs.get("account_code")
        if kind != "extension" or not code:
            continue  # a line never created has no records
        service = attrs.get("service")
        out.append(Line(str(code), int(service) if service is not None else None,
                        str(attrs.get("document") or ""), str(attrs.get("name") or ""),
                        str(attrs.get("plan") or ""), attrs.get("international_plan"),
                        int(attrs.get("closing_day") or 1), attrs.get("billing") == "prepaid",
                        bool(attrs.get("active", True))))
    return out


def _catalog(given: BillingInput, name: str) -> dict[str, Mapping[str, Any]]:
    entries = given.catalog(name)
    if entries is None:
        raise ReconcilerError(f"integration {given.integration}: the {name.replace('_', ' ')} "
                              f"catalog was never synced, so calls cannot be priced; run "
                              f"reconcile sync {given.integration}")
    return {str(entry.get("name")): entry for entry in entries}


def _tariff(line: Line, plans: Mapping[str, Mapping[str, Any]],
            international: Mapping[str, Mapping[str, Any]], integration: str) -> Tariff:
    plan = plans.get(line.plan)
    if plan is None:
        raise _unknown_plan(integration, line, line.plan, plans)
    intl = None
    if line.international_plan:
        intl = international.get(line.international_plan)
        if intl is None:
            raise _unknown_plan(integration, line, line.international_plan, international)
    allowance = {t: int(plan.get("allowance_minutes", {}).get(t, 0)) for t in CALL_TYPES}
    price = {t: Decimal(str(plan.get("price_per_minute", {}).get(t, "0"))) for t in CALL_TYPES}
    if intl is not None:
        allowance[INTERNATIONAL] += int(intl.get("allowance_minutes", {}).get(INTERNATIONAL, 0))
        if INTERNATIONAL in intl.get("price_per_minute", {}):
            price[INTERNATIONAL] = Decimal(str(intl["price_per_minute"][INTERNATIONAL]))
    return Tariff(allowance, price)


def _unknown_plan(integration: str, line: Line, name: str,
                  catalog: Mapping[str, Any]) -> ReconcilerError:
    known = ", ".join(sorted(catalog)) or "none"
    return ReconcilerError(f"integration {integration}: line {line.account_code} has the plan "
                           f"{name!r}, which the synced catalog does not list ({known}); run "
                           f"reconcile sync {integration}, or correct the line's plan")
