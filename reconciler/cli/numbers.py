"""`reconcile show numbers`: the telephone numbers of the STFC integrations, searched as the
seed's screen offers it (by client, service, link status, transmission status and range), over
the state and the platform's last observation. See docs/cli.md."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import click

from reconciler.cli.app import emit, handles_errors, out, state_option
from reconciler.cli.inspect import show_cmd
from reconciler.state import StateStore, state_url

TRANSMISSIONS = {"ok": "sent", "error": "error", "pending": "pending"}
_DIGITS = re.compile(r"\D")


@dataclass(frozen=True)
class NumberRow:
    integration: str
    number: str
    range: str
    status: str  # free, linked, removing (as last observed), or "unknown" before any observation
    transmission: str  # ok, error, pending, unknown
    error: str  # the platform's transmission error, when it gave one
    service: int | None
    client: str
    document: str
    plan: str


def number_rows(store: StateStore, integration: str | None = None) -> list[NumberRow]:
    """Every managed number (the STFC platforms': the only ones with phone numbers), with its
    link."""
    rows = [r for r in store.rows(integration=integration)
            if r.kind in ("number", "link")]
    links = {(r.integration, r.key): r for r in rows if r.kind == "link"}
    shown = {v: k for k, v in TRANSMISSIONS.items()}
    out: list[NumberRow] = []
    for row in rows:
        if row.kind != "number":
            continue
        link = links.get((row.integration, row.key))
        seen, attrs = row.observed or {}, link.attributes if link else {}
        status = str(seen.get("status") or ("linked" if link else "unknown"))
        out.append(NumberRow(
            row.integration, row.key, str(row.attributes.get("range") or ""), status,
            shown.get(str(seen.get("transmission")), str(seen.get("transmission") or "unknown")),
            str(seen.get("transmission_error") or ""),
            attrs.get("service"), str(attrs.get("name") or ""), str(attrs.get("document") or ""),
            str(attrs.get("plan") or "")))
    return sorted(out, key=lambda r: (r.integration, r.number))


def matching(rows: Iterable[NumberRow], *, client: str | None, service: int | None,
             linked: bool | None, transmission: str | None, range_name: str | None
             ) -> list[NumberRow]:
    """The rows the search keeps: ``client`` matches a name (any case, any part) or a document
    (digits, any part)."""
    wanted = (client or "").casefold()
    digits = _DIGITS.sub("", client or "")
    kept = []
    for row in rows:
        if client and wanted not in row.client.casefold() and not (digits and digits in
                                                                     row.document):
            continue
        if service is not None and row.service != service:
            continue
        if linked is not None and (row.status == "linked") != linked:
            continue
        if transmission is not None and row.transmission != transmission:
            continue
        if range_name is not None and row.range != range_name:
            continue
        kept.append(row)
    return kept


@show_cmd.command("numbers")
@state_option
@click.option("--integration", help="Only this integration.")
@click.option("--client", "client", metavar="TEXT", help="A client's name or document (any part).")
@click.option("--service", type=int, metavar="ID", help="The client service (id_cliente_servico).")
@click.option("--linked/--free", "linked", default=None, help="Only linked, or only free, numbers.")
@click.option("--transmission", type=click.Choice(tuple(TRANSMISSIONS)),
              help="Only numbers whose last transmission to the platform is this.")
@click.option("--range", "range_name", metavar="NAME", help="Only the numbers of this range.")
@click.option("--format", "fmt", type=click.Choice(("text", "json", "csv")), default="text",
              show_default=True, help="text for a terminal, json or csv for machines.")
@handles_errors
def show_numbers_cmd(state: str | None, integration: str | None, client: str | None,
                     service: int | None, linked: bool | None, transmission: str | None,
                     range_name: str | None, fmt: str) -> None:
    """Search the telephone numbers: by client, service, linked or free, transmission status
    and range, over the state and the platform's last observation (refreshed by every plan,
    apply and drift). A failed transmission shows the platform's error; the next apply sends
    the number again."""
    store = StateStore(state_url(state))
    try:
        rows = matching(number_rows(store, integration), client=client, service=service,
                        linked=linked, transmission=transmission, range_name=range_name)
    finally:
        store.close()
    if fmt == "json":
        emit(json.dumps({"format_version": 1, "numbers": [asdict(r) for r in rows]}, indent=2,
                        ensure_ascii=False))
    elif fmt == "csv":
        emit(_csv(rows))
    else:
        _table(rows)


def _csv(rows: list[NumberRow]) -> str:
    buffer = io.StringIO()
    fields = list(NumberRow.__dataclass_fields__)
    writer = csv.DictWriter(buffer, fields, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in asdict(row).items()})
    return buffer.getvalue()


def _table(rows: list[NumberRow]) -> None:
    from rich.table import Table

    table = Table(show_edge=False, box=None, pad_edge=False)
    for column in ("integration", "number", "range", "status", "transmission", "service",
                   "client", "plan"):
        table.add_column(column, overflow="fold",
                         no_wrap=column in ("number", "status", "service"))
    for r in rows:
        sent = r.transmission + (f" ({r.error})" if r.error else "")
        table.add_row(r.integration, r.number, r.range, r.status, sent,
                      "" if r.service is None else str(r.service), r.client, r.plan)
    out.print(table)
    errors = sum(1 for r in rows if r.transmission == "error")
    tail = f"; {errors} failed to transmit (the next apply sends them again)" if errors else ""
    out.print(f"\n{len(rows)} numbers{tail}.")

