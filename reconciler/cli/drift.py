"""`reconcile drift`: what the platforms hold that differs from what was last applied, how long
it has, and (`--fix`) the plan that puts it back.

One run: read every platform (resolving what a crashed apply left, as plan does), classify the
differences in the pure planner (:mod:`reconciler.planner.drift`), stamp each with when it was
first seen (kept in the state while it persists), record the run, and report. `--fix` then
narrows the full plan to the drifted addresses and their dependencies and sends it through the
same gate as `apply` (safety limits, confirmation, journal, progress). Unmanaged objects are
never part of that plan: the planner only ever removes what the state manages.

Exit codes: 0 no drift (or all of it fixed), 1 error (or a fix that failed), 2 drift found
(and, with --fix, left: unmanaged objects, a link waiting on the removal queue), 3 over a
safety limit.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from reconciler.applier import DONE, PARTIAL, ApplyResult
from reconciler.cli.app import (
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_OK,
    allow_option,
    emit,
    err,
    format_option,
    handles_errors,
    lock_option,
    main,
    max_chars_option,
    now,
    out,
    warn,
    workspace_options,
)
from reconciler.cli.plan import refresh, review_and_apply
from reconciler.errors import ReconcilerError, UnsafePlanError
from reconciler.model import Drift, Known, Note, Observed, Plan
from reconciler.planner import drift as compute_drift
from reconciler.planner import plan as compute_plan
from reconciler.planner.targeting import PARTIAL_NOTE, exactly, narrow
from reconciler.providers.base import Provider
from reconciler.render import jsonplan, markdown, text
from reconciler.runtime import Workspace, connect, run_async
from reconciler.state import StateStore
from reconciler.state.locks import locked

FIXABLE = frozenset({"changed", "missing"})  # what a plan can put back; unmanaged is reported


@dataclass
class Fix:
    """What `--fix` planned and applied, and which drifted addresses it put back."""

    plan: Plan
    result: ApplyResult
    fixed: list[str]

    def to_json(self, items: Sequence[Drift]) -> dict[str, Any]:
        return {"changes": len(self.plan.changes), "applied": self.result.summary(),
                "fixed": self.fixed,
                "not_fixed": [d.address for d in items if d.real and d.address not in self.fixed]}


@dataclass
class Report:
    """One drift run: what was found (first seen filled in), where, when, and any fix."""

    items: list[Drift]
    checked: list[str]
    at: str  # ISO 8601 UTC: when the platforms were read; ages are counted at this time
    fix: Fix | None = None
    counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for item in self.items:
            self.counts[item.kind] = self.counts.get(item.kind, 0) + 1
        self.counts["drifted"] = sum(1 for d in self.items if d.real)

    @property
    def left(self) -> list[Drift]:
        """The drift still there after this run (all of it, without --fix)."""
        fixed = set(self.fix.fixed) if self.fix is not None else set()
        return [d for d in self.items if d.real and d.address not in fixed]

    @property
    def exit_code(self) -> int:
        if self.fix is not None and not self.fix.result.ok:
            return EXIT_ERROR
        return EXIT_CHANGES if self.left else EXIT_OK

    @property
    def outcome(self) -> str:
        """The run's outcome in the run history."""
        if self.exit_code == EXIT_ERROR:
            return "failed"
        if self.left:
            return "drift"
        return "fixed" if self.fix is not None and self.fix.fixed else "clean"

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.counts)
        if self.fix is not None:
            out.update({"fixed": len(self.fix.fixed), **self.fix.result.summary()})
        return out


@main.command("drift")
@click.argument("integrations", nargs=-1)
@workspace_options
@lock_option
@format_option
@max_chars_option
@click.option("--fix", is_flag=True,
              help="Apply the plan that puts changed and missing resources back (safety limits "
                   "and confirmation as apply); unmanaged objects are only reported.")
@click.option("--auto-approve", is_flag=True, help="With --fix: apply without asking.")
@allow_option
@handles_errors
def drift_cmd(integrations: tuple[str, ...], specs: Path, state: str | None, lock_timeout: float,
              fmt: str, max_chars: int, fix: bool, auto_approve: bool,
              allow: dict[str, int]) -> None:
    """Report what the platforms hold (all, or the named INTEGRATIONS) that differs from what
    was last applied (exit 2 if any); with --fix, put it back."""
    ws = Workspace.open(specs, state)
    # With json or markdown, stdout carries that document only: the fix talks on stderr.
    console = out if fmt == "text" else err
    try:
        scope = [i.name for i in ws.select(integrations or None)]
        with locked(ws.store, "drift", scope, timeout=lock_timeout, warn=warn):
            run_id = ws.store.begin_run("drift")
            try:
                report = run_async(_run(ws, integrations, run_id, fmt, fix, auto_approve,
                                          allow, console))
            except ReconcilerError as exc:
                refused = isinstance(exc, UnsafePlanError)
                ws.store.finish_run(run_id, "over-limit" if refused else "failed",
                                    {"error": type(exc).__name__})
                raise
            ws.store.finish_run(run_id, report.outcome, report.summary())
    finally:
        ws.close()
    _emit(report, fmt, max_chars, console)
    sys.exit(report.exit_code)


