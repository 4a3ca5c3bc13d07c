"""The parts of the benchmark that measure (issue 5): the simulators served in their own
processes, one CLI command run and measured as a child process (:class:`Stepper`), and the API
calls each simulator counted during it. ``benchmarks.run`` (the estates of N services) and
``benchmarks.billing`` (a month of STFC charges) are built on it."""

from __future__ import annotations

import contextlib
import math
import os
import re
import secrets
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import httpx
import yaml

from benchmarks import workload
from reconciler.platforms.saperx_v2 import sim as v2_sim

REPO = Path(__file__).resolve().parents[1]
START_TIMEOUT = 30.0  # seconds for a simulator to answer its admin API
STOP_TIMEOUT = 10.0
HTTP_TIMEOUT = 120.0  # admin calls (counters of a 1M estate are large)
PAGE_SIZE_TARGET = 500

# The platforms in the order the table shows them: key in workload.ENV/endpoints, platform name.
PLATFORMS = (("stfc", "saperx-stfc"), ("qualifica", "qualifica"), ("campsoft", "campsoft"),
             ("voip", "saperx-v2"), ("ports", "ozmap"))
# Logins, and SaperX v2's token renewal by its refresh token, which takes the place of one.
LOGIN_ROUTES = frozenset({"POST /oauth/token", "POST /authentication", "POST /api/v2/auth/token",
                          "POST /api/v2/auth/refresh", "POST /api/v2/users/login"})
# The paginated listing of each platform whose objects the page-size check counts (SaperX v2
# also lists its few number ranges, one page).
PAGED_LISTINGS = {"saperx-stfc": "GET /api/numeros", "qualifica": "GET /usuarios",
                  "campsoft": "GET /subscriptions", "saperx-v2": "GET /api/v2/extensions",
                  "ozmap": "GET /api/v2/properties"}
# What `reconcile sim serve --platform saperx-v2` accepts besides the secret (SIM_TOKEN).
V2_LOGIN = {"username": v2_sim.DEFAULT_USERNAME, "password": v2_sim.DEFAULT_PASSWORD,
            "api_key": v2_sim.DEFAULT_API_KEY}
# How the runner logs in to a simulator to count its objects: route, body for the secret, the
# token's field in the answer (SaperX STFC takes the secret itself as its bearer token).
SIM_LOGINS: dict[str, tuple[str, Callable[[str], dict[str, str]], str]] = {
    "qualifica": ("/oauth/token", lambda secret: {"grant_type": "client_credentials",
                                                   "client_id": "sim-client",
                                                   "client_secret": secret}, "access_token"),
    "campsoft": ("/authentication", lambda secret: {"ApiKey": "sim-key", "ApiSecret": secret},
                 "AccessToken"),
    "saperx-v2": ("/api/v2/auth/token", lambda secret: {**V2_LOGIN, "api_secret": secret},
                  "access_token"),
}
# The query of a one-item page of each paged listing, and where its answer gives the total.
LISTING_TOTALS: dict[str, tuple[dict[str, int], tuple[str, ...]]] = {
    "saperx-stfc": ({"pagina": 0, "itens_por_pagina": 1}, ("paginacao", "total_registros")),
    "qualifica": ({"pagina": 0, "por_pagina": 1}, ("total",)),
    "campsoft": ({"page": 1, "per_page": 1}, ("total",)),
    "saperx-v2": ({"page": 1, "per_page": 1}, ("total",)),
    "ozmap": ({"page": 1, "limit": 1}, ("total",)),
}

# `python -m reconciler ARGS` under cProfile, its exit code kept (`python -m cProfile` loses
# the code sys.exit gives): argv[1] is the profile's file, the rest the CLI's arguments.
PROFILE_CODE = """
import cProfile, runpy, sys
out, sys.argv = sys.argv[1], ["reconcile", *sys.argv[2:]]
profile = cProfile.Profile()
try:
    profile.runcall(runpy.run_module, "reconciler", run_name="__main__", alter_sys=True)
finally:
    profile.dump_stats(out)
"""


