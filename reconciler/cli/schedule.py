"""`reconcile schedule list|run|serve`: the jobs of the specs' `schedules:` section.

The commands parse options, build a :class:`~reconciler.schedule.runner.Scheduler` over the
workspace's state and print what it does; the scheduling itself lives in
:mod:`reconciler.schedule`.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import click
from rich.markup import escape

from reconciler.cli.app import (
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_OK,
    handles_errors,
    main,
    out,
    parse_duration,
    warn,
    workspace_options,
)
from reconciler.errors import ReconcilerError, SpecError
from reconciler.runtime import Workspace
from reconciler.schedule import history
from reconciler.schedule.due import describe_missed
from reconciler.schedule.jobs import FAILED, FOUND, Job, command, jobs_from_settings
from reconciler.schedule.runner import Ran, Scheduler, Status, utc_now
from reconciler.specs import load_desired
from reconciler.state.store import ENV_URL

F = TypeVar("F", bound=Callable[..., Any])
NO_JOBS = ("no schedules are declared in the specs: add a `schedules:` section, e.g. "
           'nightly-drift: {cron: "0 3 * * *", run: drift} (see docs/specs.md#schedules)')
NO_JOBS_LINE = NO_JOBS[0].upper() + NO_JOBS[1:] + "."


def _parse_now(_ctx: object, _param: object, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO date and time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def scheduler_options(func: F) -> F:
    """The workspace, and the test-only ``--now`` that pins the scheduler's clock."""
    func = click.option("--now", "fixed_now", callback=_parse_now, hidden=True,
                        help="For tests: the time the scheduler takes as now (ISO 8601).")(func)
    return workspace_options(func)


def job_options(func: F) -> F:
    """How long a job may wait for the state lock, and run at all."""
    func = click.option(
        "--lock-timeout", default="5m", show_default=True, callback=parse_duration,
        help="How long each job waits for another run's lock on the state (30s, 2m...).",
    )(func)
    func = click.option(
        "--job-timeout", default="1h", show_default=True, callback=parse_duration,
        help="How long one job may run before it is stopped and recorded as timeout.",
    )(func)
    return func


def _clock(fixed: datetime | None) -> Callable[[], datetime]:
    """The wall clock, or (for tests) one that starts at ``fixed`` and runs at the real pace."""
    if fixed is None:
        return utc_now
    start = time.monotonic()
    return lambda: fixed + timedelta(seconds=time.monotonic() - start)


def _jobs_loader(specs: Path, ws: Workspace) -> Callable[[], list[Job]]:
    """The jobs as the specs declare them now (read through the spec cache); when the specs
    turn invalid while `serve` runs, the last valid jobs are kept and a warning says why."""
    current = jobs_from_settings(ws.desired.settings)

    def load() -> list[Job]:
        nonlocal current
        try:
            current = jobs_from_settings(load_desired(specs, state_dir=ws.state_dir).settings)
        except SpecError as exc:
            warn(f"the specs are invalid now, so the schedules last read stay in force:\n{exc}")
        return current

    return load


@contextmanager
def _scheduler(specs: Path, state: str | None, fixed_now: datetime | None,
               lock_timeout: float = 300.0, job_timeout: float = 3600.0,
               reload: bool = False) -> Iterator[Scheduler]:
    ws = Workspace.open(specs, state)
    os.environ[ENV_URL] = ws.store.url  # the jobs' state, inherited (see schedule.jobs.command)
    try:
        jobs = jobs_from_settings(ws.desired.settings)
        yield Scheduler(
            store=ws.store,
            jobs=_jobs_loader(specs, ws) if reload else (lambda: jobs),
            command=lambda job: command(job, specs, lock_timeout),
            reports_dir=ws.state_dir / "reports",
            clock=_clock(fixed_now),
            timeout=job_timeout,
            notify=lambda line: out.print(escape(line)),
        )
    finally:
        ws.close()


@main.group("schedule")
def schedule_group() -> None:
    """Run the jobs of the specs' `schedules:` section (drift reports, catalog syncs, plans)."""


@schedule_group.command("list")
@scheduler_options
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@handles_errors
def list_cmd(specs: Path, state: str | None, fixed_now: datetime | None, as_json: bool) -> None:
    """Each job: its timetable, its last run and outcome, and when it is next due."""
    with _scheduler(specs, state, fixed_now) as scheduler:
        statuses = scheduler.statuses()
    if as_json:
        click.echo(json.dumps([_status_json(s) for s in statuses], indent=2))
        return
    if not statuses:
        out.print(escape(NO_JOBS_LINE))
        return
    for status in statuses:
        _print_status(status)


def _local(at: datetime, zone: str) -> str:
    return f"{at.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M} {zone}"