async def _run(ws: Workspace, integrations: Sequence[str], run_id: int, fmt: str, fix: bool,
               auto_approve: bool, allow: Mapping[str, int], console: Console) -> Report:
    known = ws.known()
    async with connect(ws.select(integrations or None), ws.state_dir) as providers:
        observed = await refresh(ws, providers, known)
        at = now()
        checked = sorted(observed)
        found = compute_drift(known, observed, ws.platforms(), ws.desired)
        report = Report(stamp(ws.store, found, checked, at), checked, at)
        if fmt == "text":
            text.render_drift(report.items, checked, out, now=at)
        if fix:
            report.fix = await _fix(ws, report.items, providers, known, observed, allow,
                                    auto_approve, run_id, console)
            if report.fix is not None:
                stamp(ws.store, [d for d in found if d.address not in report.fix.fixed],
                      checked, at)  # what was put back is no longer drift: its age restarts
    return report


def stamp(store: StateStore, items: Sequence[Drift], checked: Sequence[str], at: str) -> list[Drift]:
    """The items with ``first_seen`` from the state, recording the new ones and clearing, for
    the checked integrations, the drift no longer found."""
    moment = datetime.fromisoformat(at).astimezone(UTC).replace(tzinfo=None)
    first = store.drift_seen(((d.address, d.kind, d.integration) for d in items), checked,
                             now=moment)
    return [replace(d, first_seen=first[(d.address, d.kind)].replace(tzinfo=UTC)
                    .isoformat(timespec="seconds")) for d in items]


async def _fix(ws: Workspace, items: Sequence[Drift], providers: Mapping[str, Provider],
               known: Known, observed: Mapping[str, Observed], allow: Mapping[str, int],
               auto_approve: bool, run_id: int, console: Console) -> Fix | None:
    """Plan, narrow to the drifted addresses, and apply through apply's own gate."""
    targets = sorted({d.address for d in items if d.kind in FIXABLE})
    if not targets:
        if any(d.kind == "unmanaged" for d in items):
            console.print("Nothing for --fix to put back: unmanaged objects are only reported "
                          "(remove them on the platform, or declare them in the specs).")
        return None
    plan = narrow(compute_plan(ws.desired, known, observed, only=frozenset(observed)),
                  [exactly(a) for a in targets],
                  universe=targets)
    caveat = Note(PARTIAL_NOTE, "", f"this plan only puts back the {len(targets)} drifted "
                                f"resources (and what they depend on); `reconcile plan` shows "
                                f"every change the specs call for")
    plan = replace(plan, warnings=(*(w for w in plan.warnings if w.address != PARTIAL_NOTE), caveat))
    console.print(f"\n[bold]Fix:[/bold] the plan that puts back {len(targets)} drifted "
                  f"resource{'s' if len(targets) != 1 else ''}\n")
    result = await review_and_apply(ws, plan, providers, known, observed, allow=allow,
                                    auto_approve=auto_approve, run_id=run_id, console=console)
    if not plan.empty:
        text.render_apply_result(result, console)
    return Fix(plan, result, _put_back(plan, result, targets))


def _put_back(plan: Plan, result: ApplyResult, targets: Sequence[str]) -> list[str]:
    """The targets the applied plan put back: touched by a change that landed (for a block
    that partly failed, by its keys that landed), adopted, or forgotten."""
    done = {r.address for r in plan.adopt} | set(plan.forget)
    for outcome in result.outcomes:
        change = outcome.change
        if outcome.status == DONE:
            done.update(change.addresses())
        elif outcome.status == PARTIAL:
            done.update(a for k, a in zip(change.keys, change.addresses(), strict=True)
                        if k not in outcome.failed_keys)
    return [t for t in targets if t in done]


def _emit(report: Report, fmt: str, max_chars: int, console: Console) -> None:
    """The report in the chosen format (text was printed before any fix), then the fix's word."""
    fix = report.fix
    if fmt == "json":
        data = jsonplan.drift_to_json(report.items, checked=report.checked, created_at=report.at,
                                      fix=fix.to_json(report.items) if fix else None)
        emit(json.dumps(data, indent=2))
    elif fmt == "markdown":
        emit(markdown.render_drift(report.items, report.checked, now=report.at,
                                         max_chars=max_chars))
    if fix is not None:
        left = report.left
        rest = (f"; {len(left)} still drifted: {', '.join(d.address for d in left[:5])}"
                f"{' ...' if len(left) > 5 else ''}" if left else "")
        console.print(f"[bold]Fixed:[/bold] {len(fix.fixed)} of "
                      f"{sum(1 for d in report.items if d.kind in FIXABLE)} changed or missing "
                      f"resources put back{rest}.")
