"""Commands that look without planning: validate, check, sync and show."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from reconciler.cli.app import (
    EXIT_ERROR,
    err,
    handles_errors,
    lock_option,
    main,
    out,
    spec_warnings,
    warn,
    workspace_options,
)
from reconciler.errors import ReconcilerError, SpecError
from reconciler.model import FINGERPRINTS, Integration
from reconciler.platforms import registry
from reconciler.providers.base import Health
from reconciler.runtime import Workspace, connect, keep_catalogs, run_async
from reconciler.secrets import redact
from reconciler.specs.catalogs import catalog_problems
from reconciler.state import StateStore, state_url
from reconciler.state.locks import locked

# -- validate ---------------------------------------------------------------------------


@main.command()
@workspace_options
@handles_errors
def validate(specs: Path, state: str | None) -> None:
    """Check the specs (schema and domain rules) without touching any platform."""
    from reconciler.specs import load_desired

    desired = load_desired(specs)
    kinds: dict[str, int] = {}
    for res in desired.resources.values():
        kinds[res.kind] = kinds.get(res.kind, 0) + 1
    services = desired.settings.get("services", {})
    store = StateStore(state_url(state))
    try:
        problems = catalog_problems(desired, store.catalog)
    finally:
        store.close()
    if problems:
        raise SpecError(problems)
    spec_warnings(desired.settings)
    others = "".join(f", {n} {registry.counted_as(kind)}" for kind, n in sorted(kinds.items())
                     if kind not in ("number", "link", "subscription", "user"))
    out.print(
        f"[green]Valid:[/green] {len(desired.integrations)} integrations, "
        f"{kinds.get('number', 0)} numbers in ranges, {len(services)} client services, "
        f"{kinds.get('link', 0)} number assignments, {kinds.get('subscription', 0)} content "
        f"subscriptions{others} in {specs}."
    )


# -- check and sync ---------------------------------------------------------------------


async def _health(integration: Integration, data_dir: Path) -> Health:
    """One integration's verdict; a missing secret or an unreachable platform is a verdict too."""
    try:
        async with connect([integration], data_dir) as providers:
            return await providers[integration.name].check()
    except ReconcilerError as exc:
        return Health(False, f"{integration.name}: {exc}")


@main.command("check")
@click.argument("integrations", nargs=-1)
@workspace_options
@handles_errors
def check_cmd(integrations: tuple[str, ...], specs: Path, state: str | None) -> None:
    """Test the credentials of each integration (or the named ones) and that its platform
    answers, logging in where the platform issues tokens; changes nothing. Exit 1 if any fails."""
    ws = Workspace.open(specs, state)
    try:
        selected = ws.select(integrations or None)

        async def run() -> list[Health]:
            return list(await asyncio.gather(*(_health(i, ws.state_dir) for i in selected)))

        verdicts = run_async(run())
    finally:
        ws.close()
    for integration, health in zip(selected, verdicts, strict=True):
        mark = "[green]ok[/green]    " if health.ok else "[red]FAILED[/red]"
        said = health.message.removeprefix(f"{integration.name}: ")
        out.print(f"{mark} {escape(integration.name)} ({integration.platform}): "
                  f"{escape(redact(said))}")
    failed = sum(1 for h in verdicts if not h.ok)
    if failed:
        err.print(f"[red]{failed} of {len(verdicts)} integrations failed the check.[/red]")
        sys.exit(EXIT_ERROR)


@main.command("sync")
@click.argument("integrations", nargs=-1)
@workspace_options
@lock_option
@click.option("--json", "as_json", is_flag=True, help="Print the catalogs as JSON.")
@handles_errors
def sync_cmd(integrations: tuple[str, ...], specs: Path, state: str | None, lock_timeout: float,
             as_json: bool) -> None:
    """Pull the read-only catalogs (STFC plans, content products) into the state, so that
    `validate` checks the specs against them without reaching the platforms."""
    ws = Workspace.open(specs, state)
    try:
        selected = ws.select(integrations or None)
        with locked(ws.store, "sync", [i.name for i in selected], timeout=lock_timeout,
                    warn=warn):

            async def run() -> dict[str, Mapping[str, Any]]:
                async with connect(selected, ws.state_dir) as providers:
                    names = sorted(providers)
                    found = await asyncio.gather(*(providers[n].catalogs() for n in names))
                    return dict(zip(names, found, strict=True))

            catalogs = run_async(run())
            keep_catalogs(ws.store, catalogs)
    finally:
        ws.close()
    if as_json:
        click.echo(json.dumps(catalogs, indent=2, default=str))
        return
    for name, entries in catalogs.items():
        for catalog, items in entries.items():
            out.print(f"{escape(name)}: {len(items)} {catalog}")
            for item in items:
                label = item.get("code", item.get("id"))
                title = item.get("name", item.get("nome", ""))
                out.print(f"  {escape(str(label))}  {escape(str(title))}")



# -- show -------------------------------------------------------------------------------


@main.group("show", invoke_without_command=True)
@workspace_options
@click.option("--integration", help="Only this integration.")
@click.option("--kind", help="Only this kind of resource (number, link, user, subscription).")
@click.option("--status", help="Only resources whose last observed status or transmission "
                               "is this (free, linked, removing, error, sent, blocked, active, "
                               "suspended, cancelled...).")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@handles_errors
@click.pass_context
def show_cmd(ctx: click.Context, specs: Path, state: str | None, integration: str | None,
             kind: str | None, status: str | None, as_json: bool) -> None:
    """List the managed resources recorded in the state (`show numbers`: the telephone numbers,
    searched as the platform's screen does)."""
    if ctx.invoked_subcommand is not None:
        return
    store = StateStore(state_url(state))
    try:
        rows = [r for r in store.rows(integration=integration, kind=kind)
                if status is None or status in _facts(r.observed)]
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps([_row_json(r) for r in rows], indent=2, default=str))
        return
    _show_table(rows)


def _facts(observed: dict[str, Any]) -> set[str]:
    """The status words a row answers to: its observed status, transmission, and 'blocked'."""
    words = {str(observed.get("status", "")), str(observed.get("transmission", ""))}
    if observed.get("blocked"):
        words.add("blocked")
    return words - {""}


def _row_json(row: Any) -> dict[str, Any]:
    return {"address": row.address, "integration": row.integration, "kind": row.kind,
            "key": row.key, "remote_id": row.remote_id, "attributes": row.attributes,
            "observed": row.observed, "updated_at": row.updated_at.isoformat(),
            "serial": row.serial}


def _show_table(rows: list[Any]) -> None:
    from rich.table import Table

    table = Table(show_edge=False, box=None, pad_edge=False)
    for column in ("address", "observed", "attributes"):
        table.add_column(column, overflow="fold")
    for row in rows:
        facts = ", ".join(f"{k}={v}" for k, v in sorted(row.observed.items())
                          if k in ("status", "transmission", "blocked"))
        attrs = ", ".join(f"{k}={v}" for k, v in sorted(row.attributes.items())
                          if k not in FINGERPRINTS)
        table.add_row(row.address, facts, attrs)
    out.print(table)
    out.print(f"\n{len(rows)} managed resources.")
