"""The monthly charges a platform billed itself (SaperX STFC), kept in the state: one fetch of
a month at a time, page by page, then read back for billing without calling the platform.

A fetch is written under a new id, page by page (each page one transaction), and becomes the
month's charges only when :func:`finish` marks it done; the fetch it replaces is deleted then,
after :func:`changes` compared the two. A fetch killed half-way is never read: it is unfinished,
and the next fetch of the month deletes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from itertools import groupby
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from reconciler.billing.charges import Charge
from reconciler.billing.invoice import Call, Changed
from reconciler.state.store import StateStore
from reconciler.state.tables import ChargeCallRow, ChargeFetchRow, ChargeRow, table_of

READ_BATCH = 5_000  # rows fetched at a time when reading a month back

_CHARGE_COLUMNS = ("number", "service_id", "plan_id", "allowance_minutes", "minutes", "calls",
                   "total", "franchise", "overage")


@dataclass(frozen=True)
class Fetch:
    """One finished fetch of a month."""

    id: int
    integration: str
    month: str
    detailed: bool
    closed: bool  # the platform said the month was over
    finished_at: datetime
    numbers: int
    total: Decimal


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def current(store: StateStore, integration: str, month: str) -> Fetch | None:
    """The month's charges as last fetched whole, or None."""
    query = (select(ChargeFetchRow)
             .where(ChargeFetchRow.integration == integration, ChargeFetchRow.month == month,
                    ChargeFetchRow.finished_at.is_not(None))
             .order_by(ChargeFetchRow.id.desc()).limit(1))
    with store.session() as s:
        row = s.execute(query).scalars().first()
        if row is None or row.finished_at is None:
            return None
        return Fetch(row.id, row.integration, row.month, row.detailed, row.closed,
                     row.finished_at, row.numbers, Decimal(row.total))


def begin(store: StateStore, integration: str, month: str, detailed: bool) -> int:
    """A new fetch of the month, unfinished; its id."""
    with store.session() as s:
        row = ChargeFetchRow(integration=integration, month=month, detailed=detailed,
                             closed=False, started_at=_now(), numbers=0, total="0")
        s.add(row)
        s.flush()
        return int(row.id)


def add_page(store: StateStore, fetch: int, charges: Sequence[Mapping[str, Any]]) -> None:
    """Add a page of charges (as :class:`~reconciler.providers.base.ChargeSource` gives them)
    and their calls, in one transaction."""
    if not charges:
        return
    rows = [{"fetch_id": fetch, **{c: charge[c] for c in _CHARGE_COLUMNS}} for charge in charges]
    calls = [{"fetch_id": fetch, "number": charge["number"], "seq": seq, **call}
             for charge in charges for seq, call in enumerate(charge.get("detail") or ())]
    insert = postgresql.insert if store.engine.dialect.name == "postgresql" else sqlite.insert
    with store.session() as s:  # a number a shifting listing gave twice is kept once
        s.execute(insert(table_of(ChargeRow)).on_conflict_do_nothing(), rows)
        if calls:
            s.execute(insert(table_of(ChargeCallRow)).on_conflict_do_nothing(), calls)


def count(store: StateStore, fetch: int) -> tuple[int, Decimal]:
    """How many charges a fetch holds, and their total (exact: summed here, not by SQL)."""
    numbers, total = 0, Decimal("0")
    for _, _, amount in _totals(store, fetch):
        numbers += 1
        total += amount
    return numbers, total


def finish(store: StateStore, fetch: int, *, closed: bool, numbers: int, total: Decimal) -> None:
    with store.session() as s:
        s.execute(update(ChargeFetchRow).where(ChargeFetchRow.id == fetch).values(
            finished_at=_now(), closed=closed, numbers=numbers, total=str(total)))


