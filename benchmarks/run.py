"""The benchmark runner of issue 5: one command, every figure in docs/performance.md.

    python -m benchmarks.run [--sizes 1000,10000,100000] [--out benchmarks/results.json]
                             [--markdown FILE] [--seed N] [--keep DIR] [--profile DIR]
                             [--peer octodns]

It serves the five simulators (SaperX STFC, Qualifica, Campsoft, SaperX v2, OZmap) with ``python -m
reconciler sim serve``, each in its own process on a free loopback port, with zero latency and no
faults. Then, for each N: it writes a spec set of N client services
(``benchmarks.workload.generate``, the integrations pointing at the served simulators),
converges the estate once (``apply --auto-approve``, timed and reported as "initial apply", not
a target), and measures, each as a separate CLI subprocess that takes the state lock afresh:

    validate                ``reconcile validate`` (cold: no spec cache)
    YAML floor              a child that only parses the same spec files with yaml.CSafeLoader
    YAML floor (gc off)     the same with the cyclic garbage collector disabled
    plan (cold)             ``reconcile plan --detailed-exitcode`` on the converged estate (exit 0),
                            with no spec cache under the state directory
    plan (warm)             the same again, unchanged files (the spec cache is warm)
    plan (1 file edited)    the same after a comment was appended to one client file: that file
                            is parsed again, the others come from the per-file spec cache
    plan (1% changed)       after ``workload.mutate(root, 0.01)`` (exit 2; 3 when the change goes
                            over a safety limit, whose ``--allow`` counts the apply then gets)
    apply (1%)              ``reconcile apply --auto-approve`` of that change (exit 0)
    drift                   ``reconcile drift`` (exit 0)

With ``--postgres URL`` (a server's admin URL), the converged state then moves to a new
database there (``state migrate (PostgreSQL)``), and the no-op plan, a new 1% change (plan and
apply) and drift are measured on it: the same estate, the same steps, the other backend. Every
CLI step runs with ``-v``, whose last line gives the SQL statements it sent to the state.

"Cold" means that everything under the state directory but the state database (the spec cache
in ``state/cache/``) is removed just before the step. The simulators have no rate budget, so
every integration of the generated set gets ``rate_limit: {per_second: 100000, burst: 100000}``
(``--rate-limit``; 0 keeps the tool's default of 10 requests per second, which the runner would
then measure instead of the tool).

Per step: wall time, CPU time (user + sys of the child, from ``os.wait4``), peak RSS of the child
(``ru_maxrss``), the exit code, the simulators' own CPU time, and the API calls each simulator
counted (``GET /_sim/counters`` read before and after the step; the difference is the step's).
Results go to JSON (``--out``) and to a Markdown table with the issue's targets checked
(stdout, and ``--markdown FILE``). Exit 0 when every step exited as expected, 1 otherwise
(targets not met do not change the exit code: they are findings, reported).

With ``--peer octodns`` (issue 15; octoDNS installed), each size also measures octoDNS's plan
of N DNS records beside it, in ``DIR/n<N>/octodns/`` (``benchmarks.peer_octodns``).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import os
import platform as platform_mod
import re
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import yaml

from benchmarks import billing, erp, peer_octodns, workload
from benchmarks.harness import (  # noqa: F401 (LOGIN_ROUTES, child_env: the smoke test's)
    LOGIN_ROUTES,
    PLATFORMS,
    REPO,
    BenchmarkError,
    Simulator,
    Stepper,
    child_env,
    clear_state_extras,
    cli_env,
    pg_database,
    process_peak_rss_mb,
    set_rate_limit,
    simulators,
)

DEFAULT_SIZES = (1_000, 10_000, 100_000)
MUTATE_FRACTION = 0.01

# The measured steps in order: name, expected exit code.
EXPECTED = {
    "initial apply": 0,
    "sync": 0,
    "validate": 0,
    "YAML floor": 0,
    "YAML floor (gc off)": 0,
    "plan (cold)": 0,
    "plan (warm)": 0,
    "plan (1 file edited)": 0,
    "plan (1% changed)": 2,
    "apply (1%)": 0,
    "drift": 0,
}
# With --postgres: the converged estate moved to PostgreSQL (`state migrate`), then measured
# there as on SQLite (a new 1% change of its own).
PG_EXPECTED = {
    "state migrate (PostgreSQL)": 0,
    "plan (PostgreSQL)": 0,
    "plan (1% changed, PostgreSQL)": 2,
    "apply (1%, PostgreSQL)": 0,
    "drift (PostgreSQL)": 0,
}
MEASURED = ("validate", "plan (cold)", "plan (warm)", "plan (1 file edited)", "plan (1% changed)",
            "apply (1%)", "drift")
NO_OP_PLANS = ("plan (cold)", "plan (warm)", "plan (1 file edited)")
FLOORS = ("YAML floor", "YAML floor (gc off)")
# A plan over a safety limit exits 3 and names the exact counts to allow (docs/specs.md#safety):
# the runner then passes them to the apply, as an operator who reviewed the plan would.
ALLOW_HINT = re.compile(r"pass --allow ([a-z][a-z0-9-]*\.[a-z]+=\d+)")

# The floor: a child that parses every spec file with the C loader and nothing else; with a
# second argument "gc-off", with the cyclic garbage collector disabled first.
FLOOR_CODE = """\
import gc, json, sys, time
from pathlib import Path
import yaml
if sys.argv[2:] == ["gc-off"]:
    gc.disable()
