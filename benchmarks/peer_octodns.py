"""octoDNS measured beside the reconciler (issue 15): ``python -m benchmarks.run --peer octodns``.

octoDNS (DNS as code) is the tool this project compares itself with. For an estate of N the
runner writes, under ``DIR/n<N>/octodns/``, N DNS records (A and TXT, one per service, values
drawn from a seed) in zones of 1,000 records each, one zone file per zone as the workload keeps
one spec file per 1,000 services:

    source/z0001.bench.example.yaml ...   what is declared (octoDNS's YamlProvider)
    target/z0001.bench.example.yaml ...   what is "live": a YamlProvider holding the same
                                          records, so the estate is converged
    octodns.yaml                          the configuration: every zone, source -> target

Then it measures, each a child process with the harness's :class:`Stepper` (wall, CPU, peak
RSS), octoDNS's plan, ``octodns-sync --config-file octodns.yaml`` without ``--doit``:

    octoDNS plan (no-op)        on the converged estate (no change planned)
    octoDNS plan (1% changed)   after 1% of the declared records got a new value

octoDNS runs with its defaults (``max_workers`` 1, the plan logged as text). The changes each
plan reports are read from its output (``Summary: Creates=.., Updates=.., Deletes=..`` per zone
with changes, or ``No changes were planned``); a step whose count differs from the expected one
(0, then the records changed) is not ok.
"""

from __future__ import annotations

import importlib
import random
import re
import shutil
import sys
import sysconfig
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from benchmarks.harness import BenchmarkError, Stepper, child_env

RECORDS_PER_ZONE = 1_000
DOMAIN = "bench.example."
TTL = 300
PLANS = ("fibra-300", "fibra-600", "fibra-1000")
STATUSES = ("active", "suspended", "cancelled")
NO_OP, CHANGED = "octoDNS plan (no-op)", "octoDNS plan (1% changed)"
EXPECTED = {NO_OP: 0, CHANGED: 0}  # octodns-sync exits 0 whatever its plan holds
SUMMARY = re.compile(r"Summary: Creates=(\d+), Updates=(\d+), Deletes=(\d+)")
NOTHING_PLANNED = "No changes were planned"


@dataclass(frozen=True)
class Estate:
    """An octoDNS estate written by :func:`write_estate`."""

    root: Path
    config: Path
    records: int
    zones: int


# -- availability ---------------------------------------------------------------------------


def version() -> str | None:
    """The installed octoDNS's version, or None when ``import octodns`` fails."""
    try:
        module = importlib.import_module("octodns")
    except ImportError:
        return None
    return str(getattr(module, "__version__", "unknown"))


def sync_command() -> str:
    """The ``octodns-sync`` script of this interpreter's environment (else the one on PATH)."""
    found = (shutil.which("octodns-sync", path=sysconfig.get_path("scripts"))
             or shutil.which("octodns-sync", path=str(Path(sys.executable).parent))
             or shutil.which("octodns-sync"))
    if found is None:
        raise BenchmarkError("octoDNS is importable but its octodns-sync command was not found")
    return found


# -- the estate -----------------------------------------------------------------------------


def zone_name(index: int) -> str:
    return f"z{index + 1:04d}.{DOMAIN}"


def record_name(i: int) -> str:
    return f"svc-{i:07d}"


def _a_value(rng: random.Random) -> str:
    return f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def _txt_value(rng: random.Random, i: int) -> str:
    return (f"service={i:07d} plan={rng.choice(PLANS)} status={rng.choice(STATUSES)} "
            f"ref={rng.getrandbits(48):012x}")


def record(i: int, rng: random.Random) -> dict[str, Any]:
    """Record ``i``: even ones A, odd ones TXT, their values from ``rng``."""
    if i % 2 == 0:
        return {"ttl": TTL, "type": "A", "value": _a_value(rng)}
    return {"ttl": TTL, "type": "TXT", "value": _txt_value(rng, i)}


