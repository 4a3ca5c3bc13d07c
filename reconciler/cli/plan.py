"""`reconcile plan` and `reconcile apply`: read the platforms, plan, and carry a plan out."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import chain
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from reconciler import __version__, planfile, safety
from reconciler.applier import ApplyResult, apply
from reconciler.cli.app import (
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_OK,
    allow_option,
    confirm,
    emit,
    err,
    format_option,
    handles_errors,
    lock_option,
    main,
    max_chars_option,
    now,
    out,
    parse_duration,
    spec_warnings,
    warn,
    workspace_options,
)
from reconciler.errors import PlanFileError, ReconcilerError, StalePlanError, UnsafePlanError
from reconciler.model import Known, Observed, Plan
from reconciler.planner import plan as compute_plan
from reconciler.planner import touched
from reconciler.planner.targeting import (
    as_options,
    integrations_for,
    narrow,
    parse,
    service_index,
)
from reconciler.providers.base import Provider
from reconciler.render import jsonplan, markdown, text
from reconciler.render.progress import ApplyProgress
from reconciler.runtime import (
    Workspace,
    connect,
    observe,
    observe_unlisted,
    recover,
    remember,
    run_async,
)
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
    """Read the platforms (and what their listings cannot show, by key), resolve what a crashed
    apply left unfinished, keep catalogs and facts."""
    observed = await observe_unlisted(providers, await observe(providers), ws.store, known)
    for line in recover(ws.store, observed):
        warn(f"recovered a change an earlier apply left unfinished: {line}")
    remember(ws.store, observed, known)
    return observed


def target_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--target and --exclude (repeatable), shared by plan and apply."""
    func = click.option(
        "--exclude", "excludes", multiple=True, metavar="ADDRESS",
        help="Leave out what ADDRESS matches, and the changes that depend on it (repeatable).",
    )(func)
    return click.option(
        "--target", "targets", multiple=True, metavar="ADDRESS",
        help="Plan only what ADDRESS matches, and what it depends on: INTEGRATION, "
             'INTEGRATION.KIND, INTEGRATION.KIND["KEY"], with * globs, or service:ID '
             "(repeatable). The plan is partial.",
    )(func)


@dataclass(frozen=True)
class Scope:
    """What --target/--exclude ask of one run: the patterns, the integrations to read (None:
    all) and which client service each resource belongs to (for service:ID)."""

    targets: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    only: frozenset[str] | None = None
    services: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, ws: Workspace, known: Known, targets: Sequence[str],
           excludes: Sequence[str]) -> Scope:
        if not targets and not excludes:
            return cls()
        services = service_index(chain(ws.desired.resources.values(), known.resources.values()))
        only = integrations_for(targets, excludes, ws.desired.integrations, services)
        return cls(tuple(targets), tuple(excludes), only, services)

    def plan(self, ws: Workspace, known: Known, observed: Mapping[str, Observed]) -> Plan:
        """The plan of the integrations read, narrowed to the patterns."""
        full = compute_plan(ws.desired, known, observed, only=self.only)
        if not self.targets and not self.excludes:
            return full
        universe = {*ws.desired.resources, *known.resources,
                    *(a for o in observed.values() for a in o.resources)}
        return narrow(full, self.targets, self.excludes, services=self.services,
                      universe=universe)


def lock_scope(ws: Workspace, targets: Sequence[str] = (),
               excludes: Sequence[str] = ()) -> list[str]:
    """The integrations a run with these patterns reads and writes, whose locks it takes
    before reading the state: a ``service:ID`` pattern may reach any of them, so it takes all."""
    declared = ws.desired.integrations
    if any(parse(t).service is not None for t in targets):
        return sorted(declared)
    only = integrations_for(targets, excludes, declared)
    return sorted(declared if only is None else only)