start = time.perf_counter()
files = sorted(p for p in Path(sys.argv[1]).rglob("*.yaml") if p.is_file())
for path in files:
    with open(path, "rb") as fh:
        yaml.load(fh, Loader=yaml.CSafeLoader)
print(json.dumps({"files": len(files), "parse_s": time.perf_counter() - start}))
"""


# -- one size -------------------------------------------------------------------------------


def step_timeout(n: int, step: str) -> float:
    """Generous bounds: the initial apply writes every object once, the others read them."""
    if step == "initial apply":
        return 600 + n * 0.05
    return 300 + n * 0.01


def run_size(n: int, sims: Mapping[str, Simulator], root: Path, *, seed: int,
             rate_limit: float | None, say: Any, profile: Path | None = None,
             postgres: str | None = None, cli_python: str | None = None) -> dict[str, Any]:
    """Generate, converge and measure one estate of ``n`` client services under ``root``."""
    started = time.perf_counter()
    if root.exists():
        shutil.rmtree(root)
    specs, state_dir, logs = root / "specs", root / "state", root / "logs"
    state_dir.mkdir(parents=True)
    state_db = state_dir / "reconciler.db"
    for sim in sims.values():
        sim.reset()
    sims["ports"].seed(workload.network(n))  # the boxes the services' ports are on

    say(f"N={n:,}: generating the spec set")
    t0 = time.perf_counter()
    summary = workload.generate(specs, n, seed=seed,
                                endpoints={k: s.url for k, s in sims.items()})
    if rate_limit is not None:
        set_rate_limit(specs, rate_limit)
    generate_s = time.perf_counter() - t0
    files = sorted(specs.rglob("*.yaml"))
    run: dict[str, Any] = {
        "n": n,
        "seed": seed,
        "summary": {**asdict(summary), "statuses": dict(summary.statuses)},
        "spec_files": len(files),
        "spec_bytes": sum(p.stat().st_size for p in files),
        "generate_s": round(generate_s, 3),
    }
    env = cli_env(sims, specs, state_db, other_checkout=cli_python is not None)
    # -v: the state's statement count
    cli = [cli_python or sys.executable, "-m", "reconciler", "-v"]
    step = Stepper(f"N={n:,}", sims, cwd=root, env=env, logs=logs,
                   expected={**EXPECTED, **PG_EXPECTED},
                   timeout=lambda name: step_timeout(n, name), say=say,
                   profile=profile / f"n{n}" if profile else None)
    run["steps"] = step.steps

    step("initial apply", [*cli, "apply", "--auto-approve"])
    # what the no-op plans will list, counted now (outside every step's window)
    step.objects = {k: s.listed_objects() for k, s in sims.items()}
    run["platform_objects"] = {sims[k].platform: v for k, v in step.objects.items()}
    # the catalogs into the state (plans, products, the OZmap network), as the daily job does
    step("sync", [*cli, "sync"])
    # validate and the first plan run cold: whatever the apply left beside the state database
    # (a spec cache) is removed first, and listed in the step's "cleared"
    cleared = clear_state_extras(state_dir, state_db)
    step("validate", [*cli, "validate"])["cleared"] = cleared
    for name, extra in zip(FLOORS, ([], ["gc-off"]), strict=True):
        floor = step(name, [sys.executable, "-c", FLOOR_CODE, str(specs), *extra])
        with contextlib.suppress(ValueError, OSError, IndexError):
            lines = Path(floor["log"]).read_text(encoding="utf-8").strip().splitlines()
            floor["in_process"] = json.loads(lines[-1])
    cleared = clear_state_extras(state_dir, state_db)
    step("plan (cold)", [*cli, "plan", "--detailed-exitcode"])["cleared"] = cleared
    step("plan (warm)", [*cli, "plan", "--detailed-exitcode"])
    run["edited_file"] = workload.touch_one_file(specs)
    step("plan (1 file edited)", [*cli, "plan", "--detailed-exitcode"])
    t0 = time.perf_counter()
    mutation = workload.mutate(specs, MUTATE_FRACTION, seed=seed + 1)
    run["mutated_services"], run["mutation"] = mutation.services, asdict(mutation)
    run["mutate_s"] = round(time.perf_counter() - t0, 3)
    step.objects = None  # the page check is for the no-op plans only
    plan = step("plan (1% changed)", [*cli, "plan", "--detailed-exitcode"],
                review=safety_allowances)
    allow = plan.get("over_safety_limits", [])
    step("apply (1%)", [*cli, "apply", "--auto-approve",
                        *(arg for hint in allow for arg in ("--allow", hint))])
    step("drift", [*cli, "drift"])
    if postgres:
        _on_postgres(run, step, cli, specs, pg_database(postgres, f"reconcile_bench_n{n}"),
                     seed)
    run["simulator_peak_rss_mb"] = {s.platform: process_peak_rss_mb(s.proc.pid)
                                    for s in sims.values() if s.proc is not None}
    run["total_s"] = round(time.perf_counter() - started, 1)
    say(f"N={n:,}: done in {run['total_s']:.0f} s")
    return run


def _on_postgres(run: dict[str, Any], step: Stepper, cli: list[str], specs: Path, url: str,
                 seed: int) -> None:
    """Move the converged estate's state to PostgreSQL and measure the same steps there."""
    step("state migrate (PostgreSQL)",
         [*cli, "state", "migrate", "--from", step.env["RECONCILER_STATE"], "--to", url])
    step.env = {**step.env, "RECONCILER_STATE": url}
    step("plan (PostgreSQL)", [*cli, "plan", "--detailed-exitcode"])
    mutation = workload.mutate(specs, MUTATE_FRACTION, seed=seed + 2)
    run["postgresql_mutation"] = asdict(mutation)
    plan = step("plan (1% changed, PostgreSQL)", [*cli, "plan", "--detailed-exitcode"],
                review=safety_allowances)
    allow = plan.get("over_safety_limits", [])
    step("apply (1%, PostgreSQL)", [*cli, "apply", "--auto-approve",
                                    *(arg for hint in allow for arg in ("--allow", hint))])
    step("drift (PostgreSQL)", [*cli, "drift"])


