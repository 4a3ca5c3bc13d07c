"""`reconcile cdr import` (call records into the state) and `reconcile billing voip` (the calls
beyond the plans, as invoice lines); the `billing` group, and how every billing command writes
its document (:func:`deliver`). `billing stfc` is in :mod:`reconciler.cli.charges`. See
docs/cli.md and docs/billing.md."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import IO

import click
from rich.markup import escape

from reconciler.billing.invoice import Billed, BillingInput, Invoice, day_ranges, merge
from reconciler.cdr_import import (
    Imported,
    days_of,
    default_period,
    import_calls,
    month_days,
    parse_day,
    today,
)
from reconciler.cli.app import F, err, handles_errors, main, out, warn, workspace_options
from reconciler.errors import ReconcilerError
from reconciler.model import Integration
from reconciler.platforms import registry
from reconciler.providers.base import CallRecordSource
from reconciler.render.invoice import WRITERS
from reconciler.runtime import Workspace, connect, run_async
from reconciler.secrets import redact
from reconciler.state import calls as stored
from reconciler.state.store import StateStore

BILLING_FORMATS = tuple(WRITERS)


def _call_platforms(ws: Workspace, names: Sequence[str], what: str) -> list[Integration]:
    """The named integrations (all those with call records when none is named), each of a
    platform that keeps call records."""
    billing = [i for i in ws.select() if registry.get(i.platform).bill_calls is not None]
    if not names:
        if not billing:
            raise ReconcilerError(f"no declared integration has call records to {what}: declare "
                                  f"one of platform {_call_platform_names()}")
        return billing
    chosen = ws.select(names)
    wrong = [i for i in chosen if registry.get(i.platform).bill_calls is None]
    if wrong:
        raise ReconcilerError(
            f"integration {wrong[0].name} ({wrong[0].platform}) has no call records to {what}; "
            f"integrations that have: {', '.join(i.name for i in billing) or 'none'}")
    return chosen


def _call_platform_names() -> str:
    return " or ".join(p.name for p in registry.every() if p.bill_calls is not None)


def environment(integration: Integration) -> str:
    return str(integration.options.get("environment", "production"))


def document_options(func: F) -> F:
    """--format and --out, as every billing command takes them."""
    func = click.option("--out", "out_file", type=click.Path(path_type=Path, dir_okay=False),
                        help="Write the document to FILE (replaced whole) instead of stdout.")(func)
    return click.option("--format", "fmt", type=click.Choice(BILLING_FORMATS), default="csv",
                        show_default=True,
                        help="csv for the ERP, json for machines, markdown for people.")(func)


# -- cdr import --------------------------------------------------------------------------------


@main.group("cdr")
def cdr() -> None:
    """Call records (CDRs) of the VoIP platforms."""


@cdr.command("import")
@click.argument("integrations", nargs=-1)
@click.option("--period", metavar="YYYY-MM", help="Import this whole month (up to today).")
@click.option("--day", metavar="YYYY-MM-DD", help="Import this one day.")
@workspace_options
@handles_errors
def cdr_import_cmd(integrations: tuple[str, ...], period: str | None, day: str | None,
                   specs: Path, state: str | None) -> None:
    """Pull the call records of each INTEGRATION (every one that has them, when none is named)
    into the state database. Idempotent: a record already held is not added again, and days
    already imported whole are skipped. Without --period or --day: a daily import (option
    cdr_import: daily) reads every day since the last one imported whole, up to yesterday; a
    monthly one reads the previous month. Takes no state lock."""
    if period and day:
        raise click.UsageError("give --period or --day, not both")
    ws = Workspace.open(specs, state)
    try:
        for chosen in _call_platforms(ws, integrations, "import"):
            days = _days(ws.store, chosen, period, day)
            if not days:  # a daily import already run today: nothing is over that is not held
                out.print(f"{escape(chosen.name)} ({environment(chosen)}): up to date: every "
                          f"day up to yesterday is imported whole.")
                continue
            _report(run_async(_import(ws, chosen, days)))
    finally:
        ws.close()


def _days(store: StateStore, integration: Integration, period: str | None,
          day: str | None) -> list[date]:
    now = today()
    if day is not None:
        return [parse_day(day)]
    if period is not None:
        first, last = month_days(period)
        return days_of(first, min(last, now)) if first <= now else [first]
    cadence = str(integration.options.get("cdr_import", "daily"))
    last_complete = stored.last_complete_day(store, integration.name, environment(integration))
    first, last = default_period(cadence, last_complete, now)
    return days_of(first, last)


async def _import(ws: Workspace, integration: Integration, days: list[date]) -> Imported:
    async with connect([integration], ws.state_dir) as providers:
        provider = providers[integration.name]
        if not isinstance(provider, CallRecordSource):
            raise ReconcilerError(f"the {integration.platform} provider reads no call records")
        return await import_calls(ws.store, integration.name, provider, days)


def _report(result: Imported) -> None:
    span = (result.first.isoformat() if result.first == result.last
            else f"{result.first.isoformat()}..{result.last.isoformat()}")
    out.print(f"{escape(result.integration)} ({result.environment}): {span}: read "
              f"{len(result.days)} day{'' if len(result.days) == 1 else 's'}, "
              f"{result.read:,} call records, {result.new:,} new "
              f"({result.read - result.new:,} already held).")
    if result.skipped:
        out.print(f"Skipped {len(result.skipped)} days already imported whole: "
                  f"{day_ranges(result.skipped)}.")
    if result.open_days:
        out.print(f"Not complete yet (the day is not over): {day_ranges(result.open_days)}; "
                  f"the next import reads it again.")


# -- billing -----------------------------------------------------------------------------------


@main.group("billing")
def billing() -> None:
    """Invoice lines from what the platforms recorded."""


@billing.command("voip")
@click.argument("integrations", nargs=-1)
@click.option("--month", required=True, metavar="YYYY-MM", help="The month to bill.")
@click.option("--type", "entry_type", default="", metavar="TIPO_LANCAMENTO",
              help="The ERP's posting type (Tipo de Lançamento) written on every line.")
@document_options
@click.option("--partial", is_flag=True,
              help="Bill even when days of the period have no imported call records "
                   "(the document says which).")
@workspace_options
@handles_errors
def billing_voip_cmd(integrations: tuple[str, ...], month: str, entry_type: str, fmt: str,
                     out_file: Path | None, partial: bool, specs: Path, state: str | None) -> None:
    """The calls of the month beyond each line's plan allowance, priced per call type, as
    invoice lines ("Adicional de Telefonia") per client service; from the call records in the
    state (see `reconcile cdr import`), no platform call. With the integration's
    charge_active_extensions_only, inactive extensions are listed apart, not invoiced."""
    first, _ = month_days(month)
    ws = Workspace.open(specs, state)
    try:
        chosen = _call_platforms(ws, integrations, "bill")
        invoice = _bill(ws.store, chosen, first, month, partial, entry_type)
    finally:
        ws.close()
    for name, days in invoice.missing.items():
        warn(f"{name}: no call records imported for {day_ranges(days)}; this bill is partial")
    deliver(invoice, fmt, out_file)


def _bill(store: StateStore, chosen: Sequence[Integration], first: date, month: str,
          partial: bool, entry_type: str) -> Invoice:
    parts: dict[str, Billed] = {}
    missing: dict[str, tuple[date, ...]] = {}
    for integration in chosen:
        name, env = integration.name, environment(integration)
        given = BillingInput(name, first, [(r.kind, r.remote_id, r.attributes)
                                           for r in store.rows(integration=name)],
                             functools.partial(store.catalog, name), integration.options)
        biller = registry.get(integration.platform).bill_calls(given)  # type: ignore[misc]
        start, end = biller.span
        held = stored.complete_days(store, name, env, start, end)
        missing[name] = tuple(d for d in days_of(start, end) if d not in held)
        if missing[name] and not partial:
            raise ReconcilerError(
                f"{name}: the billing period {start.isoformat()}..{end.isoformat()} has days "
                f"whose call records are not imported whole: {day_ranges(missing[name])}; run "
                f"{_import_hint(name, missing[name])} (after the days are over), or pass "
                f"--partial to bill what is there")
        parts[name] = biller.bill(stored.records(store, name, env, start, end))
    return merge("voip", month, parts, missing, entry_type)


def _import_hint(name: str, days: Sequence[date]) -> str:
    months = sorted({d.strftime("%Y-%m") for d in days})
    return " and ".join(f"reconcile cdr import {name} --period {m}" for m in months)


def deliver(invoice: Invoice, fmt: str, out_file: Path | None) -> None:
    """Write the document of ``invoice`` as it is made (its lines are read once): to stdout, or
    to ``out_file``, replaced whole (never half a document left), and say so on stderr. Every
    secret this process resolved is masked, as :func:`~reconciler.cli.app.emit` does."""
    writer = WRITERS[fmt]
    if out_file is None:
        writer(invoice, _Masked(sys.stdout))
        sys.stdout.flush()
        return
    out_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_file.with_name(f".{out_file.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("w", encoding="utf-8", newline="") as stream:
            writer(invoice, _Masked(stream))
        os.replace(tmp, out_file)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ReconcilerError(f"cannot write {out_file}: {exc.strerror or exc}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    err.print(f"Wrote {invoice.count} invoice lines (R$ {invoice.total:.2f}) to {out_file}.")


class _Masked:
    """A text stream whose every write has the resolved secrets masked (the writers write a
    line or a row at a time, so a secret is never cut in two)."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        return self.stream.write(redact(text))
