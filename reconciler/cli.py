"""The `reconcile` command: parse options, call the core, render, and exit with a clear code.

Exit codes (as Terraform's -detailed-exitcode): 0 success and nothing to do, 1 error,
2 success with changes present (plan --detailed-exitcode) or drift found (drift).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape

from reconciler import __version__, safety
from reconciler.applier import ApplyResult, apply
from reconciler.errors import (
    ReconcilerError,
    SpecError,
    StalePlanError,
    UnsafePlanError,
)
from reconciler.model import Integration, Known, Observed, Plan
from reconciler.planner import drift as compute_drift
from reconciler.planner import plan as compute_plan
from reconciler.planner import touched
from reconciler.providers.base import Health, Provider
from reconciler.render import jsonplan, text
from reconciler.render.progress import ApplyProgress
from reconciler.runtime import (
    Workspace,
    connect,
    keep_catalogs,
    observe,
    recover,
    remember,
)
from reconciler.secrets import redact
from reconciler.sim import SIMULATORS
from reconciler.specs.catalogs import catalog_problems
from reconciler.state import StateStore, locks, state_url
from reconciler.state.locks import locked

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2
F = TypeVar("F", bound=Callable[..., Any])

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class _RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = ()
        return True


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_RedactingFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    logging.getLogger("httpx").setLevel(max(level, logging.WARNING))


def handles_errors(func: F) -> F:
    """Turn project errors into one clear message and their exit code; never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ReconcilerError as exc:
            err.print(f"[red]Error:[/red] {escape(redact(str(exc)))}")
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            err.print("[red]Interrupted.[/red]")
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


def parse_duration(_ctx: object, _param: object, value: str) -> float:
    """'30', '30s', '2m' or '1h' as seconds."""
    text = value.strip().lower()
    units = {"s": 1, "m": 60, "h": 3600}
    try:
        if text and text[-1] in units:
            return float(text[:-1]) * units[text[-1]]
        return float(text)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a duration such as 30s, 2m or 1h") from None


def parse_allow(_ctx: object, _param: object, values: tuple[str, ...]) -> dict[str, int]:
    """--allow LIMIT=N, repeatable, as {LIMIT: N}."""
    allowed: dict[str, int] = {}
    for value in values:
        name, _, count = value.partition("=")
        if not name or not count.strip().isdigit():
            raise click.BadParameter(f"{value!r} is not LIMIT=N, e.g. stfc-sp.unlink=412")
        allowed[name.strip()] = int(count)
    return allowed


def allow_option(func: F) -> F:
    return click.option(
        "--allow", "allow", multiple=True, callback=parse_allow, metavar="LIMIT=N",
        help="Accept going over a safety limit by exactly N (e.g. stfc-sp.unlink=412); repeatable.",
    )(func)


def _check_safety(ws: Workspace, plan: Plan, known: Known, observed: Mapping[str, Observed],
                  allow: Mapping[str, int]) -> None:
    violations = safety.check(plan, known, observed, ws.desired, allow)
    if violations:
        lines = "\n".join(f"  - {v.message}" for v in violations)
        raise UnsafePlanError(f"the plan goes over the safety limits, so nothing was applied:\n"
                              f"{lines}")


def lock_option(func: F) -> F:
    return click.option(
        "--lock-timeout", default="0s", show_default=True, callback=parse_duration,
        help="How long to wait for another run's lock on the state (30s, 2m...).",
    )(func)


def state_option(func: F) -> F:
    return click.option(
        "--state", "state", envvar="RECONCILER_STATE", metavar="URL",
        help="State database URL (default sqlite:///state/reconciler.db; env RECONCILER_STATE).",
    )(func)


def workspace_options(func: F) -> F:
    func = state_option(func)
    func = click.option(
        "--specs", "specs", envvar="RECONCILER_SPECS", default="specs", show_default=True,
        type=click.Path(path_type=Path), help="Directory of spec files (env RECONCILER_SPECS).",
    )(func)
    return func


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="reconcile")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
def main(verbose: int) -> None:
    """Keep an ISP's third-party platforms in line with the specs declared in git."""
    _setup_logging(verbose)


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
    out.print(
        f"[green]Valid:[/green] {len(desired.integrations)} integrations, "
        f"{kinds.get('number', 0)} numbers in ranges, {len(services)} client services, "
        f"{kinds.get('link', 0)} number assignments, {kinds.get('subscription', 0)} content "
        f"subscriptions in {specs}."
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

        verdicts = asyncio.run(run())
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
        with locked(ws.store, "sync", timeout=lock_timeout, warn=_warn):
            selected = ws.select(integrations or None)

            async def run() -> dict[str, Mapping[str, Any]]:
                async with connect(selected, ws.state_dir) as providers:
                    names = sorted(providers)
                    found = await asyncio.gather(*(providers[n].catalogs() for n in names))
                    return dict(zip(names, found, strict=True))

            catalogs = asyncio.run(run())
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


# -- plan -------------------------------------------------------------------------------


def _now(after: float = 0.0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=after)).isoformat(timespec="seconds")


