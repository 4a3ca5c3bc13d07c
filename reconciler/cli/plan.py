"""`reconcile plan` and `reconcile apply`: read the platforms, plan, and carry a plan out."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import click

from reconciler import __version__, safety
from reconciler.applier import ApplyResult, apply
from reconciler.cli.app import (
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_OK,
    allow_option,
    format_option,
    handles_errors,
    lock_option,
    main,
    now,
    out,
    parse_duration,
    warn,
    workspace_options,
)
from reconciler.errors import ReconcilerError, StalePlanError, UnsafePlanError
from reconciler.model import Known, Observed, Plan
from reconciler.planner import plan as compute_plan
from reconciler.planner import touched
from reconciler.providers.base import Provider
from reconciler.render import jsonplan, text
from reconciler.render.progress import ApplyProgress
from reconciler.runtime import Workspace, connect, observe, recover, remember
from reconciler.state.locks import locked


def check_safety(ws: Workspace, plan: Plan, known: Known, observed: Mapping[str, Observed],
                 allow: Mapping[str, int]) -> None:
    violations = safety.check(plan, known, observed, ws.desired, allow)
    if violations:
        lines = "\n".join(f"  - {v.message}" for v in violations)
        raise UnsafePlanError(f"the plan goes over the safety limits, so nothing was applied:\n"
                              f"{lines}")


async def refresh(ws: Workspace, providers: Mapping[str, Provider],
                   known: Known) -> dict[str, Observed]:
    """Read the platforms, resolve what a crashed apply left unfinished, keep catalogs and facts."""
    observed = await observe(providers)
    for line in recover(ws.store, observed):
        warn(f"recovered a change an earlier apply left unfinished: {line}")
    remember(ws.store, observed, known)
    return observed


async def _observe_and_plan(ws: Workspace) -> tuple[Plan, Known, dict[str, Observed]]:
    known = ws.known()
    async with connect(ws.select(), ws.state_dir) as providers:
        observed = await refresh(ws, providers, known)
    return compute_plan(ws.desired, known, observed), known, observed


def _show_plan(ws: Workspace, plan: Plan, fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(jsonplan.plan_to_json(plan, created_at=now()), indent=2))
    else:
        text.render_plan(plan, out, platforms=ws.platforms())


def _write_plan(plan: Plan, path: Path, ttl: float) -> None:
    data = jsonplan.plan_to_json(plan, created_at=now(), expires_at=now(ttl))
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


@main.command("plan")
@workspace_options
@lock_option
@click.option("--out", "out_file", type=click.Path(path_type=Path), help="Save the plan to FILE.")
@format_option
@click.option("--detailed-exitcode", is_flag=True,
              help="Exit 2 when there are changes, 0 when none (1 on error).")
@click.option("--ttl", default="24h", show_default=True, callback=parse_duration,
              help="How long a saved plan may be applied (30m, 24h...).")
@allow_option
@handles_errors
def plan_cmd(specs: Path, state: str | None, lock_timeout: float, out_file: Path | None,
             fmt: str, detailed_exitcode: bool, ttl: float, allow: dict[str, int]) -> None:
    """Show what apply would change on each platform, and why."""
    ws = Workspace.open(specs, state)
    try:
        with locked(ws.store, "plan", timeout=lock_timeout, warn=warn):
            plan, known, observed = asyncio.run(_observe_and_plan(ws))
        _show_plan(ws, plan, fmt)
        if out_file is not None:
            _write_plan(plan, out_file, ttl)
            if fmt == "text":
                out.print(f"Saved the plan to {out_file}: `reconcile apply {out_file}` applies "
                          f"exactly this plan.")
        check_safety(ws, plan, known, observed, allow)
    finally:
        ws.close()
    sys.exit(EXIT_CHANGES if detailed_exitcode and not plan.empty else EXIT_OK)


# -- apply ------------------------------------------------------------------------------


def _load_planfile(path: Path, ws: Workspace) -> Plan:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StalePlanError(f"cannot read plan file {path}: {exc}") from None
    plan = jsonplan.plan_from_json(data, path=str(path))
    redo = f"run `reconcile plan --out {path}` again, review it, then apply it"
    if data.get("tool_version") != __version__:
        raise StalePlanError(f"plan file {path} was made by reconcile {data.get('tool_version')}, "
                             f"this is {__version__}: {redo}")
    expires = data.get("expires_at")
    if expires and datetime.fromisoformat(expires) <= datetime.now(UTC):
        raise StalePlanError(f"plan file {path} expired at {expires} (made at "
                             f"{data.get('created_at')}; see plan --ttl): {redo}")
    _check_fresh(plan, ws, path, redo)
    return plan


def _check_fresh(plan: Plan, ws: Workspace, path: Path, redo: str) -> None:
    """Refuse a saved plan made against another state or spec set."""
    known, fp = ws.known(), plan.fingerprint
    if fp.lineage != known.lineage:
        raise StalePlanError(f"plan file {path} was made against another state (lineage "
                             f"{fp.lineage}, this state is {known.lineage}): {redo}")
    if fp.serial != known.serial:
        raise StalePlanError(f"plan file {path} is stale: the state moved from serial {fp.serial} "
                             f"to {known.serial} since it was made: {redo}")
    if fp.specs_digest != ws.desired.digest:
        raise StalePlanError(f"plan file {path} was made from other specs: the spec files "
                             f"changed since: {redo}")


def _check_remote(plan: Plan, observed: Mapping[str, Observed]) -> None:
    """Refuse a saved plan when an object it touches changed on the platform since."""
    now = touched(plan.changes, observed)
    moved = sorted(a for a, was in plan.touched.items() if now.get(a, was) != was)
    if moved:
        shown = ", ".join(moved[:5]) + (f" and {len(moved) - 5} more" if len(moved) > 5 else "")
        raise StalePlanError(f"the saved plan is stale: {len(moved)} object(s) it touches changed "
                             f"on the platform since it was made: {shown}; run `reconcile plan "
                             f"--out FILE` again, review it, then apply it")


def _confirm(plan: Plan, auto_approve: bool) -> None:
    if auto_approve:
        return
    if not sys.stdin.isatty():
        raise ReconcilerError("apply needs a confirmation: run it on a terminal, or pass "
                              "--auto-approve (for CI, after reviewing the plan)")
    answer = click.prompt("\nApply these changes? Only 'yes' is accepted", default="",
                          show_default=False)
    if answer.strip() != "yes":
        raise ReconcilerError("apply cancelled: nothing was changed")


async def _apply(
    ws: Workspace, plan: Plan | None, auto_approve: bool, run_id: int, allow: dict[str, int]
) -> tuple[Plan, ApplyResult]:
    known = ws.known()
    names = plan.integrations if plan is not None else None
    async with connect(ws.select(names), ws.state_dir) as providers:
        observed = await refresh(ws, providers, known)
        if plan is None:
            plan = compute_plan(ws.desired, known, observed)
            text.render_plan(plan, out, platforms=ws.platforms())
            if plan.empty:
                return plan, ApplyResult()
            check_safety(ws, plan, known, observed, allow)
            _confirm(plan, auto_approve)
        else:
            _check_remote(plan, observed)
            check_safety(ws, plan, known, observed, allow)
        with ApplyProgress(out, plan) as progress:
            result = await apply(plan, providers, ws.store, concurrency=ws.concurrency(),
                                 on_outcome=progress, run_id=run_id)
    return plan, result


@main.command("apply")
@workspace_options
@lock_option
@click.argument("planfile", required=False, type=click.Path(path_type=Path))
@click.option("--auto-approve", is_flag=True, help="Apply without asking for confirmation.")
@allow_option
@handles_errors
def apply_cmd(specs: Path, state: str | None, lock_timeout: float, planfile: Path | None,
              auto_approve: bool, allow: dict[str, int]) -> None:
    """Make the platforms match the specs (or carry out a saved PLANFILE)."""
    ws = Workspace.open(specs, state)
    try:
        with locked(ws.store, "apply", timeout=lock_timeout, warn=warn):
            saved = _load_planfile(planfile, ws) if planfile is not None else None
            run_id = ws.store.begin_run("apply", saved.fingerprint.specs_digest if saved else None)
            plan, result = asyncio.run(_apply(ws, saved, auto_approve, run_id, allow))
            outcome = "ok" if result.ok else "failed"
            ws.store.finish_run(run_id, outcome, {**plan.counts(), **result.summary()})
        if not plan.empty:
            text.render_apply_result(result, out)
    finally:
        ws.close()
    sys.exit(EXIT_OK if result.ok else EXIT_ERROR)
