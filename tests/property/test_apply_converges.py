"""Property: for random valid spec sets, apply then plan finds nothing to do, and so does a second
apply after a random edit (statuses, assignments, ranges), on the embedded platform."""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.applier import apply
from reconciler.model import Plan
from reconciler.planner import plan as compute_plan
from reconciler.runtime import Workspace, connect, observe

PLANS = ["STFC Ilimitado", "STFC Básico 100", "STFC Controle 300"]
STATUSES = ["active", "suspended", "cancelled"]
os.environ.setdefault("PROPERTY_STFC_TOKEN", "property-token")


def cpf(seed: int) -> str:
    digits = [int(d) for d in f"{seed % 10**9:09d}"]
    for n in (10, 11):
        total = sum(d * w for d, w in zip(digits, range(n, 1, -1), strict=False))
        digits.append(total * 10 % 11 % 10)
    return "".join(map(str, digits))


@st.composite
def isp(draw: st.DrawFn) -> dict[str, Any]:
    """A spec set: up to 3 ranges of up to 12 numbers, clients holding some of them."""
    count = draw(st.integers(1, 3))
    starts = sorted(draw(st.sets(st.integers(0, 40), min_size=count, max_size=count)))
    ranges, pool = {}, []
    for i, start in enumerate(starts):
        first = 30000000 + start * 100
        size = draw(st.integers(1, 12))
        ranges[f"r{i}"] = {"integration": "stfc-p", "area_code": 11, "first": first,
                           "last": first + size - 1}
        pool += [f"11{n}" for n in range(first, first + size)]
    held = draw(st.lists(st.sampled_from(pool), unique=True, max_size=len(pool)))
    clients = []
    for i, number in enumerate(held):
        service = {"id": 1000 + i, "status": draw(st.sampled_from(STATUSES)),
                   "phone_numbers": [{"integration": "stfc-p", "number": number,
                                      "plan": draw(st.sampled_from(PLANS))}]}
        clients.append({"document": cpf(123456 + i * 7919), "name": f"Client {i}",
                        "services": [service]})
    return {"number_ranges": ranges, "clients": clients}


def write(root: Path, spec: dict[str, Any]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    integration = {"platform": "saperx-stfc", "endpoint": "embedded",
                   "credentials": {"token": "${env:PROPERTY_STFC_TOKEN}"}, "options": {"page_size": 7}}
    (root / "integrations.yaml").write_text(yaml.safe_dump({"integrations": {"stfc-p": integration}}))
    (root / "isp.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True))


async def plan_and_apply(specs: Path, state: str, *, do_apply: bool) -> Plan:
    ws = Workspace.open(specs, state)
    try:
        known = ws.known()
        async with connect(ws.select(), ws.state_dir) as providers:
            plan = compute_plan(ws.desired, known, await observe(providers))
            if do_apply:
                result = await apply(plan, providers, ws.store, concurrency=ws.concurrency())
                assert result.ok, [o for o in result.outcomes if o.status != "done"]
        return plan
    finally:
        ws.close()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=isp(), second=isp())
def test_apply_then_plan_finds_nothing_to_do(first: dict[str, Any], second: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        specs, state = Path(tmp, "specs"), f"sqlite:///{tmp}/state/reconciler.db"
        for spec in (first, second):
            write(specs, spec)
            asyncio.run(plan_and_apply(specs, state, do_apply=True))
            again = asyncio.run(plan_and_apply(specs, state, do_apply=False))
            assert again.empty, [c.id for c in again.changes]
