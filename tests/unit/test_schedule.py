"""Schedules: cron checks, due and missed times, the `schedules:` section, and the scheduler
driven by a fake clock over a real SQLite state."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reconciler import secrets
from reconciler.schedule import history
from reconciler.schedule.cron import MAX_MISSED, Cron, cron_problem, zone_problem
from reconciler.schedule.due import describe_missed, find_due, next_due
from reconciler.schedule.jobs import Job, command, jobs_from_settings, outcome
from reconciler.schedule.runner import Execution, Scheduler, run_process
from reconciler.specs import load_desired
from reconciler.state import StateStore
from reconciler.state.store import shown_url
from tests.unit.spec_helpers import issues, write
from tests.unit.test_specs_loader import INTEGRATIONS  # one stfc-sp integration


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


# --- cron expressions ---------------------------------------------------------------------


@pytest.mark.parametrize(("expression", "field"), [
    ("61 3 * * *", "minute field '61'"),
    ("0 24 * * *", "hour field '24'"),
    ("0 3 0 * *", "day of month field '0'"),
    ("0 3 * 13 *", "month field '13'"),
    ("0 3 * * 8", "day of week field '8'"),
    ("0 3 * * sunday-ish", "day of week field 'sunday-ish'"),
])
def test_a_bad_cron_expression_names_the_wrong_field(expression: str, field: str) -> None:
    problem = cron_problem(expression)
    assert problem is not None
    assert field in problem[0]


@pytest.mark.parametrize(("expression", "said"), [
    ("0 3 * *", "has 4"), ("0 0 3 * * *", "has 6"), ("@sometimes", "unknown cron alias"),
    ("0 0 30 2 *", "never matches"), ("", "empty"),
])
def test_a_malformed_cron_expression_says_what_is_wrong(expression: str, said: str) -> None:
    problem = cron_problem(expression)
    assert problem is not None and said in problem[0]


@pytest.mark.parametrize("expression", ["0 3 * * *", "*/15 8-18 * * mon-fri", "@daily", "0 4 1,15 * *"])
def test_valid_cron_expressions_pass(expression: str) -> None:
    assert cron_problem(expression) is None


def test_a_time_zone_is_checked_with_a_suggestion() -> None:
    assert zone_problem("America/Sao_Paulo") is None
    problem = zone_problem("America/Sao_Paul")
    assert problem is not None and "America/Sao_Paulo" in problem[1]


def test_occurrences_are_read_in_the_jobs_time_zone() -> None:
    cron = Cron("0 3 * * *", "America/Sao_Paulo")  # 03:00 in São Paulo is 06:00 UTC
    assert cron.latest(utc(2026, 11, 25, 6, 0)) == utc(2026, 11, 25, 6, 0)  # exactly due
    assert cron.latest(utc(2026, 11, 25, 5, 59)) == utc(2026, 11, 24, 6, 0)
    assert cron.after(utc(2026, 11, 25, 6, 0)) == utc(2026, 11, 26, 6, 0)
    assert list(cron.between(utc(2026, 11, 23, 6, 0), utc(2026, 11, 25, 6, 0))) == [
        utc(2026, 11, 24, 6, 0), utc(2026, 11, 25, 6, 0)]


# --- due and missed times -----------------------------------------------------------------

DAILY = Cron("0 3 * * *")


def test_a_job_never_run_is_due_at_its_latest_occurrence_with_nothing_missed() -> None:
    due = find_due(DAILY, None, utc(2026, 11, 25, 10, 0))
    assert due is not None and due.at == utc(2026, 11, 25, 3, 0) and due.missed == ()
    assert due.first_run


def test_a_job_that_ran_for_its_latest_time_is_not_due_until_the_next() -> None:
    assert find_due(DAILY, utc(2026, 11, 25, 3, 0), utc(2026, 11, 26, 2, 59)) is None
    assert next_due(DAILY, utc(2026, 11, 25, 3, 0), utc(2026, 11, 26, 2, 59)) == utc(2026, 11, 26, 3, 0)


def test_missed_times_run_once_and_are_listed() -> None:
    due = find_due(DAILY, utc(2026, 11, 23, 3, 0), utc(2026, 11, 26, 9, 0))
    assert due is not None
    assert due.at == utc(2026, 11, 26, 3, 0)
    assert due.missed == (utc(2026, 11, 24, 3, 0), utc(2026, 11, 25, 3, 0))
    assert describe_missed(due, "UTC") == "missed 2 runs: 2026-11-24 03:00, 2026-11-25 03:00 UTC"


def test_a_long_outage_is_counted_up_to_the_cap_and_said_so() -> None:
    every_minute = Cron("* * * * *")
    due = find_due(every_minute, utc(2026, 11, 1, 0, 0), utc(2026, 11, 25, 0, 0))
    assert due is not None and len(due.missed) == MAX_MISSED and due.missed_more
    text = describe_missed(due, "UTC")
    assert text.startswith(f"missed at least {MAX_MISSED} runs: 2026-11-01 00:01") and "more" in text


# --- the schedules: section ---------------------------------------------------------------

def test_schedules_travel_in_the_desired_settings_with_their_source(tmp_path: Path) -> None:
    write(tmp_path, "integrations.yaml", INTEGRATIONS)
    write(tmp_path, "schedules.yaml", """\
        schedules:
          nightly-drift: {cron: "0  3 * * *", run: drift, timezone: America/Sao_Paulo}
          sync-sp:
            cron: "@daily"
            run: sync
            integration: stfc-sp
        """)
    jobs = jobs_from_settings(load_desired(tmp_path).settings)
    assert [(j.name, j.run, j.cron, j.integrations) for j in jobs] == [
        ("nightly-drift", "drift", Cron("0 3 * * *", "America/Sao_Paulo"), ()),
        ("sync-sp", "sync", Cron("@daily", "UTC"), ("stfc-sp",)),
    ]
    source = jobs[1].source
    assert source is not None and source.file.endswith("schedules.yaml") and source.line == 3


def test_schedule_errors_point_at_file_and_line_with_hints(tmp_path: Path) -> None:
    write(tmp_path, "integrations.yaml", INTEGRATIONS)
    write(tmp_path, "schedules.yaml", """\
        schedules:
          a: {cron: "0 25 * * *", run: drift}
          b: {cron: "@daily", run: cdr-import}
          c: {cron: "@daily", run: sync, integration: [stfc-sp, ozmap]}
          d: {cron: "@daily", run: drfit}
          e: {cron: "@daily", run: drift, integration: stfc-sp}
          f: {cron: "@daily", run: plan, timezone: Mars/Olympus}
          g: {cron: "@daily", run: plan, every: day}
        """)
    found = {(i.line, i.message): i.hint for i in issues(tmp_path)}
    messages = sorted(found)
    assert [line for line, _ in messages] == [2, 3, 4, 5, 7, 8]  # e: drift of one integration
    assert "hour field '25'" in messages[0][1]
    assert "a cdr-import job needs an integration with call records" in messages[1][1]
    assert "saperx-v2" in found[messages[1]]
    assert messages[2][1] == "unknown integration 'ozmap'" and "stfc-sp" in found[messages[2]]
    assert "unknown job 'drfit'" in messages[3][1] and "did you mean 'drift'" in found[messages[3]]
    assert "unknown time zone 'Mars/Olympus'" in messages[4][1]
    assert messages[5][1] == "unknown key 'every'" and "timezone" in found[messages[5]]


def test_a_billing_job_bills_the_previous_month_of_its_one_integration(tmp_path: Path) -> None:
    write(tmp_path, "integrations.yaml", INTEGRATIONS)
    write(tmp_path, "schedules.yaml", """\
        schedules:
          monthly-bill: {cron: "0 6 1 * *", run: billing, integration: stfc-sp,
                         timezone: America/Sao_Paulo}
        """)
    job = jobs_from_settings(load_desired(tmp_path).settings)[0]
    assert (job.run, job.billing, job.integrations) == ("billing", "stfc", ("stfc-sp",))
    # 02:30 UTC on Dec 1st is still Nov 30th in São Paulo: the month billed is October
    argv = command(job, tmp_path, 300, now=utc(2026, 12, 1, 2, 30))
    assert argv[:6] == [sys.executable, "-m", "reconciler", "billing", "stfc", "stfc-sp"]
    assert argv[6:10] == ["--month", "2026-10", "--format", "markdown"]
    assert "--state" not in argv and "--lock-timeout" not in argv  # billing takes no lock
    assert command(job, tmp_path, 300, now=utc(2026, 12, 1, 9, 0))[7] == "2026-11"
    assert command(job, tmp_path, 300, now=utc(2027, 1, 15))[7] == "2026-12"
    assert outcome("billing", 0) == "ok" and outcome("billing", 1) == "failed"


def test_a_billing_job_names_one_integration_that_bills(tmp_path: Path) -> None:
    write(tmp_path, "integrations.yaml", INTEGRATIONS)
    write(tmp_path, "more.yaml", """\
        integrations:
          qualifica:
            platform: qualifica
            endpoint: embedded
            credentials: {client_id: c, client_secret: "${env:QS}"}
        """)
    write(tmp_path, "schedules.yaml", """\
        schedules:
          none: {cron: "@monthly", run: billing}
          two: {cron: "@monthly", run: billing, integration: [stfc-sp, stfc-sp]}
          content: {cron: "@monthly", run: billing, integration: qualifica}
          fine: {cron: "@monthly", run: billing, integration: stfc-sp}
        """)
    found = {(i.line, i.message): i.hint for i in issues(tmp_path)}
    assert sorted(line for line, _ in found) == [2, 3, 4]
    by_line = {line: (message, hint) for (line, message), hint in found.items()}
    assert by_line[2][0] == "a billing job bills one integration: name it with integration:"
    assert "integrations that bill: stfc-sp" in by_line[2][1]
    assert by_line[3][0] == by_line[2][0]
    assert by_line[4][0] == "integration 'qualifica' has nothing to bill"


# --- the scheduler --------------------------------------------------------------------------


class FakeClock:
    """A clock that moves only when told (or when the fake sleep sleeps)."""

    def __init__(self, start: datetime) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)


class FakeExecutor:
    """Records each command; answers with the exit code the test chose per job kind."""

    def __init__(self, codes: dict[str, int] | None = None) -> None:
        self.codes = codes or {}
        self.calls: list[list[str]] = []

    def __call__(self, argv: list[str], timeout: float, stop: threading.Event) -> Execution:
        self.calls.append(argv)
        run = argv[0]
        code = self.codes.get(run, 0)
        return Execution(code, f"## {run} report\n", "a log line\n" if code else "")


def job(name: str, expression: str, run: str = "drift", zone: str = "UTC") -> Job:
    return Job(name, run, Cron(expression, zone))


def scheduler(tmp_path: Path, jobs: list[Job], clock: FakeClock,
              execute: Callable[..., Execution] | None = None, url: str | None = None) -> Scheduler:
    store = StateStore(url or f"sqlite:///{tmp_path / 'state' / 'reconciler.db'}")
    return Scheduler(store=store, jobs=lambda: jobs, command=lambda j: [j.run, j.name],
                     reports_dir=tmp_path / "state" / "reports", clock=clock,
                     sleep=clock.sleep, execute=execute or FakeExecutor())


def test_due_jobs_run_and_the_others_do_not(tmp_path: Path) -> None:
    clock = FakeClock(utc(2026, 11, 25, 3, 30))
    executor = FakeExecutor({"drift": 2})
    jobs = [job("nightly-drift", "0 3 * * *"), job("weekly-sync", "0 4 * * mon", "sync")]
    sched = scheduler(tmp_path, jobs, clock, executor)
    ran = sched.run_due()  # first pass: both never ran, so both are due at their latest time
    assert [(r.job.name, r.outcome) for r in ran] == [("nightly-drift", "drift"), ("weekly-sync", "ok")]
    clock.now = utc(2026, 11, 26, 2, 0)
    assert sched.run_due() == []  # nothing due before 03:00
    clock.now = utc(2026, 11, 26, 3, 0)
    ran = sched.run_due()
    assert [r.job.name for r in ran] == ["nightly-drift"]  # the weekly one waits for Monday
    assert len(executor.calls) == 3


def test_a_missed_run_is_run_once_and_reported_in_output_report_and_state(
        tmp_path: Path, backend_url: str) -> None:
    clock = FakeClock(utc(2026, 11, 23, 3, 5))
    lines: list[str] = []
    sched = scheduler(tmp_path, [job("nightly-drift", "0 3 * * *")], clock, url=backend_url)
    sched.notify = lines.append
    sched.run_due()
    clock.now = utc(2026, 11, 26, 8, 0)  # down over the 24th and 25th
    (ran,) = sched.run_due()
    assert ran.due.at == utc(2026, 11, 26, 3, 0)
    said = "missed 2 runs: 2026-11-24 03:00, 2026-11-25 03:00 UTC"
    assert any(said in line for line in lines)
    assert ran.report is not None and "2 runs: 2026-11-24 03:00, 2026-11-25 03:00 UTC" in \
        ran.report.read_text()
    (row,) = history.runs(sched.store, "nightly-drift", limit=1)
    assert row.missed == ["2026-11-24T03:00", "2026-11-25T03:00"] and row.missed_count == 2
    assert row.outcome == "ok" and row.exit_code == 0 and row.report == str(ran.report)
    assert sched.run_due() == []  # once, not once per missed time


def test_each_run_writes_a_report_under_the_state_directory(tmp_path: Path) -> None:
    clock = FakeClock(utc(2026, 11, 25, 6, 0))
    sched = scheduler(tmp_path, [job("nightly-drift", "0 3 * * *", zone="America/Sao_Paulo")],
                      clock, FakeExecutor({"drift": 2}))
    (ran,) = sched.run_due()
    assert ran.report == tmp_path / "state" / "reports" / "nightly-drift" / "20261125T060000Z.md"
    text = ran.report.read_text()
    assert "| due | 2026-11-25 03:00 America/Sao_Paulo (2026-11-25 06:00:00 UTC) |" in text
    assert "**drift** (exit code 2)" in text and "## drift report" in text
    assert "<summary>stderr</summary>" in text and "a log line" in text


def test_two_schedulers_never_claim_the_same_due_time(backend_url: str) -> None:
    store = StateStore(backend_url)
    at, now = utc(2026, 11, 25, 3, 0), utc(2026, 11, 25, 3, 1)
    assert history.claim(store, "nightly-drift", "drift", at, [], 0, now) is not None
    assert history.claim(store, "nightly-drift", "drift", at, [], 0, now) is None


def test_a_job_still_running_elsewhere_is_passed_over_and_kept_due(
        tmp_path: Path, backend_url: str) -> None:
    clock = FakeClock(utc(2026, 11, 25, 3, 10))
    executor = FakeExecutor()
    sched = scheduler(tmp_path, [job("often", "*/5 * * * *")], clock, executor, url=backend_url)
    history.claim(sched.store, "often", "drift", utc(2026, 11, 25, 3, 5), [], 0, clock.now)
    (ran,) = sched.run_due()
    assert ran.skipped.startswith("still running since") and executor.calls == []
    clock.now += timedelta(hours=2)  # past the job timeout: that holder is taken for dead
    (ran,) = sched.run_due()
    assert ran.outcome == "ok" and len(ran.due.missed) > 0


def test_a_failing_or_unstartable_job_does_not_stop_the_others(tmp_path: Path) -> None:
    def execute(argv: list[str], timeout: float, stop: threading.Event) -> Execution:
        if argv[1] == "broken":
            raise FileNotFoundError("no such interpreter")
        return Execution(1 if argv[1] == "crashes" else 0, "", "Traceback...\n")

    jobs = [job("broken", "@daily"), job("crashes", "@daily", "sync"), job("fine", "@daily")]
    sched = scheduler(tmp_path, jobs, FakeClock(utc(2026, 11, 25, 1, 0)), execute)
    assert [(r.job.name, r.outcome) for r in sched.run_due()] == [
        ("broken", "failed"), ("crashes", "failed"), ("fine", "ok")]


def test_exit_codes_mean_what_each_command_says() -> None:
    assert outcome("drift", 2) == "drift" and outcome("drift", 1) == "failed"
    assert outcome("plan", 2) == "changes" and outcome("plan", 3) == "over-limit"
    assert outcome("sync", 0) == "ok" and outcome("sync", 2) == "failed"


def test_the_command_is_the_cli_itself_with_markdown_where_it_has_it(tmp_path: Path) -> None:
    drift = command(job("d", "@daily"), tmp_path, 300)
    assert "--state" not in drift  # inherited in RECONCILER_STATE: a command line is public
    assert drift[:4] == [sys.executable, "-m", "reconciler", "drift"]
    assert drift[-2:] == ["--format", "markdown"] and "--lock-timeout" in drift
    sync = Job("s", "sync", Cron("@daily"), ("stfc-sp", "qualifica"))
    assert command(sync, tmp_path, 300)[-2:] == ["stfc-sp", "qualifica"]
    one = ("stfc-sp",)
    assert command(Job("d", "drift", Cron("@daily"), one), tmp_path, 300)[-1:] == ["stfc-sp"]
    plan = command(Job("p", "plan", Cron("@daily"), one), tmp_path, 300)
    assert plan[-2:] == ["--target", "stfc-sp"] and "--detailed-exitcode" in plan


def test_a_real_job_process_that_crashes_or_hangs_is_contained() -> None:
    stop = threading.Event()
    crash = run_process([sys.executable, "-c", "import sys; print('out'); sys.exit(7)"], 30, stop)
    assert (crash.exit_code, crash.stdout.strip(), crash.stopped) == (7, "out", None)
    hang = run_process([sys.executable, "-c", "import time; time.sleep(30)"], 0.5, stop)
    assert hang.stopped == "timeout" and hang.exit_code is None  # stopped, not waited out


def test_serve_sleeps_until_the_next_due_time_and_is_bounded(tmp_path: Path) -> None:
    clock = FakeClock(utc(2026, 11, 25, 3, 0))
    executor = FakeExecutor()
    sched = scheduler(tmp_path, [job("quarter", "*/15 * * * *")], clock, executor)
    passes = sched.serve(max_iterations=4, max_sleep=3600)
    assert passes == 4
    assert clock.slept == [900.0, 900.0, 900.0]  # woke exactly at each due time
    assert len(executor.calls) == 4 and clock.now == utc(2026, 11, 25, 3, 45)


def test_serve_wakes_at_least_every_max_sleep_and_stops_when_asked(tmp_path: Path) -> None:
    clock = FakeClock(utc(2026, 11, 25, 3, 0))
    sched = scheduler(tmp_path, [job("daily", "0 3 * * *")], clock)
    original = clock.sleep

    def sleep(seconds: float) -> None:
        original(seconds)
        if len(clock.slept) == 5:
            sched.stop.set()

    sched.sleep = sleep
    assert sched.serve(max_iterations=100, max_sleep=60) == 5
    assert clock.slept == [60.0] * 5


def test_daylight_saving_runs_a_fixed_time_once_and_a_skipped_time_at_the_next() -> None:
    new_york = "America/New_York"  # São Paulo has had no daylight saving since 2019
    fall = Cron("30 1 * * *", new_york)  # 01:30 happens twice on 2026-11-01
    times = list(fall.between(utc(2026, 10, 31, 12, 0), utc(2026, 11, 2, 12, 0)))
    assert times == [utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)]
    assert fall.latest(utc(2026, 11, 1, 7, 0)) == utc(2026, 11, 1, 5, 30)
    assert fall.after(utc(2026, 11, 1, 5, 30)) == utc(2026, 11, 2, 6, 30)
    every_half_hour = Cron("*/30 1 * * *", new_york)  # a fixed hour still: once
    assert len(list(every_half_hour.between(utc(2026, 11, 1, 4, 0), utc(2026, 11, 1, 8, 0)))) == 2
    hourly = Cron("0 * * * *", new_york)  # every hour: both passes of 01:00 run
    assert len(list(hourly.between(utc(2026, 11, 1, 4, 30), utc(2026, 11, 1, 7, 30)))) == 3
    spring = Cron("30 2 * * *", new_york)  # 02:30 does not exist on 2026-03-08
    assert spring.after(utc(2026, 3, 7, 12, 0)).astimezone(fall.zone).hour == 3


def test_a_state_url_password_never_reaches_the_report(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(secrets, "_REVEALED", set())  # leave no mask behind for other tests
    url = "postgresql://reconcile:s3cr%40t-pw@db.isp.example/state"  # '@' percent-encoded
    assert shown_url(url) == "postgresql://reconcile:***@db.isp.example/state"
    # (shown_url is what opening the scheduler's state on that URL does)

    def execute(argv: list[str], timeout: float, stop: threading.Event) -> Execution:
        return Execution(1, "", f"Error: cannot open state '{url}': connection refused "
                                f"(password s3cr@t-pw)\n")

    sched = scheduler(tmp_path, [job("nightly-drift", "@daily")],
                      FakeClock(utc(2026, 11, 25, 1, 0)), execute)
    sched.command = lambda j: command(j, tmp_path, 300)
    (ran,) = sched.run_due()
    assert ran.report is not None
    text = ran.report.read_text()
    assert "s3cr" not in text and "postgresql://reconcile:********@db.isp.example" in text
