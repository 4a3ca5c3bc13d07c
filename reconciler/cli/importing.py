"""`reconcile import`: take over what a platform already holds, without changing the platform.

One listing per integration (the provider's observe), matched to the specs by natural key
(:mod:`reconciler.planner.imports`), shown as a plan, then recorded in the state after a
confirmation. ``--generate DIR`` writes the objects that match nothing as spec YAML
(:mod:`reconciler.specs.generate`) for the operator to review.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape

from reconciler.cli.app import (
    EXIT_OK,
    confirm,
    emit,
    err,
    handles_errors,
    lock_option,
    main,
    now,
    out,
    warn,
    workspace_options,
)
from reconciler.cli.plan import refresh
from reconciler.model import Known, Observed, Resource
from reconciler.planner.core import differing, runs
from reconciler.planner.imports import ImportPlan, match
from reconciler.platforms import registry
from reconciler.render.jsonplan import resource_json
from reconciler.runtime import Workspace, connect, remember, run_async
from reconciler.specs import generate, load_specs
from reconciler.state.locks import locked

COMMAND = "reconcile import"
T = TypeVar("T")
SHOWN = 200  # lines per section and integration on a terminal; --format json lists them all


async def _read(ws: Workspace, names: Sequence[str], known: Known) -> dict[str, Observed]:
    async with connect(ws.select(names), ws.state_dir) as providers:
        return await refresh(ws, providers, known)


def _differs(ws: Workspace, plan: ImportPlan, res: Resource) -> list[str]:
    """The compared fields where the platform differs from the specs: the next plan's updates."""
    want = ws.desired.resources.get(res.address)
    fields = registry.get(plan.platform).compared.get(res.kind, ())
    if want is None:
        return []
    return differing(want, res, fields)


# -- text -----------------------------------------------------------------------------------


def _blocks(resources: Sequence[Resource]) -> list[tuple[str, list[Resource]]]:
    """Numbers in runs of consecutive keys (one line each), every other resource alone."""
    numbers = {r.key: r for r in resources if r.kind == "number" and r.key.isdigit()}
    lines: list[tuple[str, list[Resource]]] = []
    for keys in runs(numbers):
        first = numbers[keys[0]]
        where = first.address if len(keys) == 1 else \
            f"{first.integration}.number[{keys[0]}..{keys[-1]}]"
        lines.append((where, [numbers[k] for k in keys]))
    lines.extend((r.address, [r]) for r in resources if r.key not in numbers
                 or r.kind != "number")
    return lines


def _capped(console: Console, lines: Sequence[T], what: str) -> Iterator[T]:
    """The first SHOWN lines, then one line saying how many more there are."""
    yield from lines[:SHOWN]
    if len(lines) > SHOWN:
        console.print(f"  [dim]... and {len(lines) - SHOWN} more {what}: `--format json` lists "
                      f"them all[/dim]")


def _describe(res: Resource) -> str:
    kind = registry.kind(res.kind)
    if kind is not None and kind.summary is not None:
        return kind.summary(res)
    return ", ".join(f"{k} {v}" for k, v in sorted(res.attrs.items()) if v is not None)


def render(ws: Workspace, plans: Sequence[ImportPlan], observed: Mapping[str, Observed],
           console: Console) -> None:
    for plan in plans:
        console.print(f"[bold]{plan.integration}[/bold] [dim]({plan.platform}): read in "
                      f"{observed[plan.integration].reads} calls, nothing changed on the "
                      f"platform[/dim]")
        for where, group in _capped(console, _blocks(plan.record), "to import"):
            first = group[0]
            what = f"import {len(group)} numbers" if len(group) > 1 else "import"
            source = f"  [dim]{first.source}[/dim]" if first.source else ""
            differs = _differs(ws, plan, first) if len(group) == 1 else []
            note = f" (differs from the specs: {', '.join(differs)}; the next plan updates it)" \
                if differs else ""
            console.print(f"  [green]+[/green] {escape(where)}  {what}{escape(note)}{source}")
        for item in _capped(console, plan.ambiguous, "ambiguous"):
            shown = ", ".join(item.remote)
            console.print(f"  [yellow]?[/yellow] {escape(shown)}  {escape(item.reason)}")
        for where, group in _capped(console, _blocks(plan.unmatched), "unmatched"):
            text = f"{len(group)} numbers" if len(group) > 1 else _describe(group[0])
            console.print(f"  [dim]·[/dim] {escape(where)}  unmatched: {escape(text)}")
        console.print()
    console.print(summary(plans))


def totals(plans: Sequence[ImportPlan]) -> dict[str, int]:
    return {k: sum(p.counts()[k] for p in plans) for k in plans[0].counts()}


def summary(plans: Sequence[ImportPlan]) -> str:
    total = totals(plans)
    line = (f"Import: {total['import']} to record as managed, {total['already_managed']} already "
            f"managed, {total['ambiguous']} ambiguous, {total['unmatched']} unmatched")
    extra = []
    if total["declared_not_on_platform"]:
        extra.append(f"{total['declared_not_on_platform']} declared but not on the platform "
                     f"(the next plan creates them)")
    if total["cancelled_ignored"]:
        extra.append(f"{total['cancelled_ignored']} cancelled records ignored")
    return line + ("; " + ", ".join(extra) if extra else "") + "."


