"""The ERP export (issue 17), measured by ``python -m benchmarks.run --erp-clients N``.

A HubSoft simulator of its own, served with N generated clients (about 8% hold two services),
then ``reconcile erp export`` into an empty directory, each step a child process (wall, CPU,
peak RSS):

    erp export              the first export: every page read, every file written
    erp export (re-run)     the same ERP again: the files must come out byte for byte the same
                            (``byte_stable``), nothing written
    erp export (1 change)   after one service was suspended in the ERP: exactly two changed
                            lines (``changed_lines``, the status line out and in)
"""

from __future__ import annotations

import difflib
import hashlib
import re
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.harness import Simulator, child_env, measure

SOURCE = "hubsoft-bench"
ENABLED = re.compile(r"- id: (\d+)\n(?:.*\n)?        status: active  # \S+ servico_habilitado")
DEFAULT_CLIENTS = 100_000
SPECS = """\
erp_sources:
  {source}:
    kind: hubsoft
    url: {url}
    credentials: {{client_id: sim-client, client_secret: "${{env:HS_SECRET}}",
                  username: sim@isp.example, password: "${{env:HS_SECRET}}"}}
"""


def timeout(clients: int) -> float:
    return 120 + clients * 0.005


def run_erp(clients: int, root: Path, *, seed: int, say: Callable[[str], None]) -> dict[str, Any]:
    """Export ``clients`` HubSoft clients three times under ``root``; the figures of each."""
    started = time.perf_counter()
    if root.exists():
        shutil.rmtree(root)
    specs, logs = root / "specs", root / "logs"
    specs.mkdir(parents=True)
    sim = Simulator("erp", "hubsoft", root, 0.0, extra=("--clients", str(clients), "--seed",
                                                        str(seed)))
    sim.start()
    try:
        (specs / "erp.yaml").write_text(SPECS.format(source=SOURCE, url=sim.url), encoding="utf-8")
        env = child_env(HS_SECRET=sim.secret)
        argv = [sys.executable, "-m", "reconciler", "erp", "export", "--specs", "specs", "--source",
                SOURCE, "--out", f"specs/erp/{SOURCE}"]
        steps: dict[str, dict[str, Any]] = {}

        def step(name: str, now: str) -> dict[str, Any]:
            say(f"ERP {clients:,}: {name} ...")
            result = measure([*argv, "--now", now], cwd=root, env=env,
                             log=logs / f"{name.replace(' ', '-')}.log", timeout=timeout(clients))
            result["ok"] = result["exit_code"] == 0
            steps[name] = result
            return result

        out = specs / "erp" / SOURCE
        step("erp export", "2026-12-01T00:00")
        first = _texts(out)
        rerun = step("erp export (re-run)", "2026-12-02T00:00")
        rerun["byte_stable"] = _texts(out) == first
        rerun["ok"] &= rerun["byte_stable"]
        assert sim.admin is not None
        active = ENABLED.search("".join(first.values()))
        if active is not None:
            sim.admin.patch(f"/_sim/services/{active.group(1)}",
                            json={"status_prefixo": "suspenso_debito"}).raise_for_status()
        change = step("erp export (1 change)", "2026-12-03T00:00")
        lines = _changed(first, _texts(out))
        change["changed_lines"] = len(lines)
        change["ok"] &= len(lines) == 2
        files = sorted(out.glob("*.yaml"))
        return {
            "clients": clients,
            "services": sum(t.count("\n      - id: ") for t in first.values()),
            "files": len(files),
            "bytes": sum(p.stat().st_size for p in files),
            "digest": hashlib.sha256("".join(first.values()).encode()).hexdigest()[:16],
            "simulator": "python -m reconciler sim serve --platform hubsoft, loopback",
            "steps": steps,
            "total_s": round(time.perf_counter() - started, 1),
        }
    finally:
        sim.stop()


def _texts(directory: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(directory.glob("*.yaml"))}


def _changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    out = []
    for name in sorted(before.keys() | after.keys()):
        diff = difflib.unified_diff(before.get(name, "").splitlines(),
                                    after.get(name, "").splitlines(), lineterm="", n=0)
        out += [x for x in diff if x[:1] in "+-" and x[:3] not in ("+++", "---")]
    return out


def markdown(run: dict[str, Any]) -> list[str]:
    """The export steps as a table (their own: one ERP)."""
    lines = [f"ERP export: {run['clients']:,} HubSoft clients, {run['services']:,} services "
             f"exported into {run['files']} files ({run['bytes'] / 2**20:.1f} MB).", "",
             "| step | exit | wall s | CPU s | peak RSS MB | check |",
             "| --- | ---: | ---: | ---: | ---: | --- |"]
    for name, s in run["steps"].items():
        check = ("byte-stable" if s.get("byte_stable") else "changed!") if "byte_stable" in s \
            else f"{s['changed_lines']} lines changed" if "changed_lines" in s else "-"
        lines.append(f"| {name} | {s['exit_code']} | {s['wall_s']:.2f} | {s['cpu_s']:.2f} | "
                     f"{s['peak_rss_mb']:.0f} | {check} |")
    return lines
