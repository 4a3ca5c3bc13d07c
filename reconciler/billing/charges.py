"""A month of charges that a platform billed itself (SaperX STFC), as invoice lines. Pure.

The platform prices everything; what is ours is whose each number's charge is (its client
service, which the platform's ``billing`` hook finds in the specs and the state) and writing
the lines in service order without holding the month. :func:`bill` reads the charges twice:
first without their calls, keeping only who and how much of each (so the count and the total
are known before the first line is written); then whole, a batch of numbers at a time, in
service order, as the document is written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from reconciler.billing.invoice import Call, InvoiceLine, Unbilled, cents

# What is read back at a time: at most BATCH numbers, and no more than CALLS_BATCH calls between
# them (a batch holds at least one number), so that memory does not grow with the calls.
BATCH = 1_000
CALLS_BATCH = 20_000


@dataclass(frozen=True, slots=True)
class Charge:
    """What the platform billed one number for the month, exact as it said it."""

    number: str
    service_id: int | None  # the client service the platform charged (its id_externo)
    plan_id: int | None
    allowance_minutes: int
    minutes: int
    calls: int
    total: Decimal
    franchise: Decimal  # the plan's fee
    overage: Decimal  # the calls beyond the allowance
    detail: tuple[Call, ...] = ()


@dataclass(frozen=True, slots=True)
class Holder:
    """The client service a number's charge is invoiced to."""

    service_id: int | None
    document: str
    client: str
    plan: str


@dataclass(frozen=True)
class ChargeInput:
    """What a platform's ``bill_charges`` is given for one integration and month."""

    integration: str
    month: date  # its first day
    declared: Sequence[tuple[str, str, Mapping[str, Any]]]  # the specs' (kind, key, attributes)
    managed: Sequence[tuple[str, str, Mapping[str, Any]]]  # the state's, as last applied
    catalog: Callable[[str], list[dict[str, Any]] | None]  # a synced catalog by name
    options: Mapping[str, Any]


class ChargeBiller:
    """A platform's reading of its own charges: whose each one is, and its invoice line."""

    def holder(self, charge: Charge) -> Holder | str:
        """The client service ``charge`` is invoiced to, or why it is left unbilled."""
        raise NotImplementedError

    def line(self, holder: Holder, charge: Charge) -> InvoiceLine:
        raise NotImplementedError


@dataclass(frozen=True)
class Month:
    """One integration's month: ``lines`` (made as they are read, once) in service order, and
    what is known before: the charges left unbilled, how many lines and their total."""

    lines: Iterable[InvoiceLine]
    unbilled: tuple[Unbilled, ...]
    count: int
    total: Decimal
    within_allowance: int  # lines with nothing beyond their plan's minutes


def bill(integration: str, biller: ChargeBiller, charges: Iterable[Charge],
         load: Callable[[Sequence[str]], Mapping[str, Charge]]) -> Month:
    """``charges`` (without calls: the first read) sorted into lines and unbilled ones; the
    lines are then made from ``load`` (the numbers' whole charges), :func:`batches` at a time."""
    keys: list[tuple[int, str, Holder, int]] = []
    unbilled: list[Unbilled] = []
    total, within = Decimal("0.00"), 0
    for charge in charges:
        holder = biller.holder(charge)
        if isinstance(holder, str):
            unbilled.append(Unbilled(integration, charge.number, charge.service_id, holder,
                                     charge.calls, cents(charge.total)))
            continue
        keys.append((holder.service_id or 0, charge.number, holder, charge.calls))
        total += cents(charge.total)
        within += charge.minutes <= charge.allowance_minutes
    keys.sort(key=lambda key: key[:2])
    return Month(_lines(biller, keys, load), tuple(unbilled), len(keys), total, within)


def _lines(biller: ChargeBiller, keys: Sequence[tuple[int, str, Holder, int]],
           load: Callable[[Sequence[str]], Mapping[str, Charge]]) -> Iterator[InvoiceLine]:
    for batch in batches(keys):
        found = load([number for _, number, _, _ in batch])
        for _, number, holder, _ in batch:
            yield biller.line(holder, found[number])


def batches(keys: Sequence[tuple[int, str, Holder, int]]) -> Iterator[Sequence[Any]]:
    """``keys`` (each ending with its number's count of calls) in order, cut into batches of
    at most :data:`BATCH` numbers and :data:`CALLS_BATCH` calls (at least one number each)."""
    start = calls = 0
    for end, key in enumerate(keys):
        if end > start and (end - start >= BATCH or calls + key[3] > CALLS_BATCH):
            yield keys[start:end]
            start, calls = end, 0
        calls += key[3]
    if start < len(keys):
        yield keys[start:]