def _print_status(status: Status) -> None:
    job, last, zone = status.job, status.last, status.job.cron.timezone
    out.print(escape(f"{job.name}  {job.describe}  {job.cron.expression} ({zone})"
                     + (f"  {job.source}" if job.source else "")))
    if last is None:
        out.print("  last run: never")
    else:
        due = _local(last.due_at.replace(tzinfo=UTC), zone)
        code = "" if last.exit_code is None else f", exit {last.exit_code}"
        missed = f", covered {last.missed_count} missed" if last.missed_count else ""
        out.print(escape(f"  last run: due {due}, {last.outcome}{code}{missed}"
                         + (f"; report {last.report}" if last.report else "")))
    if status.due_now is not None:
        missed = describe_missed(status.due_now, zone)
        first = " (never run)" if status.due_now.first_run else ""
        out.print(escape(f"  next due: now{first}, for {_local(status.due_now.at, zone)}"
                         + (f"; {missed}" if missed else "")))
    else:
        out.print(escape(f"  next due: {_local(status.next_due, zone)}"))


def _iso(at: datetime | None) -> str | None:
    """A time of the state (naive UTC) in ISO 8601 with its offset."""
    moment = history.aware(at)
    return moment.isoformat() if moment is not None else None


def _status_json(status: Status) -> dict[str, Any]:
    job, last = status.job, status.last
    return {
        "job": job.name, "run": job.run, "integrations": list(job.integrations),
        "cron": job.cron.expression, "timezone": job.cron.timezone,
        "source": str(job.source) if job.source else None,
        "last_run": None if last is None else {
            "due_at": _iso(last.due_at), "started_at": _iso(last.started_at),
            "finished_at": _iso(last.finished_at), "exit_code": last.exit_code,
            "outcome": last.outcome, "missed": [t + "Z" for t in last.missed],
            "missed_count": last.missed_count, "report": last.report},
        "due_now": status.due_now is not None,
        "next_due": status.next_due.isoformat(),
        "missed": [t.isoformat() for t in status.due_now.missed] if status.due_now else [],
    }


def _exit_code(ran: list[Ran]) -> int:
    """1 when a job failed, else 2 when one found drift or changes, else 0."""
    if any(r.outcome in FAILED for r in ran):
        return EXIT_ERROR
    return EXIT_CHANGES if any(r.outcome in FOUND for r in ran) else EXIT_OK


@schedule_group.command("run")
@scheduler_options
@job_options
@handles_errors
def run_cmd(specs: Path, state: str | None, fixed_now: datetime | None, lock_timeout: float,
            job_timeout: float) -> None:
    """Run the jobs that are due, once each, then exit (for cron, a systemd timer or CI).

    Exit 1 when a job failed, 2 when one found drift or changes, 0 otherwise."""
    with _scheduler(specs, state, fixed_now, lock_timeout, job_timeout) as scheduler:
        if not scheduler.jobs():
            out.print(escape(NO_JOBS_LINE))
            return
        ran = scheduler.run_due()
    done = [r for r in ran if not r.skipped]
    if not ran:
        out.print("No job is due.")
    else:
        out.print(f"Ran {len(done)} job{'s' if len(done) != 1 else ''}"
                  + (f", passed over {len(ran) - len(done)}" if len(done) != len(ran) else "")
                  + ".")
    sys.exit(_exit_code(done))


@schedule_group.command("serve")
@scheduler_options
@job_options
@click.option("--max-iterations", type=int, hidden=True, help="For tests: stop after N passes.")
@click.option("--max-sleep", default="60s", callback=parse_duration, hidden=True,
              help="For tests: the longest sleep between passes.")
@handles_errors
def serve_cmd(specs: Path, state: str | None, fixed_now: datetime | None, lock_timeout: float,
              job_timeout: float, max_iterations: int | None, max_sleep: float) -> None:
    """Stay up and run each job when it is due; stop cleanly on SIGTERM or Ctrl-C.

    The specs are read again before each pass, so a change merged in git is followed without a
    restart (invalid specs keep the schedules last read, with a warning)."""
    with _scheduler(specs, state, fixed_now, lock_timeout, job_timeout, reload=True) as scheduler:
        if not scheduler.jobs():
            raise ReconcilerError(f"nothing to serve: {NO_JOBS}")

        def stop(signum: int, _frame: FrameType | None) -> None:
            if not scheduler.stop.is_set():
                out.print(f"Stopping on {signal.Signals(signum).name}: a job still running "
                          "is ended and recorded as interrupted.")
            scheduler.stop.set()

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            names = ", ".join(j.name for j in scheduler.jobs())
            out.print(escape(f"Serving {names}; each runs when due (Ctrl-C or SIGTERM stops)."))
            scheduler.serve(max_iterations=max_iterations, max_sleep=max_sleep)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    out.print("Stopped.")