def prune(store: StateStore, integration: str, month: str, keep: int | None) -> None:
    """Delete every fetch of the month but ``keep`` (the earlier ones, and any left unfinished
    by a run that died), with their charges and calls."""
    ids = select(ChargeFetchRow.id).where(ChargeFetchRow.integration == integration,
                                          ChargeFetchRow.month == month)
    if keep is not None:
        ids = ids.where(ChargeFetchRow.id != keep)
    with store.session() as s:
        old = list(s.execute(ids).scalars())
        if old:
            s.execute(delete(ChargeCallRow).where(ChargeCallRow.fetch_id.in_(old)))
            s.execute(delete(ChargeRow).where(ChargeRow.fetch_id.in_(old)))
            s.execute(delete(ChargeFetchRow).where(ChargeFetchRow.id.in_(old)))


def summaries(store: StateStore, fetch: int) -> Iterator[Charge]:
    """The fetch's charges without their calls, by number, read in batches."""
    query = (select(*(getattr(ChargeRow, c) for c in _CHARGE_COLUMNS))
             .where(ChargeRow.fetch_id == fetch).order_by(ChargeRow.number)
             .execution_options(yield_per=READ_BATCH))
    with store.session() as s:
        for row in s.execute(query):
            yield _charge(row, ())


def load(store: StateStore, fetch: int, numbers: Sequence[str],
         detailed: bool) -> dict[str, Charge]:
    """The whole charges of ``numbers`` (a batch), with their calls when ``detailed``."""
    query = select(*(getattr(ChargeRow, c) for c in _CHARGE_COLUMNS)).where(
        ChargeRow.fetch_id == fetch, ChargeRow.number.in_(numbers))
    with store.session() as s:
        rows = list(s.execute(query))
        details: dict[str, tuple[Call, ...]] = {}
        if detailed:
            calls = (select(ChargeCallRow.number, ChargeCallRow.started_at, ChargeCallRow.origin,
                            ChargeCallRow.destination, ChargeCallRow.call_type,
                            ChargeCallRow.duration_seconds, ChargeCallRow.amount)
                     .where(ChargeCallRow.fetch_id == fetch, ChargeCallRow.number.in_(numbers))
                     .order_by(ChargeCallRow.number, ChargeCallRow.seq))
            for number, group in groupby(s.execute(calls), key=lambda r: r.number):
                details[number] = tuple(
                    Call(r.started_at, r.origin, r.destination, r.call_type,
                         int(r.duration_seconds), Decimal(r.amount)) for r in group)
    return {row.number: _charge(row, details.get(row.number, ())) for row in rows}


def changes(store: StateStore, integration: str, before: int, after: int) -> list[Changed]:
    """The numbers whose total differs between two fetches of a month (or that only one has),
    by number: both are read in number order and merged, neither held whole."""
    old, new = _totals(store, before), _totals(store, after)
    out: list[Changed] = []
    a, b = next(old, None), next(new, None)
    while a is not None or b is not None:
        if b is None or (a is not None and a[0] < b[0]):
            out.append(Changed(integration, a[0], a[1], a[2], None))  # type: ignore[index]
            a = next(old, None)
        elif a is None or b[0] < a[0]:
            out.append(Changed(integration, b[0], b[1], None, b[2]))
            b = next(new, None)
        else:
            if a[2] != b[2]:
                out.append(Changed(integration, b[0], b[1], a[2], b[2]))
            a, b = next(old, None), next(new, None)
    return out


def _totals(store: StateStore, fetch: int) -> Iterator[tuple[str, int | None, Decimal]]:
    query = (select(ChargeRow.number, ChargeRow.service_id, ChargeRow.total)
             .where(ChargeRow.fetch_id == fetch).order_by(ChargeRow.number)
             .execution_options(yield_per=READ_BATCH))
    with store.session() as s:
        for row in s.execute(query):
            yield row.number, row.service_id, Decimal(row.total)


def _charge(row: Any, detail: Iterable[Call]) -> Charge:
    return Charge(row.number, row.service_id, row.plan_id, int(row.allowance_minutes),
                  int(row.minutes), int(row.calls), Decimal(row.total), Decimal(row.franchise),
                  Decimal(row.overage), tuple(detail))
