"""The invoice lines of one month, as every billing command produces them.

Money is :class:`~decimal.Decimal` throughout, rounded to centavos (half up) once per item,
never a float: the totals are the sums of the rounded items, as an invoice shows them.

An invoice's ``lines`` are a tuple when the billing holds them all (VoIP), or an iterable read
once, as they are written, when a month is too large to hold (a platform's own charges of
100,000 numbers): its ``count`` and ``total`` are then known before the first line is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


@dataclass(frozen=True)
class Item:
    """One priced part of an invoice line (the calls of one type, one charge...)."""

    label: str  # "LDN", "franquia"
    calls: int
    minutes: int  # started minutes used
    allowance: int  # minutes the plan includes
    billable: int  # minutes beyond the allowance
    unit_price: Decimal | None  # per billable minute; None where the platform priced it
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Call:
    """One call of a line's detail, as the platform priced it (printed on the invoice)."""

    started_at: datetime  # naive UTC
    origin: str
    destination: str
    call_type: str  # LC, LDN, LDI, VC1, VC2, VC3
    duration_seconds: int
    amount: Decimal


@dataclass(frozen=True)
class InvoiceLine:
    """What one client service is charged for one line (an extension, a number) in the month."""

    integration: str
    service_id: int | None  # the ERP's id_cliente_servico
    document: str
    client: str
    line: str  # the account code, the phone number
    plan: str
    description: str  # "Adicional de Telefonia"
    period_from: date
    period_to: date
    items: tuple[Item, ...]
    detail: tuple[Call, ...] = ()  # its calls, when the billing was asked for them

    @property
    def amount(self) -> Decimal:
        return sum((i.amount for i in self.items), Decimal("0.00"))

    @property
    def calls(self) -> int:
        return sum(i.calls for i in self.items)

    @property
    def minutes(self) -> int:
        return sum(i.minutes for i in self.items)

    @property
    def billable(self) -> int:
        return sum(i.billable for i in self.items)


@dataclass(frozen=True)
class Unbilled:
    """Charges found but not invoiced, and why: never dropped silently."""

    integration: str
    line: str
    service_id: int | None
    reason: str
    calls: int
    amount: Decimal  # what the line would have been charged


@dataclass(frozen=True)
class Changed:
    """A charge of a closed month that a new read of the platform found different: ``before``
    or ``after`` is None for a charge that appeared or went away."""

    integration: str
    line: str
    service_id: int | None  # the client service the platform charged
    before: Decimal | None
    after: Decimal | None


@dataclass(frozen=True)
class Billed:
    """What one integration's records come to."""

    lines: tuple[InvoiceLine, ...] = ()
    unbilled: tuple[Unbilled, ...] = ()
    within_allowance: int = 0  # lines that called, all within their plan


@dataclass(frozen=True)
class BillingInput:
    """What a platform's ``bill_calls`` is given for one integration and month."""

    integration: str
    month: date  # its first day
    resources: Sequence[tuple[str, str | None, Mapping[str, Any]]]  # (kind, remote id, attributes)
    catalog: Callable[[str], list[dict[str, Any]] | None]  # a synced catalog by name
    options: Mapping[str, Any]


class CallBiller:
    """A platform's pricing of one integration's month: the span of days its lines' billing
    periods cover (which the records read must cover), then the lines of those records."""

    span: tuple[date, date]

    def bill(self, records: Iterable[Any]) -> Billed:
        raise NotImplementedError


@dataclass(frozen=True)
class Invoice:
    """The invoice lines of one month across integrations."""

    kind: str  # voip, stfc
    month: str  # YYYY-MM
    lines: Iterable[InvoiceLine]  # a tuple, or lines made as they are written (read once)
    unbilled: tuple[Unbilled, ...]
    within_allowance: int
    count: int  # of lines
    total: Decimal  # of the lines' amounts
    # days whose records were not imported, or were not over when the charges were read
    missing: Mapping[str, tuple[date, ...]] = field(default_factory=dict)
    type: str = ""  # the ERP's posting type (HubSoft's Tipo de Lançamento) of every line
    detailed: bool = False  # the lines carry their calls
    changes: tuple[Changed, ...] = ()  # charges of a closed month a refresh found different

    @property
    def complete(self) -> bool:
        return not any(self.missing.values())


def merge(kind: str, month: str, parts: Mapping[str, Billed],
          missing: Mapping[str, tuple[date, ...]], type: str = "") -> Invoice:
    """One invoice of each integration's part, in a stable order: lines by service; unbilled
    by integration and service, those of no service last."""
    lines = sorted((line for part in parts.values() for line in part.lines),
                   key=lambda ln: (ln.service_id or 0, ln.integration, ln.line))
    return Invoice(kind, month, tuple(lines),
                   sort_unbilled(u for part in parts.values() for u in part.unbilled),
                   sum(part.within_allowance for part in parts.values()), len(lines),
                   sum((line.amount for line in lines), Decimal("0.00")),
                   {name: days for name, days in missing.items() if days}, type)


def sort_unbilled(items: Iterable[Unbilled]) -> tuple[Unbilled, ...]:
    """By integration and service, those of no service last."""
    return tuple(sorted(items, key=lambda u: (u.integration, u.service_id is None,
                                              u.service_id or 0, u.line)))


def day_ranges(days: Iterable[date]) -> str:
    """Days as short ranges: ``2026-11-01..2026-11-05, 2026-11-30``."""
    ordered = sorted(set(days))
    runs: list[tuple[date, date]] = []
    for day in ordered:
        if runs and (day - runs[-1][1]).days == 1:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return ", ".join(a.isoformat() if a == b else f"{a.isoformat()}..{b.isoformat()}"
                     for a, b in runs)
