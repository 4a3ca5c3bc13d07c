"""Billing a month of SaperX STFC charges (issue 14), measured by ``python -m benchmarks.run``.

An estate of its own, on the served STFC simulator: ``numbers`` active client services of one
number each (``workload.generate_numbers``), converged once ("initial apply", not a target), its
links backdated so that the last calendar month is wholly billed and closed, then:

    billing stfc                ``reconcile billing stfc stfc --month M --out FILE``: the month
                                fetched from the platform, page by page, kept in the state
    billing stfc (kept)         the same again: read from the state alone, no platform call
    billing stfc --details      with each line's calls: the month fetched again with its calls
    billing stfc --details, 3x calls
                                the same after the simulator was set to three times the calls
                                per day (``calls_max_per_day`` 3, its default, instead of 1)
                                and with ``--refresh``

The last two differ only in the number of calls, so their peak RSS says whether the document is
streamed (the target: no growth with the calls); their output files' sizes say how many calls
each carried.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from benchmarks import workload
from benchmarks.harness import Simulator, Stepper, cli_env, set_rate_limit

EXPECTED = {
    "initial apply": 0,
    "billing stfc": 0,
    "billing stfc (kept)": 0,
    "billing stfc --details": 0,
    "billing stfc --details, 3x calls": 0,
}
DEFAULT_NUMBERS = 100_000
CALLS_PER_DAY = 1  # the most calls per number and day (the simulator's default is 3)
MORE_CALLS = 3  # the factor of the last step


def billed_month(today: dt.date) -> str:
    """The last calendar month before ``today`` (closed, so kept once fetched)."""
    return (today.replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")


def timeout(numbers: int, step: str) -> float:
    return 600 + numbers * (0.05 if step == "initial apply" else 0.02)


def run_billing(numbers: int, sims: Mapping[str, Simulator], root: Path, *, seed: int,
                rate_limit: float | None, say: Callable[[str], None]) -> dict[str, Any]:
    """Generate, converge and bill one month of ``numbers`` STFC numbers under ``root``."""
    started = time.perf_counter()
    if root.exists():
        shutil.rmtree(root)
    specs, state_dir, logs, out = root / "specs", root / "state", root / "logs", root / "out"
    state_dir.mkdir(parents=True)
    out.mkdir()
    stfc = sims["stfc"]
    stfc.reset()
    stfc.configure({"calls_max_per_day": CALLS_PER_DAY})
    files = workload.generate_numbers(specs, numbers, seed=seed, endpoints={"stfc": stfc.url})
    if rate_limit is not None:
        set_rate_limit(specs, rate_limit)
    month = billed_month(dt.datetime.now(dt.UTC).date())
    run: dict[str, Any] = {"numbers": numbers, "month": month, "spec_files": files + 2}
    step = Stepper(f"billing, {numbers:,} numbers", {"stfc": stfc}, cwd=root,
                   env=cli_env(sims, specs, state_dir / "reconciler.db"), logs=logs,
                   expected=EXPECTED, timeout=lambda name: timeout(numbers, name), say=say)
    run["steps"] = step.steps
    cli = [sys.executable, "-m", "reconciler"]
    step("initial apply", [*cli, "apply", "--auto-approve"])
    first = dt.date.fromisoformat(month + "-01")
    since = (first - dt.timedelta(days=1)).replace(day=1).isoformat()
    run["backdated"] = len(stfc.admin_post("/_sim/links/backdate", {"desde": since})["movidos"])
    bill = [*cli, "billing", "stfc", "stfc", "--month", month, "--format", "csv", "--out"]
    outputs = {
        "billing stfc": [*bill, str(out / "month.csv")],
        "billing stfc (kept)": [*bill, str(out / "month-kept.csv")],
        "billing stfc --details": [*bill, str(out / "details.csv"), "--details"],
    }
    for name, argv in outputs.items():
        step(name, argv)
    stfc.configure({"calls_max_per_day": CALLS_PER_DAY * MORE_CALLS})
    step("billing stfc --details, 3x calls",
         [*bill, str(out / "details-3x.csv"), "--details", "--refresh"])
    stfc.configure({"calls_max_per_day": CALLS_PER_DAY})
    run["outputs"] = {p.name: _rows(p) for p in sorted(out.iterdir())}
    run["total_s"] = round(time.perf_counter() - started, 1)
    say(f"billing, {numbers:,} numbers: done in {run['total_s']:.0f} s")
    return run


def _rows(path: Path) -> dict[str, int]:
    """The size of an output file and its rows (header included); a line of the document is a
    row with an amount, a call a row with a ``call_started_at``."""
    rows = 0
    with open(path, "rb") as fh:
        for _ in fh:
            rows += 1
    return {"bytes": path.stat().st_size, "rows": rows}


def targets(run: Mapping[str, Any] | None) -> list[dict[str, str]]:
    """Issue 14's: the kept month needs no platform call, and the detailed document is streamed
    (its peak RSS does not grow with three times the calls)."""
    kept_name = f"billing of {DEFAULT_NUMBERS:,} numbers: a second run calls the platform 0 times"
    streamed = (f"billing of {DEFAULT_NUMBERS:,} numbers: peak RSS does not grow with the "
                "calls (3x calls <= 1.1x RSS)")
    if not run:
        return [{"target": t, "status": "not measured", "detail": "billing not run"}
                for t in (kept_name, streamed)]
    steps, where = run["steps"], f"{run['numbers']:,} numbers"

    def verdict(ok: bool) -> str:
        if run["numbers"] < DEFAULT_NUMBERS:
            return "not measured (fewer numbers)"
        return "met" if ok else "not met"

    kept = steps["billing stfc (kept)"]
    calls = kept["api_calls"]["saperx-stfc"]["total"]
    one, three = steps["billing stfc --details"], steps["billing stfc --details, 3x calls"]
    ratio = three["max_rss_kib"] / one["max_rss_kib"]
    rows = run["outputs"]
    return [
        {"target": kept_name,
         "status": verdict(kept["ok"] and calls == 0),
         "detail": f"{where}: {calls} calls, {kept['wall_s']:.2f} s (fetch: "
                   f"{steps['billing stfc']['wall_s']:.2f} s)"},
        {"target": streamed,
         "status": verdict(one["ok"] and three["ok"] and ratio <= 1.1),
         "detail": f"{where}: {one['peak_rss_mb']:.0f} MB with "
                   f"{rows['details.csv']['rows'] - 1:,} rows, {three['peak_rss_mb']:.0f} MB "
                   f"with {rows['details-3x.csv']['rows'] - 1:,} rows ({ratio:.2f}x)"},
    ]


def markdown(run: Mapping[str, Any]) -> list[str]:
    """The billing steps as a table (its own: one platform)."""
    lines = [f"Billing: {run['numbers']:,} STFC numbers, month {run['month']} (the links "
             "backdated so that the whole month is billed).", "",
             "| step | exit | wall s | CPU s | peak RSS MB | saperx-stfc calls | output |",
             "| --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    files = {"billing stfc": "month.csv", "billing stfc (kept)": "month-kept.csv",
             "billing stfc --details": "details.csv",
             "billing stfc --details, 3x calls": "details-3x.csv"}
    for name, s in run["steps"].items():
        c = s["api_calls"]["saperx-stfc"]
        out = run.get("outputs", {}).get(files.get(name, ""))
        shown = f"{out['rows'] - 1:,} rows, {out['bytes'] / 2**20:.1f} MB" if out else "-"
        lines.append(f"| {name} | {s['exit_code']} | {s['wall_s']:.2f} | {s['cpu_s']:.2f} | "
                     f"{s['peak_rss_mb']:.0f} | {c['total']} ({c['non_listing']}) | {shown} |")
    return lines