async def _observe_and_plan(
    ws: Workspace, targets: Sequence[str] = (), excludes: Sequence[str] = ()
) -> tuple[Plan, Known, dict[str, Observed]]:
    known = ws.known()
    scope = Scope.of(ws, known, targets, excludes)
    async with connect(ws.select(scope.only), ws.state_dir) as providers:
        observed = await refresh(ws, providers, known)
    return scope.plan(ws, known, observed), known, observed


def _show_plan(ws: Workspace, plan: Plan, fmt: str, known: Known,
               observed: Mapping[str, Observed], allow: Mapping[str, int],
               max_chars: int = markdown.MAX_CHARS) -> None:
    if fmt == "json":
        emit(json.dumps(jsonplan.plan_to_json(plan, created_at=now()), indent=2))
    elif fmt == "markdown":
        emit(markdown.render_plan(
            plan, platforms=ws.platforms(), max_chars=max_chars,
            limits=safety.usage(plan, known, observed, ws.desired, allow),
            refused=safety.check(plan, known, observed, ws.desired, allow)))
    else:
        text.render_plan(plan, out, platforms=ws.platforms())


def _write_plan(ws: Workspace, plan: Plan, path: Path, ttl: float) -> None:
    """Write the plan file, its digest recorded in the state first: apply takes no other."""
    data = jsonplan.plan_to_json(plan, created_at=now(), expires_at=now(ttl))
    raw = planfile.encode(data)
    ws.store.record_plan_file(planfile.digest(raw), serial=plan.fingerprint.serial,
                              created_at=data["created_at"],
                              expires_at=datetime.fromisoformat(data["expires_at"]),
                              fields=planfile.field_digests(data))
    try:
        path.write_bytes(raw)
    except OSError as exc:
        raise ReconcilerError(f"cannot write plan file {path}: {exc.strerror or exc}") from None


@main.command("plan")
@workspace_options
@lock_option
@click.option("--out", "out_file", type=click.Path(path_type=Path), help="Save the plan to FILE.")
@format_option
@max_chars_option
@click.option("--detailed-exitcode", is_flag=True,
              help="Exit 2 when there are changes, 0 when none (1 on error).")
@click.option("--ttl", default="24h", show_default=True, callback=parse_duration,
              help="How long a saved plan may be applied (30m, 24h...).")
@allow_option
@target_options
@handles_errors
def plan_cmd(specs: Path, state: str | None, lock_timeout: float, out_file: Path | None,
             fmt: str, detailed_exitcode: bool, ttl: float, allow: dict[str, int],
             max_chars: int = markdown.MAX_CHARS, targets: tuple[str, ...] = (),
             excludes: tuple[str, ...] = ()) -> None:
    """Show what apply would change on each platform, and why."""
    ws = Workspace.open(specs, state)
    spec_warnings(ws.desired.settings)
    try:
        with locked(ws.store, "plan", lock_scope(ws, targets, excludes), timeout=lock_timeout,
                    warn=warn):
            plan, known, observed = run_async(_observe_and_plan(ws, targets, excludes))
        _show_plan(ws, plan, fmt, known, observed, allow, max_chars)
        if out_file is not None:
            _write_plan(ws, plan, out_file, ttl)
            # With json or markdown, stdout is that document only: `> plan.md` in CI.
            (out if fmt == "text" else err).print(
                f"Saved the plan to {out_file}: `reconcile apply {out_file}` applies "
                f"exactly this plan.")
        check_safety(ws, plan, known, observed, allow)
    finally:
        ws.close()
    sys.exit(EXIT_CHANGES if detailed_exitcode and not plan.empty else EXIT_OK)


# -- apply ------------------------------------------------------------------------------


def _read_planfile(path: Path) -> tuple[Plan, planfile.PlanFile]:
    """A saved plan, refused unless it is a plan file of the schema, of this tool, still valid
    (then :func:`_check_planfile` holds it to the state, under the lock)."""
    saved = planfile.read(path)
    data = saved.data
    plan = jsonplan.plan_from_json(data, path=str(path))
    redo = f"run `reconcile plan --out {path}` again, review it, then apply it"
    if data["tool_version"] != __version__:
        raise StalePlanError(f"plan file {path} was made by reconcile "
                             f"{planfile.clip(data['tool_version'])}, this is {__version__}: {redo}")
    expires = saved.time("expires_at")
    if expires and expires <= datetime.now(UTC):
        raise StalePlanError(f"plan file {path} expired at {data['expires_at']} (made at "
                             f"{data['created_at']}; see plan --ttl): {redo}")
    return plan, saved


