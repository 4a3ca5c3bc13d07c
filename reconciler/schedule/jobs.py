"""What a scheduled job is, which command it runs, and what its exit code means."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from reconciler.model import Source
from reconciler.schedule.cron import Cron

# What a job's exit code says, per job (the commands' own exit codes, docs/cli.md). Any other
# code is a failure: the job could not do its work.
OUTCOMES: dict[str, dict[int, str]] = {
    "drift": {0: "ok", 2: "drift"},
    "plan": {0: "ok", 2: "changes", 3: "over-limit"},
    "sync": {0: "ok"},
    "cdr-import": {0: "ok"},
    "billing": {0: "ok"},
}
FAILED = ("failed", "timeout", "interrupted")  # outcomes where the job did not finish its work
FOUND = ("drift", "changes", "over-limit")  # outcomes where it did, and found something to act on


@dataclass(frozen=True)
class Job:
    """One entry of ``schedules:``."""

    name: str
    run: str  # drift, sync, plan, cdr-import, billing
    cron: Cron
    integrations: tuple[str, ...] = ()
    source: Source | None = None
    billing: str = ""  # a billing job's command (voip, stfc): its integration's kind of billing

    @property
    def describe(self) -> str:
        """``drift``, or ``sync stfc-sp, qualifica``: what the job does, in a few words."""
        return f"{self.run} {', '.join(self.integrations)}".strip()

    @property
    def timetable(self) -> str:
        """``0 3 * * * (America/Sao_Paulo)``."""
        return f"{self.cron.expression} ({self.cron.timezone})"


def jobs_from_settings(settings: Mapping[str, Any]) -> list[Job]:
    """The jobs of ``Desired.settings["schedules"]``, sorted by name."""
    schedules: Mapping[str, Mapping[str, Any]] = settings.get("schedules", {})
    return [
        Job(name, entry["run"], Cron(entry["cron"], entry.get("timezone", "UTC")),
            tuple(entry.get("integrations", ())), entry.get("source"), entry.get("billing", ""))
        for name, entry in sorted(schedules.items())
    ]


def command(job: Job, specs: Path, lock_timeout: float,
            now: datetime | None = None) -> list[str]:
    """The command line that runs ``job``: the `reconcile` command itself, in this interpreter.

    drift and plan print Markdown, the report's format; plan exits 2 when it has changes. The
    lock timeout lets a job wait for an apply in progress rather than fail at once. The state's
    URL is not on it (any user of the host can read a command line, and the URL may hold a
    password): the job inherits it in RECONCILER_STATE. A billing job bills the month before
    the one it runs in (``now``, read in the job's time zone), as Markdown for the report; the
    month's charges it fetched stay in the state, so the ERP's CSV is written again from there
    without a platform call.
    """
    if job.run == "billing":  # takes no state lock: it reads the state, and adds fetches only
        return [sys.executable, "-m", "reconciler", "billing", job.billing, *job.integrations,
                "--month", previous_month(now, job.cron.timezone), "--format", "markdown",
                "--specs", str(specs)]
    if job.run == "cdr-import":  # takes no state lock: an import adds records idempotently
        return [sys.executable, "-m", "reconciler", "cdr", "import", "--specs", str(specs),
                *job.integrations]
    base = [sys.executable, "-m", "reconciler", job.run, "--specs", str(specs),
            "--lock-timeout", f"{lock_timeout:g}s"]
    if job.run == "drift":
        return [*base, "--format", "markdown", *job.integrations]
    if job.run == "plan":  # a plan of chosen integrations is a partial plan of them
        targets = [arg for name in job.integrations for arg in ("--target", name)]
        return [*base, "--format", "markdown", "--detailed-exitcode", *targets]
    return [*base, *job.integrations]


def outcome(run: str, exit_code: int) -> str:
    """The outcome of a job of kind ``run`` that exited with ``exit_code``."""
    return OUTCOMES.get(run, {0: "ok"}).get(exit_code, "failed")


def previous_month(now: datetime | None, zone: str) -> str:
    """The month before the one ``now`` (the wall clock when None) falls in, in ``zone``."""
    here = (now or datetime.now(UTC)).astimezone(ZoneInfo(zone))
    return (here.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
