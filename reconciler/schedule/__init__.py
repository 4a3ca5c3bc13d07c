"""Scheduled jobs: drift reports, catalog syncs and plans run on cron timetables.

The ``schedules:`` section of the specs names each job, its cron expression and time zone. Two
ways to run them, both through :class:`~reconciler.schedule.runner.Scheduler`:

- ``reconcile schedule run`` runs the jobs that are due, once, and exits: for the system's cron,
  a systemd timer or a CI schedule, which wake it every few minutes;
- ``reconcile schedule serve`` stays up and runs each job when it falls due.

Decisions, and why:

- **A job runs as the command would, in a process of its own** (``python -m reconciler drift
  ...``): the report is exactly what an operator running the command sees, the job takes the
  state lock like any other run, and a job that crashes or hangs cannot take the scheduler down.
- **Missed times run once.** When nothing ran over one or more due times (the machine was off,
  the cron entry missing), the job runs once, at the next chance, for its latest due time, and
  its output, report and run record list the times it missed. Running it once per missed time
  would only repeat the same report.
- **A job never run before is due at its latest occurrence**, so a new schedule (or a new state)
  gets its first report at the first `schedule run`, not a day later; nothing is reported as
  missed before the job was first seen.
- **Claims are rows.** Before a job starts, a row ``(job, due time)`` is inserted in the state's
  ``schedule_runs`` table, which allows one such row: two schedulers that find a job due at once
  both try, and only one runs it.
- **The clock and the sleep are parameters**, so tests drive days of schedule in milliseconds.
"""