def _check_planfile(plan: Plan, saved: planfile.PlanFile, ws: Workspace) -> None:
    """Refuse a saved plan unless it was made against this state and these specs, and is byte
    for byte the file `plan --out` wrote."""
    redo = f"run `reconcile plan --out {saved.path}` again, review it, then apply it"
    _check_fresh(plan, ws, saved.path, redo)
    _check_recorded(saved, ws, redo)


def _check_recorded(saved: planfile.PlanFile, ws: Workspace, redo: str) -> None:
    """Refuse a plan file whose bytes are not those of a plan file `plan --out` recorded in
    this state, naming the fields edited when the file it was made from is known."""
    if ws.store.plan_file(saved.digest) is not None:
        return
    fields = planfile.field_digests(saved.data)
    edits = [sorted(key for key in {*row.fields, *fields} if row.fields.get(key) != fields.get(key))
             for row in ws.store.plan_files_made_at(saved.data["created_at"])]
    if not edits:
        what = f"its sha256 {saved.digest[:12]}... is not among the plan files this state recorded"
    elif edited := min(edits, key=len):  # the file it was most likely made from
        what = f"{', '.join(edited)} differ{'s' if len(edited) == 1 else ''} from the file written"
    else:
        what = "no field differs from the file written, but its bytes do (reformatted?)"
    raise PlanFileError(f"plan file {saved.path} was not produced by `reconcile plan` against "
                        f"this state, or was edited after: {what}: {redo}")


def _check_fresh(plan: Plan, ws: Workspace, path: Path, redo: str) -> None:
    """Refuse a saved plan made against another state or spec set."""
    known, fp = ws.known(), plan.fingerprint
    if fp.lineage != known.lineage:
        raise StalePlanError(f"plan file {path} was made against another state (lineage "
                             f"{planfile.clip(fp.lineage)}, this state is {known.lineage}): {redo}")
    only = Scope.of(ws, known, plan.targets, plan.excludes).only  # a partial plan: its own
    serial = known.serial_of(only)
    if fp.serial != serial:
        where = f" (on {', '.join(sorted(only))}, which it plans)" if only is not None else ""
        raise StalePlanError(f"plan file {path} is stale: the state moved from serial {fp.serial} "
                             f"to {serial}{where} since it was made: {redo}")
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


def _check_same(saved: planfile.PlanFile, plan: Plan) -> None:
    """Refuse a saved plan unless the plan made again now, from the same state, specs and
    platforms (and the same --target/--exclude), equals it in all that drives apply."""
    now_doc = json.loads(planfile.encode(jsonplan.plan_to_json(plan, created_at=now())))
    found = planfile.differences(saved.data, now_doc)
    if found:
        more = f"; and {len(found) - planfile.SHOWN} more" if len(found) > planfile.SHOWN else ""
        raise StalePlanError(
            f"plan file {saved.path} is stale: the plan made now from the same state and specs "
            f"differs from it, so nothing was applied: {'; '.join(found[:planfile.SHOWN])}{more}; "
            f"run `reconcile plan --out {saved.path}` again, review it, then apply it")