def zones(n: int, seed: int) -> dict[str, dict[str, dict[str, Any]]]:
    """N records by zone (1,000 a zone, the last one holding the rest), deterministic."""
    rng = random.Random(seed)
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for i in range(n):
        out.setdefault(zone_name(i // RECORDS_PER_ZONE), {})[record_name(i)] = record(i, rng)
    return out


def zone_file(directory: Path, zone: str) -> Path:
    return directory / f"{zone}yaml"  # the zone's name ends with its dot


def write_zone(directory: Path, zone: str, records: Mapping[str, Any]) -> None:
    # sorted keys: octoDNS's YamlProvider enforces the (natural) order of every mapping
    text = yaml.dump(dict(records), Dumper=yaml.CSafeDumper, sort_keys=True,
                     default_flow_style=False)
    zone_file(directory, zone).write_text("---\n" + text, encoding="utf-8")


def provider(directory: Path) -> dict[str, Any]:
    return {"class": "octodns.provider.yaml.YamlProvider", "directory": str(directory),
            "default_ttl": 3600, "enforce_order": True, "escaped_semicolons": True}


def config(root: Path, names: list[str]) -> dict[str, Any]:
    return {
        "providers": {"source": provider(root / "source"), "target": provider(root / "target")},
        "zones": {name: {"sources": ["source"], "targets": ["target"]} for name in names},
    }


def write_estate(root: Path, n: int, *, seed: int) -> Estate:
    """A converged octoDNS estate of ``n`` records under ``root`` (emptied first)."""
    if root.exists():
        shutil.rmtree(root)
    by_zone = zones(n, seed)
    for side in ("source", "target"):
        (root / side).mkdir(parents=True)
        for zone, records in by_zone.items():
            write_zone(root / side, zone, records)
    path = root / "octodns.yaml"
    path.write_text(yaml.dump(config(root, list(by_zone)), Dumper=yaml.CSafeDumper,
                              sort_keys=False), encoding="utf-8")
    return Estate(root=root, config=path, records=n, zones=len(by_zone))


def mutate(estate: Estate, fraction: float, *, seed: int) -> int:
    """Give ``fraction`` of the declared records (at least one) a new value, rewriting only
    the source zone files that hold them; the number of records changed."""
    rng = random.Random(seed)
    count = max(1, round(estate.records * fraction))
    chosen = sorted(rng.sample(range(estate.records), count))
    by_zone: dict[int, list[int]] = {}
    for i in chosen:
        by_zone.setdefault(i // RECORDS_PER_ZONE, []).append(i)
    source = estate.root / "source"
    for index, indexes in by_zone.items():
        zone = zone_name(index)
        records = yaml.load(zone_file(source, zone).read_text(encoding="utf-8"),
                            Loader=yaml.CSafeLoader)
        for i in indexes:
            records[record_name(i)] = _changed(records[record_name(i)], i, rng)
        write_zone(source, zone, records)
    return count


def _changed(data: dict[str, Any], i: int, rng: random.Random) -> dict[str, Any]:
    """The record with a new value (drawn until it differs from the old one)."""
    while True:
        new = _a_value(rng) if data["type"] == "A" else _txt_value(rng, i)
        if new != data["value"]:
            return {**data, "value": new}


# -- the plan's output ----------------------------------------------------------------------


def plan_changes(text: str) -> dict[str, int] | None:
    """The changes an ``octodns-sync`` plan logged: zones with changes, creates, updates,
    deletes and their total; None when its output holds no plan at all (it failed)."""
    found = [tuple(int(g) for g in m.groups()) for m in SUMMARY.finditer(text)]
    if not found and NOTHING_PLANNED not in text:
        return None
    creates, updates, deletes = (sum(f[k] for f in found) for k in range(3))
    return {"zones_with_changes": len(found), "creates": creates, "updates": updates,
            "deletes": deletes, "changes": creates + updates + deletes}


def expect_changes(count: int, say: Callable[[str], None]) -> Callable[[dict[str, Any]], None]:
    """A step review: record the plan's changes; the step is ok only with ``count`` of them."""

    def review(step: dict[str, Any]) -> None:
        text = Path(step["log"]).read_text(encoding="utf-8", errors="replace")
        plan = step["plan"] = plan_changes(text)
        step["expected_changes"] = count
        if step["ok"] and (plan is None or plan["changes"] != count):
            step["ok"] = False
            say(f"octoDNS planned {'nothing readable' if plan is None else plan['changes']} "
                f"changes, expected {count}; see {step['log']}")

    return review


# -- the measured steps ---------------------------------------------------------------------


def step_timeout(n: int) -> float:
    return 300 + n * 0.01


def run_peer(n: int, root: Path, *, seed: int, fraction: float,
             say: Callable[[str], None]) -> dict[str, Any]:
    """Write the octoDNS estate of ``n`` records under ``root`` and measure its two plans."""
    found = version()
    if found is None:
        raise BenchmarkError("octoDNS is not installed (pip install octodns)")
    say(f"N={n:,}: octoDNS {found}: writing {n:,} records")
    estate = write_estate(root, n, seed=seed)
    step = Stepper(f"N={n:,} octoDNS", {}, cwd=root, env=child_env(), logs=root / "logs",
                   expected=EXPECTED, timeout=lambda name: step_timeout(n), say=say)
    argv = [sync_command(), "--config-file", str(estate.config)]
    step(NO_OP, argv, review=expect_changes(0, say))
    changed = mutate(estate, fraction, seed=seed + 1)
    step(CHANGED, argv, review=expect_changes(changed, say))
    facts = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(estate).items()}
    return {"version": found, **facts, "changed_records": changed, "steps": step.steps}
