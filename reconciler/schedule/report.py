"""The Markdown report of one scheduled run, written under ``<state dir>/reports/<job>/``.

A report is read after the fact, by someone who was not there: it opens with what ran, when it
was due, when it ran, how it ended and which due times it covers that were missed, then holds the
job's own output (Markdown for drift and plan, as a PR comment would show it; text in a code block
otherwise) and, folded, what the job wrote on stderr.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from reconciler.render.markdown import fenced
from reconciler.schedule.due import Due, describe_missed
from reconciler.schedule.jobs import Job
from reconciler.secrets import redact

MARKDOWN_JOBS = ("drift", "plan", "billing")  # jobs run with --format markdown


@dataclass(frozen=True)
class Finished:
    """What one run did, as the report and the run record keep it."""

    job: Job
    due: Due
    argv: list[str]
    started: datetime
    finished: datetime
    exit_code: int | None
    outcome: str
    stdout: str
    stderr: str


def report_path(reports_dir: Path, job: str, started: datetime) -> Path:
    """``<reports_dir>/<job>/20261125T060000Z.md`` (a second run in the same second gets -2...)."""
    stamp = started.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = reports_dir / job / f"{stamp}.md"
    n = 2
    while path.exists():
        path = reports_dir / job / f"{stamp}-{n}.md"
        n += 1
    return path


def _at(moment: datetime, zone: str) -> str:
    utc = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    if zone == "UTC":
        return utc
    return f"{moment.astimezone(ZoneInfo(zone)).strftime('%Y-%m-%d %H:%M')} {zone} ({utc})"


def shown_command(argv: list[str]) -> str:
    """The job's command line as an operator would type it again (`reconcile drift ...`)."""
    args = argv[3:] if argv[1:3] == ["-m", "reconciler"] else argv[1:]
    return "reconcile " + shlex.join(args)


def render(done: Finished) -> str:
    """The report's Markdown text; never holds a secret the scheduler knows of."""
    job, zone = done.job, done.job.cron.timezone
    missed = describe_missed(done.due, zone).removeprefix("missed ") or "none"
    if done.due.first_run:
        missed = "none (first run of this job)"
    code = "none (stopped)" if done.exit_code is None else str(done.exit_code)
    lines = [
        f"# Scheduled {job.run}: {job.name}",
        "",
        "| | |",
        "| --- | --- |",
        f"| job | {job.name}: {job.describe}, `{job.cron.expression}` ({zone})"
        + (f", {job.source}" if job.source else "") + " |",
        f"| due | {_at(done.due.at, zone)} |",
        f"| started | {_at(done.started, 'UTC')} |",
        f"| finished | {_at(done.finished, 'UTC')} |",
        f"| outcome | **{done.outcome}** (exit code {code}) |",
        f"| missed | {missed} |",
        f"| command | `{shown_command(done.argv)}` |",
        "",
    ]
    body = done.stdout.rstrip()
    if body:
        lines += [body if job.run in MARKDOWN_JOBS else fenced(body), ""]
    else:
        lines += ["_The job printed nothing._", ""]
    if done.stderr.strip():
        lines += ["<details><summary>stderr</summary>", "", fenced(done.stderr.rstrip()), "",
                  "</details>", ""]
    # The state URL's password was registered as a secret when the scheduler opened the state.
    return redact("\n".join(lines))