async def _apply(
    ws: Workspace, saved: tuple[Plan, planfile.PlanFile] | None, auto_approve: bool,
    run_id: int, allow: dict[str, int], targets: Sequence[str] = (),
    excludes: Sequence[str] = (),
) -> tuple[Plan, ApplyResult]:
    known = ws.known()
    if saved is not None:  # planned again as it was: with the patterns it was narrowed with
        targets, excludes = saved[0].targets, saved[0].excludes
    scope = Scope.of(ws, known, targets, excludes)
    async with connect(ws.select(scope.only), ws.state_dir) as providers:
        observed = await refresh(ws, providers, known)
        plan = scope.plan(ws, known, observed)
        if saved is None:
            result = await review_and_apply(ws, plan, providers, known, observed, allow=allow,
                                            auto_approve=auto_approve, run_id=run_id)
            return plan, result
        _check_remote(saved[0], observed)
        _check_same(saved[1], plan)  # so what runs is the plan made now, equal to the file's
        check_safety(ws, plan, known, observed, allow)
        result = await apply_with_progress(ws, plan, providers, run_id)
    return plan, result


async def review_and_apply(
    ws: Workspace, plan: Plan, providers: Mapping[str, Provider], known: Known,
    observed: Mapping[str, Observed], *, allow: Mapping[str, int], auto_approve: bool,
    run_id: int, console: Console = out,
) -> ApplyResult:
    """Show a plan just computed, hold it to the safety limits, ask for the operator's "yes"
    (or --auto-approve), then apply it: `apply` without a plan file, and `drift --fix` with
    the plan narrowed to the drift, go through this one gate."""
    text.render_plan(plan, console, platforms=ws.platforms())
    if plan.empty:
        return ApplyResult()
    check_safety(ws, plan, known, observed, allow)
    if not auto_approve:
        confirm("Apply these changes?", what="apply",
                instead="(for CI, after reviewing the plan)")
    return await apply_with_progress(ws, plan, providers, run_id, console)


async def apply_with_progress(ws: Workspace, plan: Plan, providers: Mapping[str, Provider],
                              run_id: int, console: Console = out) -> ApplyResult:
    """Apply a plan, journaled under ``run_id``, with a progress bar (or lines) on console."""
    with ApplyProgress(console, plan) as progress:
        return await apply(plan, providers, ws.store, concurrency=ws.concurrency(),
                           on_outcome=progress, run_id=run_id)


@main.command("apply")
@workspace_options
@lock_option
@click.argument("planfile", required=False, type=click.Path(path_type=Path))
@click.option("--auto-approve", is_flag=True, help="Apply without asking for confirmation.")
@allow_option
@target_options
@handles_errors
def apply_cmd(specs: Path, state: str | None, lock_timeout: float, planfile: Path | None,
              auto_approve: bool, allow: dict[str, int], targets: tuple[str, ...] = (),
              excludes: tuple[str, ...] = ()) -> None:
    """Make the platforms match the specs (or carry out a saved PLANFILE)."""
    if planfile is not None and (targets or excludes):
        raise ReconcilerError(
            "a saved plan is applied exactly as it was saved, so --target/--exclude do not go "
            f"with PLANFILE: run `reconcile plan --target ... --out {planfile}` to save a "
            "partial plan, or `reconcile apply --target ...` without a plan file")
    ws = Workspace.open(specs, state)
    try:
        saved = _read_planfile(planfile) if planfile is not None else None
        scope = lock_scope(ws, *((saved[0].targets, saved[0].excludes) if saved else
                                 (targets, excludes)))
        with locked(ws.store, "apply", scope, timeout=lock_timeout, warn=warn):
            if saved is not None:
                _check_planfile(*saved, ws)
            if saved is not None and saved[0].partial:
                warn(f"{planfile} is a partial plan ({as_options(saved[0].targets, saved[0].excludes)}): "
                     f"other changes the specs call for are not in it")
            run_id = ws.store.begin_run("apply", saved[1].digest if saved else None)
            plan, result = run_async(_apply(ws, saved, auto_approve, run_id, allow,
                                              targets, excludes))
            outcome = "ok" if result.ok else "failed"
            ws.store.finish_run(run_id, outcome, {**plan.counts(), **result.summary()})
        if not plan.empty:
            text.render_apply_result(result, out)
    finally:
        ws.close()
    sys.exit(EXIT_OK if result.ok else EXIT_ERROR)