async def _refresh(ws: Workspace, providers: Mapping[str, Provider],
                   known: Known) -> dict[str, Observed]:
    """Read the platforms, resolve what a crashed apply left unfinished, keep catalogs and facts."""
    observed = await observe(providers)
    for line in recover(ws.store, observed):
        _warn(f"recovered a change an earlier apply left unfinished: {line}")
    remember(ws.store, observed, known)
    return observed


async def _observe_and_plan(ws: Workspace) -> tuple[Plan, Known, dict[str, Observed]]:
    known = ws.known()
    async with connect(ws.select(), ws.state_dir) as providers:
        observed = await _refresh(ws, providers, known)
    return compute_plan(ws.desired, known, observed), known, observed


def _show_plan(ws: Workspace, plan: Plan, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(jsonplan.plan_to_json(plan, created_at=_now()), indent=2))
    else:
        text.render_plan(plan, out, platforms=ws.platforms())


def _write_plan(plan: Plan, path: Path, ttl: float) -> None:
    data = jsonplan.plan_to_json(plan, created_at=_now(), expires_at=_now(ttl))
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


@main.command("plan")
@workspace_options
@lock_option
@click.option("--out", "out_file", type=click.Path(path_type=Path), help="Save the plan to FILE.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON (docs/json.md).")
@click.option("--detailed-exitcode", is_flag=True,
              help="Exit 2 when there are changes, 0 when none (1 on error).")
@click.option("--ttl", default="24h", show_default=True, callback=parse_duration,
              help="How long a saved plan may be applied (30m, 24h...).")
@allow_option
@handles_errors
def plan_cmd(specs: Path, state: str | None, lock_timeout: float, out_file: Path | None,
             as_json: bool, detailed_exitcode: bool, ttl: float, allow: dict[str, int]) -> None:
    """Show what apply would change on each platform, and why."""
    ws = Workspace.open(specs, state)
    try:
        with locked(ws.store, "plan", timeout=lock_timeout, warn=_warn):
            plan, known, observed = asyncio.run(_observe_and_plan(ws))
        _show_plan(ws, plan, as_json)
        if out_file is not None:
            _write_plan(plan, out_file, ttl)
            if not as_json:
                out.print(f"Saved the plan to {out_file}: `reconcile apply {out_file}` applies "
                          f"exactly this plan.")
        _check_safety(ws, plan, known, observed, allow)
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
        observed = await _refresh(ws, providers, known)
        if plan is None:
            plan = compute_plan(ws.desired, known, observed)
            text.render_plan(plan, out, platforms=ws.platforms())
            if plan.empty:
                return plan, ApplyResult()
            _check_safety(ws, plan, known, observed, allow)
            _confirm(plan, auto_approve)
        else:
            _check_remote(plan, observed)
            _check_safety(ws, plan, known, observed, allow)
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
        with locked(ws.store, "apply", timeout=lock_timeout, warn=_warn):
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


# -- drift ------------------------------------------------------------------------------


@main.command("drift")
@workspace_options
@lock_option
@click.option("--json", "as_json", is_flag=True, help="Print the drift report as JSON.")
@handles_errors
def drift_cmd(specs: Path, state: str | None, lock_timeout: float, as_json: bool) -> None:
    """Report what the platforms hold that differs from what was last applied (exit 2 if any)."""
    ws = Workspace.open(specs, state)
    try:
        with locked(ws.store, "drift", timeout=lock_timeout, warn=_warn):
            known = ws.known()

            async def run() -> dict[str, Observed]:
                async with connect(ws.select(), ws.state_dir) as providers:
                    return await _refresh(ws, providers, known)

            observed = asyncio.run(run())
            items = compute_drift(known, observed, ws.platforms())
    finally:
        ws.close()
    if as_json:
        click.echo(json.dumps(jsonplan.drift_to_json(items, checked=sorted(observed),
                                                      created_at=_now()), indent=2))
    else:
        text.render_drift(items, sorted(observed), out)
    sys.exit(EXIT_CHANGES if any(d.kind != "converging" for d in items) else EXIT_OK)


