"""`reconcile billing stfc`: the charges a platform billed its numbers for a month (SaperX
STFC's Processar/Faturar), as invoice lines per client service. The month is fetched once into
the state (:mod:`reconciler.charge_fetch`); the lines are written as they are read back from
it. See docs/billing.md."""

from __future__ import annotations

import functools
from contextlib import AsyncExitStack
from datetime import date
from pathlib import Path

import click

from reconciler.billing.charges import ChargeInput, bill
from reconciler.billing.invoice import Invoice, sort_unbilled
from reconciler.cdr_import import days_of, month_days
from reconciler.charge_fetch import Fetched, month_charges
from reconciler.cli.app import err, handles_errors, warn, workspace_options
from reconciler.cli.billing import billing, deliver, document_options
from reconciler.errors import ReconcilerError
from reconciler.model import Integration
from reconciler.platforms import registry
from reconciler.providers.base import ChargeSource
from reconciler.runtime import Workspace, connect, run_async
from reconciler.state import charges as stored

SHOWN_CHANGES = 20  # changes listed on stderr; the JSON has them all


@billing.command("stfc")
@click.argument("integration")
@click.option("--month", required=True, metavar="YYYY-MM", help="The month to bill.")
@click.option("--type", "entry_type", default="", metavar="TIPO_LANCAMENTO",
              help="The ERP's posting type (Tipo de Lançamento) written on every line.")
@click.option("--details", is_flag=True,
              help="Each line with its calls, as the platform priced them (Detalhamento das "
                   "Chamadas, to print on the invoice).")
@document_options
@click.option("--refresh", is_flag=True,
              help="Ask the platform again, even for a closed month the state holds; what "
                   "changed is said on stderr and in the document.")
@workspace_options
@handles_errors
def billing_stfc_cmd(integration: str, month: str, entry_type: str, details: bool, fmt: str,
                     out_file: Path | None, refresh: bool, specs: Path, state: str | None) -> None:
    """What the STFC platform billed each number of INTEGRATION for the month (its plan's fee
    and the calls beyond it), as invoice lines per client service, ready to add to invoices.
    The month is fetched from the platform once and kept in the state: a second run reads the
    state alone, unless --refresh, --details where the fetch had no call detail, or a month that
    was not over when it was fetched. A charged number no client service of the specs or the
    state holds is listed apart (unbilled), never dropped."""
    first, _ = month_days(month)
    ws = Workspace.open(specs, state)
    try:
        chosen = _charge_platform(ws, integration)
        fetched = run_async(_fetch(ws, chosen, first, details, refresh))
        _say(chosen.name, month, fetched)
        invoice = _invoice(ws, chosen, first, month, fetched, details, entry_type)
        if invoice.unbilled:
            shown = ", ".join(u.line for u in invoice.unbilled[:SHOWN_CHANGES])
            more = len(invoice.unbilled) - SHOWN_CHANGES
            warn(f"{chosen.name}: {len(invoice.unbilled)} charged numbers left unbilled "
                 f"(listed apart in the document, with why): {shown}"
                 + (f" and {more} more" if more > 0 else ""))
        deliver(invoice, fmt, out_file)  # the lines are read from the state as they are written
    finally:
        ws.close()


def _charge_platform(ws: Workspace, name: str) -> Integration:
    chosen = ws.select([name])[0]
    if registry.get(chosen.platform).bill_charges is None:
        having = [i.name for i in ws.select() if registry.get(i.platform).bill_charges]
        raise ReconcilerError(
            f"integration {chosen.name} ({chosen.platform}) bills no charges of its own; "
            f"integrations that do: {', '.join(having) or 'none'}"
            + (" (for VoIP call records: reconcile billing voip)"
               if registry.get(chosen.platform).bill_calls else ""))
    return chosen


async def _fetch(ws: Workspace, integration: Integration, first: date, details: bool,
                 refresh: bool) -> Fetched:
    """The month's charges; the platform is connected only when it must be asked."""
    async with AsyncExitStack() as stack:

        async def source() -> ChargeSource:
            providers = await stack.enter_async_context(connect([integration], ws.state_dir))
            provider = providers[integration.name]
            if not isinstance(provider, ChargeSource):
                raise ReconcilerError(f"the {integration.platform} provider reads no charges")
            return provider

        return await month_charges(ws.store, integration.name, first, details, refresh, source)


def _say(name: str, month: str, fetched: Fetched) -> None:
    fetch = fetched.fetch
    if not fetched.called:
        err.print(f"{name}: {month}: from the state (read from the platform "
                  f"{fetch.finished_at:%Y-%m-%d %H:%M} UTC), no platform call; --refresh asks "
                  f"again.", markup=False)
    else:
        still = "" if fetch.closed else "; the month is not over, so the next run asks again"
        err.print(f"{name}: {month}: read from the platform ({fetched.why}): {fetch.numbers:,} "
                  f"numbers charged, R$ {fetch.total:.2f}{still}.", markup=False)
    if fetched.changes:
        listed = "; ".join(
            f"{c.line} (service {c.service_id if c.service_id is not None else 'none'}): "
            f"{_brl(c.before)} -> {_brl(c.after)}" for c in fetched.changes[:SHOWN_CHANGES])
        more = len(fetched.changes) - SHOWN_CHANGES
        warn(f"{name}: {month} is closed, and the platform changed {len(fetched.changes)} of its "
             f"charges since the last read: {listed}"
             + (f"; and {more} more (all in --format json)" if more > 0 else ""))


def _brl(value: object) -> str:
    return "none" if value is None else f"R$ {value:.2f}"


def _invoice(ws: Workspace, integration: Integration, first: date, month: str, fetched: Fetched,
             details: bool, entry_type: str) -> Invoice:
    name, fetch, store = integration.name, fetched.fetch, ws.store
    declared = [(r.kind, r.key, r.attrs) for r in ws.desired.resources.values()
                if r.integration == name and r.kind == "link"]
    managed = [(r.kind, r.key, r.attributes) for r in store.rows(integration=name, kind="link")]
    given = ChargeInput(name, first, declared, managed, functools.partial(store.catalog, name),
                        integration.options)
    biller = registry.get(integration.platform).bill_charges(given)  # type: ignore[misc]
    billed = bill(name, biller, stored.summaries(store, fetch.id),
                  lambda numbers: stored.load(store, fetch.id, numbers, details))
    _, last = month_days(month)
    open_from = max(first, fetch.finished_at.date())
    missing = {} if fetch.closed or open_from > last else {name: tuple(days_of(open_from, last))}
    return Invoice("stfc", month, billed.lines, sort_unbilled(billed.unbilled),
                   billed.within_allowance, billed.count, billed.total, missing, entry_type,
                   details, fetched.changes)

