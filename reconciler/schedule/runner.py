"""The scheduler: finds the due jobs, claims them, runs each in a process of its own, and
records the run and its report. ``run_due`` is one pass (`reconcile schedule run`); ``serve``
repeats it, sleeping until the next due time (`reconcile schedule serve`).

Everything with a side effect outside the state is a parameter: the clock, the sleep, the way a
command is executed and the jobs themselves (read again on each pass, so that a long-running
``serve`` follows the specs as they change in git).
"""

from __future__ import annotations

import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

from reconciler.schedule import history
from reconciler.schedule.due import Due, describe_missed, find_due, next_due
from reconciler.schedule.jobs import Job, outcome
from reconciler.schedule.report import Finished, render, report_path
from reconciler.state import StateStore

POLL = 0.2  # seconds between looks at a running job (and at the stop flag)
GRACE = 10.0  # seconds a stopped job gets to exit after SIGTERM before it is killed
MIN_SLEEP = 1.0  # seconds serve sleeps at least between passes
MAX_SLEEP = 60.0  # serve wakes at least this often: a clock jump or a spec change is seen soon


@dataclass(frozen=True)
class Execution:
    """How a job's process ended: its exit code (None when it was stopped) and its output."""

    exit_code: int | None
    stdout: str
    stderr: str
    stopped: str | None = None  # "timeout" or "interrupted" when the scheduler ended it


Executor = Callable[[list[str], float, threading.Event], Execution]


def run_process(argv: list[str], timeout: float, stop: threading.Event) -> Execution:
    """Run ``argv``, output to temporary files (a pipe nobody reads would fill and block it);
    terminate it when it outlives ``timeout`` seconds or ``stop`` is set."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        stopped = None
        while proc.poll() is None:
            if stop.wait(POLL) or time.monotonic() > deadline:
                stopped = "interrupted" if stop.is_set() else "timeout"
                _end(proc)
                break
        return Execution(None if stopped else proc.returncode, _read(out), _read(err), stopped)


def _end(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(GRACE)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _read(file: IO[bytes]) -> str:
    file.seek(0)
    return file.read().decode("utf-8", "replace")


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Ran:
    """One job this pass ran (``run_id`` its record) or passed over (``skipped`` says why)."""

    job: Job
    due: Due
    outcome: str = ""
    exit_code: int | None = None
    report: Path | None = None
    skipped: str = ""


@dataclass(frozen=True)
class Status:
    """A job as `schedule list` shows it: its last run, and when it is next due."""

    job: Job
    last: history.ScheduleRunRow | None
    next_due: datetime
    due_now: Due | None


@dataclass
class Scheduler:
    """Runs the jobs of one state when they are due."""

    store: StateStore
    jobs: Callable[[], list[Job]]
    command: Callable[[Job], list[str]]
    reports_dir: Path
    clock: Callable[[], datetime] = utc_now
    sleep: Callable[[float], object] | None = None  # default: wait on ``stop``
    execute: Executor = run_process
    timeout: float = 3600.0  # seconds one job may run
    stop: threading.Event = field(default_factory=threading.Event)
    notify: Callable[[str], None] = lambda _line: None

    def statuses(self) -> list[Status]:
        now = self.clock()
        jobs = self.jobs()
        last = history.last_runs(self.store, [j.name for j in jobs])
        out = []
        for job in jobs:
            row = last.get(job.name)
            last_due = history.aware(row.due_at) if row else None
            out.append(Status(job, row, next_due(job.cron, last_due, now),
                              find_due(job.cron, last_due, now)))
        return out

    def run_due(self) -> list[Ran]:
        """Run every job due now, one after the other, each once; what each did."""
        done: list[Ran] = []
        for status in self.statuses():
            if self.stop.is_set():
                break
            if status.due_now is not None:
                done.append(self._run(status.job, status.due_now))
        return done

    def _run(self, job: Job, due: Due) -> Ran:
        now = self.clock()
        busy = history.running(self.store, job.name, since=now - timedelta(seconds=self.timeout))
        if busy is not None:
            reason = f"still running since {busy.started_at:%Y-%m-%d %H:%M:%S} UTC ({busy.holder})"
            self.notify(f"{job.name}: skipped, {reason}; it will run on a later pass")
            return Ran(job, due, skipped=reason)
        run_id = history.claim(self.store, job.name, job.run, due.at, due.missed,
                               len(due.missed), now)
        if run_id is None:
            reason = "another scheduler claimed this due time first"
            self.notify(f"{job.name}: skipped, {reason}")
            return Ran(job, due, skipped=reason)
        missed = describe_missed(due, job.cron.timezone)
        self.notify(f"{job.name}: running {job.describe} due {_short(due.at, job)}"
                    + (f"; {missed}" if missed else ""))
        argv = self.command(job)
        started = self.clock()
        try:
            result = self.execute(argv, self.timeout, self.stop)
        except OSError as exc:  # the command could not even start
            result = Execution(None, "", f"could not start the job: {exc}")
        finished = self.clock()
        ended = result.stopped or ("failed" if result.exit_code is None
                                   else outcome(job.run, result.exit_code))
        done = Finished(job, due, argv, started, finished, result.exit_code, ended,
                        result.stdout, result.stderr)
        path = report_path(self.reports_dir, job.name, started)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(done), encoding="utf-8")
        history.finish(self.store, run_id, outcome=ended, exit_code=result.exit_code,
                       report=str(path), now=finished)
        code = "stopped" if result.exit_code is None else f"exit {result.exit_code}"
        self.notify(f"{job.name}: {ended} ({code}) in {_took(finished - started)}; report {path}")
        return Ran(job, due, ended, result.exit_code, path)

    def serve(self, max_iterations: int | None = None, max_sleep: float = MAX_SLEEP) -> int:
        """Run due jobs, sleep until the next is due (at most ``max_sleep``), until ``stop`` is
        set or ``max_iterations`` passes were made; the number of passes made."""
        passes = 0
        while not self.stop.is_set() and (max_iterations is None or passes < max_iterations):
            self.run_due()
            passes += 1
            if self.stop.is_set() or (max_iterations is not None and passes >= max_iterations):
                break
            statuses = self.statuses()
            wake = min((s.next_due for s in statuses), default=None)
            delay = max_sleep if wake is None else (wake - self.clock()).total_seconds()
            # A job still due after a pass was passed over (running elsewhere): look again soon,
            # but not in a tight loop.
            (self.sleep or self.stop.wait)(min(max(delay, MIN_SLEEP), max_sleep))
        return passes


def _short(at: datetime, job: Job) -> str:
    from zoneinfo import ZoneInfo

    return f"{at.astimezone(ZoneInfo(job.cron.timezone)):%Y-%m-%d %H:%M} {job.cron.timezone}"


def _took(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    return f"{seconds:.1f}s" if seconds < 60 else f"{int(seconds // 60)}m {int(seconds % 60)}s"
