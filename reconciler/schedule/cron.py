"""Cron expressions: checking them field by field, and walking their occurrences in a time zone.

The arithmetic is croniter's (a maintained library: day-of-week names, ranges, steps, aliases
such as ``@daily``, and daylight-saving gaps and overlaps). What it lacks is a message an operator
can act on: it says "out of range" for the whole expression, so :func:`cron_problem` re-checks
each field on its own to say which one is wrong. Only the classic five fields are accepted: a
sixth (seconds, or a year) means something different in every other cron dialect, and a job
reconciling a platform has no business running every second.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from croniter import CroniterError, croniter

from reconciler.bounds import MAX_ZONE, clip

FIELDS = (
    ("minute", "0-59"),
    ("hour", "0-23"),
    ("day of month", "1-31"),
    ("month", "1-12 or jan-dec"),
    ("day of week", "0-6 (0 is Sunday) or sun-sat"),
)
ALIASES = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
CRON_HINT = 'five fields: minute hour day-of-month month day-of-week, e.g. "0 3 * * *" (03:00 daily)'
ZONE_NAME = re.compile(r"[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*")  # no '..', no absolute path
ZONE_HINT = "an IANA time zone name, such as America/Sao_Paulo or UTC"
# Walking occurrences one by one is cheap but not free: a job every minute down for a month has
# 43,200 missed times. Past this many, a run says "at least N" rather than walk them all.
MAX_MISSED = 1000


def cron_problem(expression: str) -> tuple[str, str] | None:
    """(message, hint) saying what is wrong with ``expression``, or None when it is valid."""
    text = " ".join(expression.split())
    if not text:
        return "the cron expression is empty", CRON_HINT
    if text.startswith("@"):
        if text.lower() in ALIASES:
            return None
        return f"unknown cron alias '{text}'", f"use one of {', '.join(ALIASES)}, or {CRON_HINT}"
    fields = text.split(" ")
    if len(fields) != len(FIELDS):
        return (f"a cron expression has {len(FIELDS)} fields, this one has {len(fields)}", CRON_HINT)
    for i, (name, allowed) in enumerate(FIELDS):
        probe = ["*"] * len(FIELDS)
        probe[i] = fields[i]
        if not _valid(" ".join(probe)):
            hint = f"the {name} takes {allowed}, lists (1,15), ranges (1-5) and steps (*/10)"
            return f"the {name} field '{fields[i]}' is not valid", hint
    if not _valid(text):
        return f"the cron expression '{text}' is not valid", CRON_HINT
    try:
        croniter(text, datetime(2000, 1, 1, tzinfo=UTC)).get_next(datetime)
    except CroniterError:
        return f"the cron expression '{text}' never matches a date", \
            "check the day of month against the month (there is no 30 February)"
    return None


def cadence(expression: str) -> str:
    """How often a valid expression fires, in an importer's words: ``daily`` (on every day,
    maybe several times), ``monthly`` (on one day of every month), or ``other`` (some weekdays,
    some days or months...). Read from when it fires over January and February 2001 (one step
    per day it fires, so "every minute" costs no more than "once a day")."""
    start, end = datetime(2001, 1, 1), datetime(2001, 3, 1)
    walk, days, at = croniter(expression, start - timedelta(seconds=1)), set(), start
    while at < end:
        at = walk.get_next(datetime)
        if at >= end:
            break
        days.add(at.date())
        walk = croniter(expression, datetime(at.year, at.month, at.day) + timedelta(days=1)
                        - timedelta(seconds=1))
    if len(days) == (end - start).days:
        return "daily"
    if sorted(d.month for d in days) == [1, 2]:
        return "monthly"
    return "other"


def _valid(text: str) -> bool:
    try:
        croniter(text)
    except (CroniterError, ValueError, KeyError):
        return False
    return True


def zone_problem(name: str) -> tuple[str, str] | None:
    """(message, hint) when ``name`` is not a time zone this machine knows, else None."""
    if len(name) > MAX_ZONE or not ZONE_NAME.fullmatch(name):
        return f"unknown time zone '{clip(name, 80)}'", ZONE_HINT  # never handed to zoneinfo
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        import difflib

        close = difflib.get_close_matches(name, sorted(available_timezones()), n=1)
        mean = f"did you mean '{close[0]}'? " if close else ""
        return f"unknown time zone '{name}'", mean + ZONE_HINT
    return None


@dataclass(frozen=True)
class Cron:
    """A valid cron expression read in a time zone. Times in and out are aware datetimes."""

    expression: str
    timezone: str = "UTC"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def latest(self, at: datetime) -> datetime:
        """The last occurrence at or before ``at`` (``at`` itself when it matches), in UTC."""
        # Walking back from just after ``at`` includes ``at`` itself when it matches exactly.
        walk = croniter(self.expression, at.astimezone(self.zone) + timedelta(microseconds=1))
        while True:
            prev: datetime = walk.get_prev(datetime)
            if not self._repeat(prev):
                return prev.astimezone(UTC)

    def after(self, at: datetime) -> datetime:
        """The first occurrence strictly after ``at``, in UTC."""
        walk = croniter(self.expression, at.astimezone(self.zone))
        while True:
            following: datetime = walk.get_next(datetime)
            if not self._repeat(following):
                return following.astimezone(UTC)

    def between(self, after: datetime, until: datetime, limit: int = MAX_MISSED) -> Iterator[datetime]:
        """Occurrences strictly after ``after`` and at or before ``until``, in order, in UTC;
        at most ``limit`` of them."""
        walk = croniter(self.expression, after.astimezone(self.zone))
        found = 0
        while found < limit:
            at: datetime = walk.get_next(datetime)
            if at.astimezone(UTC) > until:
                return
            if not self._repeat(at):
                found += 1
                yield at.astimezone(UTC)

    def _repeat(self, at: datetime) -> bool:
        """Whether ``at`` is the second pass of a wall-clock time repeated when daylight saving
        ends, for a job at a fixed hour: like cron, "01:30 daily" runs once that night, while
        a job every few minutes (a ``*`` hour) runs through both passes of the hour."""
        fields = self.expression.split(" ")
        hour = fields[1] if len(fields) == len(FIELDS) else "*" if self.expression == "@hourly" else "0"
        if at.fold == 0 or "*" in hour:
            return False
        return at.replace(fold=0).utcoffset() != at.utcoffset()