# -- json -----------------------------------------------------------------------------------


def to_json(ws: Workspace, plans: Sequence[ImportPlan], observed: Mapping[str, Observed],
            generated: Sequence[Path]) -> dict[str, Any]:
    return {
        "format_version": 1,
        "created_at": now(),
        "integrations": [{
            "integration": p.integration,
            "platform": p.platform,
            "reads": observed[p.integration].reads,
            "counts": p.counts(),
            "import": [{**resource_json(r), "differs": _differs(ws, p, r)} for r in p.record],
            "ambiguous": [a.to_json() for a in p.ambiguous],
            "unmatched": [resource_json(r) for r in p.unmatched],
        } for p in plans],
        "generated": [str(path) for path in generated],
    }


# -- the command ----------------------------------------------------------------------------


def _generate(ws: Workspace, specs: Path, plans: Sequence[ImportPlan], directory: Path,
              force: bool, names: Sequence[str]) -> tuple[list[Path], generate.Generated]:
    header = generate.header_for(directory, f"{COMMAND} {' '.join(names)} --generate", specs)
    result = generate.generate(plans, load_specs(specs), header)
    paths = generate.write(directory, result.files, force=force) if result.files else []
    return paths, result


@main.command("import")
@workspace_options
@lock_option
@click.argument("integrations", nargs=-1, required=True, metavar="INTEGRATION...")
@click.option("--generate", "generate_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Write the objects that match nothing as spec YAML under DIR, to review.")
@click.option("--force", is_flag=True, help="With --generate: overwrite files already there.")
@click.option("--auto-approve", is_flag=True, help="Record the matches without asking.")
@click.option("--dry-run", is_flag=True, help="Show the import plan (and generate); record nothing.")
@click.option("--format", "fmt", type=click.Choice(("text", "json")), default="text",
              show_default=True, help="text for a terminal, json for machines.")
@handles_errors
def import_cmd(specs: Path, state: str | None, lock_timeout: float, integrations: tuple[str, ...],
               generate_dir: Path | None, force: bool, auto_approve: bool, dry_run: bool,
               fmt: str) -> None:
    """Record what INTEGRATION's platform already holds, matched to the specs, as managed."""
    ws = Workspace.open(specs, state)
    report = err if fmt == "json" else out
    try:
        names = [i.name for i in ws.select(integrations)]
        with locked(ws.store, "import", names, timeout=lock_timeout, warn=warn):
            known = ws.known()
            observed = run_async(_read(ws, names, known))
            platforms = ws.platforms()
            services = ws.desired.settings.get("services", {})
            plans = [match(n, platforms[n], ws.desired.resources, known, observed[n],
                           registry.get(platforms[n]).compared, services) for n in names]
            paths: list[Path] = []
            made = None
            if generate_dir is not None:
                paths, made = _generate(ws, specs, plans, generate_dir, force, integrations)
            if fmt == "json":
                emit(json.dumps(to_json(ws, plans, observed, paths), indent=2, default=str))
            else:
                render(ws, plans, observed, out)
            if made is not None:
                _say_generated(report, paths, made, specs)
            _record(ws, plans, observed, auto_approve, dry_run, report)
    finally:
        ws.close()
    sys.exit(EXIT_OK)


def _say_generated(report: Console, paths: Sequence[Path], made: generate.Generated,
                   specs: Path) -> None:
    if not paths:
        report.print("Nothing to generate: every remote object matches a declaration or needs "
                     "a decision.")
        return
    report.print(f"Wrote {made.written} unmatched objects as specs"
                 + (f" and {made.commented} as comments to complete" if made.commented else "")
                 + f": {', '.join(str(p) for p in paths)}. Review them, move them into "
                   f"{specs}/, run `reconcile validate`, then import again to take them over.")


def _record(ws: Workspace, plans: Sequence[ImportPlan], observed: Mapping[str, Observed],
            auto_approve: bool, dry_run: bool, report: Console) -> None:
    resources = [r for p in plans for r in p.record]
    if not resources:
        already = sum(p.managed for p in plans)
        report.print(f"Nothing to import: the {already} objects that match the specs are already "
                     f"managed." if already else "Nothing to import: no object on the platform "
                     "matches the specs.")
        return
    if dry_run:
        report.print(f"Dry run: {len(resources)} resources would be recorded; nothing was.")
        return
    if not auto_approve:
        confirm(f"Record these {len(resources)} resources as managed?", what="import",
                instead="(for CI, after reviewing the import plan), or --dry-run to only show it")
    run_id = ws.store.begin_run("import", ws.desired.digest)
    serial = ws.store.record(resources)
    remember(ws.store, observed, ws.known())
    ws.store.finish_run(run_id, "ok", totals(plans))
    report.print(f"Imported {len(resources)} resources into the state (serial {serial}); the "
                 f"platforms were not changed. `reconcile plan` shows what still differs.")