class BenchmarkError(Exception):
    """The benchmark could not go on (a simulator did not start, a step timed out...)."""


# -- measuring a child process --------------------------------------------------------------


def measure(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], log: Path,
            timeout: float) -> dict[str, Any]:
    """Run ``argv`` to completion and return its wall time, CPU time (user + sys), peak RSS
    (``ru_maxrss``, KiB on Linux) and exit code. stdout and stderr go to ``log``. A child still
    running after ``timeout`` seconds is killed (exit code recorded as ``None``, ``timed_out``)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(list(argv), cwd=cwd, env=dict(env), stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            timed_out = not _wait_exit(proc.pid, timeout)
            if timed_out:
                os.kill(proc.pid, signal.SIGKILL)
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - start
        except BaseException:  # Ctrl-C or anything else: never leave the child behind
            with contextlib.suppress(ProcessLookupError, ChildProcessError):
                os.kill(proc.pid, signal.SIGKILL)
                os.wait4(proc.pid, 0)
            proc.returncode = -9
            raise
    proc.returncode = os.waitstatus_to_exitcode(status)  # keeps Popen from waiting again
    return {
        "argv": [Path(a).name if a == sys.executable else a for a in argv],
        "exit_code": None if timed_out else proc.returncode,
        "timed_out": timed_out,
        "wall_s": round(wall, 4),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 4),
        "user_s": round(usage.ru_utime, 4),
        "sys_s": round(usage.ru_stime, 4),
        "max_rss_kib": usage.ru_maxrss,
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "log": str(log),
    }


def _wait_exit(pid: int, timeout: float) -> bool:
    """Block until process ``pid`` has exited (not reaped) or ``timeout`` passed; True if it
    exited. Uses a pidfd where the OS has one (exact, no polling), else polls."""
    if hasattr(os, "pidfd_open"):
        try:
            fd = os.pidfd_open(pid)
        except OSError:
            fd = -1
        if fd >= 0:
            try:
                ready, _, _ = select.select([fd], [], [], timeout)
                return bool(ready)
            finally:
                os.close(fd)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:  # exited but not reaped: waitid with WNOWAIT sees it
        if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
            return True
        time.sleep(0.005)
    return False


def process_cpu(pid: int) -> float | None:
    """User + system CPU seconds process ``pid`` has used so far (Linux /proc), else None."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def process_peak_rss_mb(pid: int) -> float | None:
    """Peak resident set (VmHWM) of a live process in MiB (Linux /proc), else None."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError):
        pass
    return None


# -- the simulators -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Simulator:
    """One platform simulator served by ``python -m reconciler sim serve`` in its own process."""

    def __init__(self, key: str, platform: str, log_dir: Path, removal_delay: float,
                 extra: Sequence[str] = ()) -> None:
        self.key, self.platform, self.extra = key, platform, tuple(extra)
        self.secret = f"bench-{key}-" + secrets.token_hex(12)
        self.removal_delay = removal_delay
        self.log_path = log_dir / f"sim-{platform}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.admin: httpx.Client | None = None
        self._log: IO[bytes] | None = None
        self._token: str | None = None

    # lifecycle
    def start(self) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        cmd = [sys.executable, "-m", "reconciler", "sim", "serve", "--platform", self.platform,
               "--port", str(port)]
        if self.platform == "saperx-stfc":
            cmd += ["--removal-delay", str(self.removal_delay)]
        cmd += self.extra
        self._log = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop); a file, not a pipe
        # its own session: a Ctrl-C at the terminal reaches the runner, which stops it cleanly
        self.proc = subprocess.Popen(cmd, env=child_env(SIM_TOKEN=self.secret),
                                     stdout=subprocess.DEVNULL, stderr=self._log,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        self.admin = httpx.Client(base_url=self.url, timeout=HTTP_TIMEOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                self.admin.get("/_sim/counters", timeout=2).raise_for_status()
                return
            except httpx.TransportError as exc:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise BenchmarkError(f"the {self.platform} simulator did not start: "
                                         f"{self.log_path.read_text(errors='replace')[-2000:]}") from exc
                time.sleep(0.1)

    def stop(self) -> None:
        if self.admin is not None:
            self.admin.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT)
        if self._log is not None:
            self._log.close()
            self._log = None

    # admin API (never counted by the simulator)
    def reset(self) -> None:
        """Empty the platform (and its counters), and switch every fault off."""
        assert self.admin is not None
        self.admin.post("/_sim/reset").raise_for_status()
        self._token = None
        faults = {"latency": 0.0, "error_rate": 0.0, "rate_limit_rate": 0.0}
        if self.platform == "saperx-stfc":
            faults["removal_delay"] = self.removal_delay
        else:
            faults.update(drop_rate=0.0, lost_response_rate=0.0)
        self.configure(faults)

    def seed(self, body: Mapping[str, Any]) -> None:
        """Seed the platform with what the operator did not create through the tool (OZmap's
        network: ``POST /_sim/seed``; never counted as the platform's traffic)."""
        self.admin_post("/_sim/seed", body)

    def configure(self, settings: Mapping[str, Any]) -> None:
        """Change the simulator's settings (``POST /_sim/config``)."""
        self.admin_post("/_sim/config", settings)

    def admin_post(self, path: str, body: Mapping[str, Any]) -> Any:
        assert self.admin is not None
        answer = self.admin.post(path, json=dict(body))
        answer.raise_for_status()
        return answer.json()

    def counters(self) -> dict[str, Any]:
        assert self.admin is not None
        data = self.admin.get("/_sim/counters").json()
        writes = sum(sum(ops.values()) for ops in data.get("writes", {}).values())
        return {"requests": dict(data.get("requests", {})), "writes": writes,
                "logins": data.get("logins", 0)}

    def cpu_s(self) -> float | None:
        return process_cpu(self.proc.pid) if self.proc is not None else None

    # the platform's own API, to count what is on it (these calls are counted by the
    # simulator, so the runner makes them only between steps, outside any step's window)
    def _auth(self) -> dict[str, str]:
        assert self.admin is not None
        if self.platform == "saperx-stfc":
            return {"Authorization": f"Bearer {self.secret}"}
        if self.platform == "ozmap":
            return {"Authorization": self.secret}  # OZmap takes its API key as it is
        if self._token is None:
            route, body, field = SIM_LOGINS[self.platform]
            answer = self.admin.post(route, json=body(self.secret))
            answer.raise_for_status()
            self._token = str(answer.json()[field])
        return {"Authorization": f"Bearer {self._token}"}

    def listed_objects(self) -> int:
        """How many objects the platform's paginated listing holds (numbers, users,
        subscriptions, SIP extensions), from one page of one item."""
        assert self.admin is not None
        params, total = LISTING_TOTALS[self.platform]
        answer = self.admin.get(PAGED_LISTINGS[self.platform].partition(" ")[2], params=params,
                                headers=self._auth())
        answer.raise_for_status()
        found: Any = answer.json()
        for name in total:
            found = found[name]
        return int(found)


@contextlib.contextmanager
def simulators(log_dir: Path, removal_delay: float) -> Iterator[dict[str, Simulator]]:
    """The four simulators, started, and always stopped afterwards (also on Ctrl-C)."""
    sims = {key: Simulator(key, name, log_dir, removal_delay) for key, name in PLATFORMS}
    try:
        for sim in sims.values():
            sim.start()
        yield sims
    finally:
        for sim in sims.values():
            sim.stop()


def calls_between(before: Mapping[str, Any], after: Mapping[str, Any], platform: str,
                  objects: int | None = None) -> dict[str, Any]:
    """The API calls a simulator counted between two snapshots, by route and by kind:
    listing (GET of a collection, no path parameter), login, per-object read (GET of one
    object) and write (anything else); ``non_listing`` = per-object reads + writes."""
    routes = {route: n - before["requests"].get(route, 0)
              for route, n in after["requests"].items()}
    routes = {route: n for route, n in sorted(routes.items()) if n}
    kinds = {"listing": 0, "login": 0, "per_object_read": 0, "write": 0}
    for route, n in routes.items():
        method, _, path = route.partition(" ")
        if route in LOGIN_ROUTES:
            kinds["login"] += n
        elif method == "GET":
            kinds["per_object_read" if "{" in path else "listing"] += n
        else:
            kinds["write"] += n
    out: dict[str, Any] = {
        "platform": platform,
        "requests": routes,
        "total": sum(routes.values()),
        **kinds,
        "non_listing": kinds["per_object_read"] + kinds["write"],
        "writes_that_changed": after["writes"] - before["writes"],
    }
    paged = PAGED_LISTINGS[platform]
    if objects is not None:
        pages = routes.get(paged, 0)
        out["paged_listing"] = {"route": paged, "objects": objects, "pages": pages,
                                "objects_per_page": round(objects / pages, 1) if pages else None,
                                "pages_at_500": max(1, math.ceil(objects / PAGE_SIZE_TARGET))}
    return out


# -- the environment of the CLI -------------------------------------------------------------


def child_env(*, other_checkout: bool = False, **extra: str) -> dict[str, str]:
    """This checkout importable even when not installed (unless the child runs another
    checkout, installed in its own interpreter's environment); no stray reconciler settings."""
    mine = "" if other_checkout else str(REPO)
    path = os.pathsep.join(p for p in (mine, os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONPATH": path, "NO_COLOR": "1", "COLUMNS": "200", **extra}
    for name in ("RECONCILER_STATE", "RECONCILER_SPECS"):
        if name not in extra:
            env.pop(name, None)
    return env


def cli_env(sims: Mapping[str, Simulator], specs: Path, state_db: Path, *,
            other_checkout: bool = False) -> dict[str, str]:
    return child_env(other_checkout=other_checkout, **{
        workload.ENV["stfc"]: sims["stfc"].secret,
        workload.ENV["qualifica"]: sims["qualifica"].secret,
        workload.ENV["campsoft_key"]: "sim-key",
        workload.ENV["campsoft"]: sims["campsoft"].secret,
        workload.ENV["voip_password"]: V2_LOGIN["password"],
        workload.ENV["voip_key"]: V2_LOGIN["api_key"],
        workload.ENV["voip"]: sims["voip"].secret,
        workload.ENV["sip_line"]: "bench-sip-" + secrets.token_hex(8),
        workload.ENV["ports"]: sims["ports"].secret,
        "RECONCILER_SPECS": str(specs),
        "RECONCILER_STATE": f"sqlite:///{state_db}",
    })


def set_rate_limit(specs: Path, per_second: float) -> None:
    """Give every integration of the generated set a rate budget of ``per_second`` (burst the
    same, at least 1): the workload leaves it at the tool's default for a URL endpoint (10
    requests per second), which would make the runner measure the budget, not the tool."""
    path = specs / "integrations.yaml"
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
    for integration in data["integrations"].values():
        integration["rate_limit"] = {"per_second": per_second, "burst": max(1, int(per_second))}
    path.write_text(yaml.dump(data, Dumper=yaml.CSafeDumper, allow_unicode=True,
                              sort_keys=False), encoding="utf-8")


def clear_state_extras(state_dir: Path, db: Path) -> list[str]:
    """Remove everything under the state directory but the state database (and its SQLite
    companions), so that a cold step finds no spec cache an earlier command left there
    (``state/cache/`` today); returns the names removed."""
    removed = []
    keep = {db.name, db.name + "-wal", db.name + "-shm", db.name + "-journal"}
    for entry in sorted(state_dir.iterdir()) if state_dir.is_dir() else ():
        if entry.name in keep:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
        removed.append(entry.name)
    return removed


def sql_statements(log: Path) -> int | None:
    """The SQL statements the step's state store sent, from its ``-v`` log line (None when the
    step is not a CLI command run with ``-v``)."""
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    found = re.findall(r"reconciler\.state\.store: state .*: (\d+) SQL statements", text)
    return sum(int(n) for n in found) if found else None


def pg_database(admin_url: str, name: str) -> str:
    """A new, empty PostgreSQL database ``name`` on the server of ``admin_url`` (dropped
    first if a previous run left it); its URL."""
    import psycopg

    plain = admin_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    base = admin_url if "+psycopg" in admin_url else admin_url.replace(
        "postgresql://", "postgresql+psycopg://", 1)
    return base.rsplit("/", 1)[0] + "/" + name


def slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-").replace("--", "-")



# -- one measured step ----------------------------------------------------------------------


class Stepper:
    """Runs the measured steps of one estate: each a child process (:func:`measure`), with
    the API calls and the CPU time each simulator spent during it, kept in ``steps`` by name.

    ``expected`` is each step's expected exit code; ``timeout(name)`` its bound in seconds.
    ``objects`` (what each platform's paged listing holds), when set, adds the page check to
    the calls. ``profile``, a directory: each CLI step runs under cProfile and leaves
    ``<step>.prof`` there (its figures are then the profiler's, not the tool's)."""

    def __init__(self, label: str, sims: Mapping[str, Simulator], *, cwd: Path,
                 env: Mapping[str, str], logs: Path, expected: Mapping[str, int],
                 timeout: Callable[[str], float], say: Callable[[str], None],
                 profile: Path | None = None) -> None:
        self.label, self.sims, self.cwd, self.env, self.logs = label, sims, cwd, env, logs
        self.expected, self.timeout, self.say = expected, timeout, say
        self.profile = profile
        self.objects: dict[str, int] | None = None
        self.steps: dict[str, dict[str, Any]] = {}

    def __call__(self, name: str, argv: Sequence[str],
                 review: Callable[[dict[str, Any]], Any] | None = None) -> dict[str, Any]:
        sims, expected = self.sims, self.expected[name]
        self.say(f"{self.label}: {name} ...")
        before = {k: s.counters() for k, s in sims.items()}
        cpu_before = {k: s.cpu_s() for k, s in sims.items()}
        if self.profile is not None and list(argv[:3]) == [sys.executable, "-m", "reconciler"]:
            self.profile.mkdir(parents=True, exist_ok=True)
            argv = [sys.executable, "-c", PROFILE_CODE, str(self.profile / f"{slug(name)}.prof"),
                    *argv[3:]]
        result = measure(argv, cwd=self.cwd, env=self.env, log=self.logs / f"{slug(name)}.log",
                         timeout=self.timeout(name))
        cpu_after = {k: s.cpu_s() for k, s in sims.items()}
        after = {k: s.counters() for k, s in sims.items()}
        result["expected_exit_code"] = expected
        result["ok"] = result["exit_code"] == expected
        result["sql_statements"] = sql_statements(Path(result["log"]))
        if review is not None:
            review(result)
        result["api_calls"] = {
            s.platform: calls_between(before[k], after[k], s.platform,
                                      self.objects.get(k) if self.objects else None)
            for k, s in sims.items()}
        result["simulator_cpu_s"] = {
            s.platform: _spent(cpu_before[k], cpu_after[k]) for k, s in sims.items()}
        self.steps[name] = result
        self.say(f"{self.label}: {name}: exit {result['exit_code']}, {result['wall_s']:.2f} s "
                 f"wall, {result['cpu_s']:.2f} s CPU, {result['peak_rss_mb']:.0f} MB"
                 + (f" (over safety limits: {', '.join(result['over_safety_limits'])})"
                    if result.get("over_safety_limits") else "")
                 + ("" if result["ok"] else f"  <-- expected exit {expected}, see "
                    f"{result['log']}"))
        if result["timed_out"]:
            raise BenchmarkError(f"{self.label}: {name} did not finish within "
                                 f"{self.timeout(name):.0f} s (killed); see {result['log']}")
        return result


def _spent(before: float | None, after: float | None) -> float | None:
    return round(after - before, 3) if after is not None and before is not None else None