# -- show -------------------------------------------------------------------------------


@main.command("show")
@workspace_options
@click.option("--integration", help="Only this integration.")
@click.option("--kind", help="Only this kind of resource (number, link, user, subscription).")
@click.option("--status", help="Only resources whose last observed status or transmission "
                               "is this (free, linked, removing, error, sent, blocked, active, "
                               "suspended, cancelled...).")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@handles_errors
def show_cmd(specs: Path, state: str | None, integration: str | None, kind: str | None,
             status: str | None, as_json: bool) -> None:
    """List the managed resources recorded in the state."""
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
        attrs = ", ".join(f"{k}={v}" for k, v in sorted(row.attributes.items()))
        table.add_row(row.address, facts, attrs)
    out.print(table)
    out.print(f"\n{len(rows)} managed resources.")


# -- lock -------------------------------------------------------------------------------


@main.group()
def lock() -> None:
    """See and release the lock plan, apply and drift take on the state."""


@lock.command("list")
@state_option
@handles_errors
def lock_list(state: str | None) -> None:
    """Show who holds the state lock, if anyone."""
    store = StateStore(state_url(state))
    try:
        rows = locks.current(store)
    finally:
        store.close()
    for row in rows:
        out.print(escape(locks.describe(row)))
    if not rows:
        out.print("The state is not locked.")


@lock.command("release")
@click.argument("lock_id")
@state_option
@handles_errors
def lock_release(lock_id: str, state: str | None) -> None:
    """Release a lock whose run is gone (check `reconcile lock list` first)."""
    store = StateStore(state_url(state))
    try:
        if not locks.release(store, lock_id):
            raise ReconcilerError(f"no lock {lock_id} on this state; `reconcile lock list` "
                                  f"shows the current one")
    finally:
        store.close()
    out.print(f"Released lock {lock_id}.")


def _warn(message: str) -> None:
    err.print(f"[yellow]Warning:[/yellow] {escape(redact(message))}")


# -- sim --------------------------------------------------------------------------------


@main.group()
def sim() -> None:
    """Platform simulators, for demos, rehearsals and tests."""


@sim.command("serve")
@click.option("--platform", default="saperx-stfc", show_default=True,
              type=click.Choice(sorted(SIMULATORS)),
              help="Which platform to simulate.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address to bind.")
@click.option("--port", default=8787, show_default=True, type=int)
@click.option("--token", envvar="SIM_TOKEN", required=True,
              help="The bearer token the simulator accepts (env SIM_TOKEN).")
@click.option("--removal-delay", type=float,
              help="saperx-stfc only: seconds before an unlinked number leaves the removal "
                   "queue (default 5).")
@click.option("--latency", default=0.0, show_default=True, type=float,
              help="Seconds added to every request.")
@click.option("--error-rate", default=0.0, show_default=True, type=float,
              help="Fraction of requests answered 503.")
@click.option("--rate-limit-rate", default=0.0, show_default=True, type=float,
              help="Fraction of requests answered 429 with Retry-After.")
@click.option("--drop-rate", default=0.0, show_default=True, type=float,
              help="Fraction of connections dropped before the platform does anything.")
@click.option("--lost-response-rate", default=0.0, show_default=True, type=float,
              help="Fraction of requests the platform carries out whose response is then lost.")
@click.option("--seed", type=int, help="Seed of the fault injection, to replay a run.")
@handles_errors
def sim_serve(platform: str, host: str, port: int, token: str, removal_delay: float | None,
              latency: float, error_rate: float, rate_limit_rate: float, drop_rate: float,
              lost_response_rate: float, seed: int | None) -> None:
    """Serve a platform simulator over HTTP on loopback."""
    from reconciler.sim.serve import serve

    serve(platform, host=host, port=port, token=token, removal_delay=removal_delay,
          latency=latency, error_rate=error_rate, rate_limit_rate=rate_limit_rate,
          drop_rate=drop_rate, lost_response_rate=lost_response_rate, seed=seed)