def safety_allowances(plan: dict[str, Any]) -> list[str]:
    """When the 1% plan went over a safety limit (exit 3), the ``--allow LIMIT=N`` it named:
    the plan counts as done (a reviewed plan, its exit recorded), and the apply gets them."""
    if plan["exit_code"] != 3:
        return []
    try:
        text = Path(plan["log"]).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    hints = sorted(set(ALLOW_HINT.findall(text)))
    if hints:
        plan["over_safety_limits"] = hints
        plan["ok"] = True
    return hints



# -- targets --------------------------------------------------------------------------------


def _by_n(runs: Sequence[Mapping[str, Any]]) -> dict[int, Mapping[str, Any]]:
    return {int(r["n"]): r for r in runs}


def _target(name: str, status: str, detail: str) -> dict[str, str]:
    return {"target": name, "status": status, "detail": detail}


def _failed(step: Mapping[str, Any]) -> str:
    if step["ok"]:
        return ""
    code = "a timeout" if step["timed_out"] else f"exit {step['exit_code']}"
    return f"; the step ended with {code}, expected {step['expected_exit_code']}"


def check_targets(runs: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The issue's targets, each met / not met with the numbers, or not measured (the size it
    is stated at was not run; the largest size run is then shown for orientation)."""
    by_n = _by_n(runs)
    out = []
    at = 100_000
    largest = max(by_n) if by_n else None
    ref = by_n.get(at)
    where = f"N={at:,}" if ref else (f"N={largest:,} (the target is at N={at:,}, not run)"
                                     if largest else "nothing run")

    def status(ok: bool) -> str:
        if ref is None:
            return "not measured"
        return "met" if ok else "not met"

    shown = ref or (by_n[largest] if largest else None)
    if shown is not None:
        steps = shown["steps"]
        plan, floor = steps["plan (cold)"], steps["YAML floor"]
        out.append(_target(
            "no-op plan at 100,000 <= 20 s wall", status(plan["ok"] and plan["wall_s"] <= 20),
            f"{where}: plan (cold) {plan['wall_s']:.2f} s" + _failed(plan)))
        ratio = plan["wall_s"] / floor["wall_s"] if floor["wall_s"] else math.inf
        out.append(_target(
            "no-op plan at 100,000 <= 2x the YAML parse floor",
            status(plan["ok"] and ratio <= 2),
            f"{where}: plan (cold) {plan['wall_s']:.2f} s / floor {floor['wall_s']:.2f} s "
            f"= {ratio:.1f}x"))
        peak_step = max(MEASURED, key=lambda s: steps[s]["max_rss_kib"])
        peak = steps[peak_step]["peak_rss_mb"]
        out.append(_target(
            "peak RSS at 100,000 <= 600 MB", status(peak <= 600),
            f"{where}: {peak:.0f} MB ({peak_step}; initial apply, not a target: "
            f"{steps['initial apply']['peak_rss_mb']:.0f} MB)"))
        apply = steps["apply (1%)"]
        writes = sum(c["write"] for c in apply["api_calls"].values())
        allowed = steps["plan (1% changed)"].get("over_safety_limits")
        out.append(_target(
            "apply of a 1% change at 100,000 <= 15 s",
            status(apply["ok"] and writes > 0 and apply["wall_s"] <= 15),
            f"{where}: {apply['wall_s']:.2f} s for {shown.get('mutated_services', '?')} "
            f"changed services, {writes} write calls"
            + (f" (with --allow {', '.join(allowed)})" if allowed else "") + _failed(apply)))
        warm = steps["plan (warm)"]
        out.append(_target(
            "second plan of unchanged files beats the parse floor (spec cache)",
            status(warm["ok"] and warm["wall_s"] < floor["wall_s"]),
            f"{where}: plan (warm) {warm['wall_s']:.2f} s vs floor {floor['wall_s']:.2f} s"))

    # API calls of the no-op plans, at every size run
    if by_n:
        bad, parts = [], []
        for n, run in sorted(by_n.items()):
            for name in NO_OP_PLANS:
                for platform, calls in run["steps"][name]["api_calls"].items():
                    paged = calls.get("paged_listing") or {}
                    too_many_pages = paged.get("pages", 0) > paged.get("pages_at_500", 1)
                    if calls["non_listing"] or too_many_pages:
                        bad.append(f"N={n:,} {name} {platform}: {calls['per_object_read']} "
                                   f"per-object reads, {calls['write']} writes, "
                                   f"{paged.get('pages')} pages for {paged.get('objects')} "
                                   f"objects")
            cold = run["steps"]["plan (cold)"]["api_calls"]
            parts.append(f"N={n:,}: " + ", ".join(
                f"{p} {c['listing']} listing calls"
                + (f" ({c['paged_listing']['pages']} page(s), "
                   f"{c['paged_listing']['objects_per_page']} objects/page)"
                   if c.get("paged_listing") and c["paged_listing"]["pages"] else "")
                + (f" + {c['login']} login" if c["login"] else "")
                for p, c in cold.items()))
        out.append(_target(
            "no-op plan: only paginated listings, >= 500 objects per page",
            "not met" if bad else "met", "; ".join(bad) if bad else "; ".join(parts)))

    # growth 10k -> 100k
    small, big = by_n.get(10_000), by_n.get(100_000)
    if small and big:
        worst_t = max(MEASURED, key=lambda s: big["steps"][s]["wall_s"]
                      / small["steps"][s]["wall_s"])
        worst_m = max(MEASURED, key=lambda s: big["steps"][s]["max_rss_kib"]
                      / small["steps"][s]["max_rss_kib"])
        rt = big["steps"][worst_t]["wall_s"] / small["steps"][worst_t]["wall_s"]
        rm = big["steps"][worst_m]["max_rss_kib"] / small["steps"][worst_m]["max_rss_kib"]
        out.append(_target(
            "growth 10,000 -> 100,000 <= 11x in time and memory", "met" if max(rt, rm) <= 11
            else "not met",
            f"worst time ratio {rt:.1f}x ({worst_t}: {small['steps'][worst_t]['wall_s']:.2f} s "
            f"-> {big['steps'][worst_t]['wall_s']:.2f} s); worst memory ratio {rm:.1f}x "
            f"({worst_m}: {small['steps'][worst_m]['peak_rss_mb']:.0f} MB -> "
            f"{big['steps'][worst_m]['peak_rss_mb']:.0f} MB)"))
    else:
        out.append(_target("growth 10,000 -> 100,000 <= 11x in time and memory",
                           "not measured", "needs both N=10,000 and N=100,000"))
    return out


# -- Markdown -------------------------------------------------------------------------------


STEP_ORDER = (*EXPECTED, *PG_EXPECTED)


def markdown(results: Mapping[str, Any]) -> str:
    m = results["machine"]
    lines = [
        (f"Machine: {m['cpu_count']} CPUs, {m['platform']}, Python {m['python']} "
         f"({m['python_implementation']}), {m['date']}. Rate budget per integration: "
         f"{results['config']['rate_limit_label']}. Seed {results['config']['seed']}."),
        "",
        ("| N | step | exit | wall s | CPU s | peak RSS MB | state SQL | "
         + " | ".join(f"{platform} calls" for _, platform in PLATFORMS) + " |"),
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | "
        + " | ".join("---:" for _ in PLATFORMS) + " |",
    ]
    for run in results["runs"]:
        for name in STEP_ORDER:
            s = run["steps"].get(name)
            if s is None:
                continue
            code = "timeout" if s["timed_out"] else str(s["exit_code"])
            if s.get("over_safety_limits"):
                code += " (safety limit)"
            elif not s["ok"]:
                code += f" (want {s['expected_exit_code']})"
            cells = []
            for _, platform in PLATFORMS:
                if name in FLOORS:
                    cells.append("-")
                    continue
                c = s["api_calls"][platform]
                cells.append(f"{c['total']} ({c['non_listing']})")
            sql = s.get("sql_statements")
            lines.append(f"| {run['n']:,} | {name} | {code} | {s['wall_s']:.2f} | "
                         f"{s['cpu_s']:.2f} | {s['peak_rss_mb']:.0f} | "
                         f"{'-' if sql is None else f'{sql:,}'} | " + " | ".join(cells) + " |")
    lines += [
        "",
        ("API calls: total calls the simulator counted during the step (logins and catalog "
         "reads included), and in parentheses the non-listing ones (per-object reads and "
         "writes). State SQL: the statements the command sent to the state database (an "
         "executemany counts once). Exit \"3 (safety limit)\": the 1% plan went over a "
         "safety limit; the apply was then run with the `--allow` counts the plan named."),
        "",
        "| target | status | measured |",
        "| --- | --- | --- |",
    ]
    for t in results["targets"]:
        lines.append(f"| {t['target']} | {t['status']} | {t['detail']} |")
    if results.get("billing"):
        lines += ["", *billing.markdown(results["billing"])]
    if results.get("erp"):
        lines += ["", *erp.markdown(results["erp"])]
    peer = peer_markdown(results["runs"])
    if peer:
        lines += ["", *peer]
    return "\n".join(lines) + "\n"


# Each octoDNS step beside the tool's step it compares with.
PEER_BESIDE = {peer_octodns.NO_OP: "plan (warm)", peer_octodns.CHANGED: "plan (1% changed)"}


def peer_markdown(runs: Sequence[Mapping[str, Any]]) -> list[str]:
    """The table "octoDNS beside it" (``--peer octodns``), or nothing when it was not run."""
    rows = [_peer_row(run, name, step) for run in runs
            for name, step in run.get("peer", {}).get("octodns", {}).get("steps", {}).items()]
    if not rows:
        return []
    return [
        "octoDNS beside it: octoDNS's plan (`octodns-sync` without `--doit`, YamlProvider to "
        "YamlProvider) of N DNS records in zones of 1,000, and the tool's plan at the same N.",
        "",
        "| N | step | exit | wall s | CPU s | peak RSS MB | changes | reconcile step | "
        "its wall s | its peak RSS MB |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |",
        *rows,
    ]


def _peer_row(run: Mapping[str, Any], name: str, s: Mapping[str, Any]) -> str:
    code = "timeout" if s["timed_out"] else str(s["exit_code"])
    plan = s.get("plan")
    changes = "?" if plan is None else str(plan["changes"])
    if not s["ok"]:
        code += f" (want {s['expected_exit_code']}, {s.get('expected_changes', '?')} changes)"
    mine_name = PEER_BESIDE.get(name, "")
    mine = run["steps"].get(mine_name)
    beside = (f"{mine_name} | {mine['wall_s']:.2f} | {mine['peak_rss_mb']:.0f}" if mine
              else "- | - | -")
    return (f"| {run['n']:,} | {name} | {code} | {s['wall_s']:.2f} | {s['cpu_s']:.2f} | "
            f"{s['peak_rss_mb']:.0f} | {changes} | {beside} |")


# -- main -----------------------------------------------------------------------------------


def parse_sizes(text: str) -> list[int]:
    try:
        sizes = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"numbers separated by commas, "
                                         f"not {text!r}") from None
    for n in sizes:
        if n < 1:
            raise argparse.ArgumentTypeError(f"{n} is not a number of services")
    if not sizes:
        raise argparse.ArgumentTypeError("give at least one size")
    return sizes


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description="Benchmark the reconcile CLI against served simulators (issue 5).")
    parser.add_argument("--sizes", type=parse_sizes, default=list(DEFAULT_SIZES),
                        help="client services per estate, comma-separated, e.g. "
                             "1000,10000,100000,1000000 (default 1000,10000,100000)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results.json",
                        help="JSON results file (default benchmarks/results.json)")
    parser.add_argument("--markdown", type=Path, default=None,
                        help="also write the Markdown table and target check to this file")
    parser.add_argument("--seed", type=int, default=1, help="workload seed (default 1)")
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep each estate's specs, state and logs under DIR/n<N> "
                             "(default: a temporary directory, removed at the end)")
    parser.add_argument("--profile", type=Path, default=None,
                        help="run each CLI step under cProfile, its profile written to "
                             "DIR/n<N>/<step>.prof (the timings are then the profiler's)")
    parser.add_argument("--rate-limit", type=float, default=100_000.0,
                        help="requests per second (and burst) each integration may send; the "
                             "simulators have no budget, so the default 100000 lifts the "
                             "tool's own; 0 keeps the workload's default (10/s, burst 20)")
    parser.add_argument("--billing-numbers", type=int, default=billing.DEFAULT_NUMBERS,
                        help="STFC numbers of the billing estate, billed for the last month "
                             f"(default {billing.DEFAULT_NUMBERS}; 0 skips it)")
    parser.add_argument("--erp-clients", type=int, default=erp.DEFAULT_CLIENTS,
                        help="HubSoft clients of the ERP export steps (default "
                             f"{erp.DEFAULT_CLIENTS:,}; 0 skips them)")
    parser.add_argument("--postgres", default=None, metavar="URL",
                        help="a PostgreSQL server's admin URL: each estate's state is then "
                             "moved there (a database reconcile_bench_n<N> made afresh) and "
                             "the no-op plan, a 1%% change and drift measured on it too")
    parser.add_argument("--peer", choices=["octodns"], default=None,
                        help="also measure octoDNS's plan (no-op, then 1%% changed) of N DNS "
                             "records at each size, beside the tool (needs pip install octodns)")
    parser.add_argument("--cli-python", default=None, metavar="PYTHON",
                        help="run the tool's steps with this interpreter, whose environment has "
                             "another checkout of the tool installed (the simulators, the "
                             "workload and the floor stay this checkout's): two versions "
                             "measured like for like")
    parser.add_argument("--removal-delay", type=float, default=1.0,
                        help="seconds the STFC simulator keeps an unlinked number in its "
                             "removal queue (default 1)")
    return parser.parse_args(argv)


def machine_facts() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "platform": platform_mod.platform(),
        "machine": platform_mod.machine(),
        "processor": platform_mod.processor() or None,
        "python": platform_mod.python_version(),
        "python_implementation": platform_mod.python_implementation(),
        "yaml_c_loader": hasattr(yaml, "CSafeLoader"),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    peer_version = peer_octodns.version() if args.peer == "octodns" else None
    if args.peer == "octodns" and peer_version is None:
        print("Error: --peer octodns needs octoDNS, which is not installed here: "
              "pip install octodns (or pip install -e '.[bench]').", file=sys.stderr)
        return 1
    if not hasattr(yaml, "CSafeLoader"):
        print("Error: PyYAML was built without libyaml (no yaml.CSafeLoader); the floor "
              "and the workload need it.", file=sys.stderr)
        return 1
    rate_limit = args.rate_limit if args.rate_limit > 0 else None

    def say(message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    results: dict[str, Any] = {
        "machine": machine_facts(),
        "config": {
            "sizes": args.sizes, "seed": args.seed, "mutate_fraction": MUTATE_FRACTION,
            "billing_numbers": args.billing_numbers,
            "postgresql": bool(args.postgres),
            "peer": {args.peer: peer_version} if args.peer else {},
            "rate_limit_per_second": rate_limit,
            "rate_limit_label": (f"{rate_limit:g}/s, burst {max(1, int(rate_limit))}"
                                 if rate_limit else "the tool's default (10/s, burst 20)"),
            "simulators": "python -m reconciler sim serve, loopback, no latency, no faults, "
                          f"saperx-stfc --removal-delay {args.removal_delay:g}",
        },
        "runs": [],
    }
    # SIGTERM stops the run as Ctrl-C does, so the simulators are stopped either way
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    workdir = (args.keep.resolve() if args.keep
               else Path(tempfile.mkdtemp(prefix="reconcile-bench-")))
    workdir.mkdir(parents=True, exist_ok=True)
    all_ok = True
    try:
        with simulators(workdir, args.removal_delay) as sims:
            say("simulators: " + ", ".join(f"{s.platform} {s.url}" for s in sims.values()))
            for n in args.sizes:
                run = run_size(n, sims, workdir / f"n{n}", seed=args.seed,
                               rate_limit=rate_limit, say=say, profile=args.profile,
                               postgres=args.postgres, cli_python=args.cli_python)
                results["runs"].append(run)
                all_ok &= all(s["ok"] for s in run["steps"].values())
                if args.peer == "octodns":
                    all_ok &= _run_peer(run, workdir / f"n{n}" / "octodns", args.seed, say)
                _write(args, results)  # each size as it completes
            if args.billing_numbers:
                results["billing"] = billing.run_billing(
                    args.billing_numbers, sims, workdir / "billing", seed=args.seed,
                    rate_limit=rate_limit, say=say)
                all_ok &= all(s["ok"] for s in results["billing"]["steps"].values())
            if args.erp_clients:
                results["erp"] = erp.run_erp(args.erp_clients, workdir / "erp", seed=args.seed,
                                             say=say)
                all_ok &= all(s["ok"] for s in results["erp"]["steps"].values())
    except KeyboardInterrupt:
        say("interrupted: simulators stopped; partial results kept")
        _write(args, results)
        return 130
    except BenchmarkError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        _write(args, results)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    text = _write(args, results)
    print(text)
    return 0 if all_ok else 1


def _run_peer(run: dict[str, Any], root: Path, seed: int, say: Any) -> bool:
    """octoDNS measured at the run's N, recorded under ``run["peer"]["octodns"]``; whether
    every one of its steps went as expected."""
    peer = peer_octodns.run_peer(run["n"], root, seed=seed, fraction=MUTATE_FRACTION, say=say)
    run["peer"] = {"octodns": peer}
    return all(s["ok"] for s in peer["steps"].values())


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _write(args: argparse.Namespace, results: dict[str, Any]) -> str:
    results["targets"] = [*check_targets(results["runs"]), *billing.targets(results.get("billing"))]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    text = markdown(results)
    if args.markdown is not None:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(text, encoding="utf-8")
    return text


if __name__ == "__main__":
    sys.exit(main())
