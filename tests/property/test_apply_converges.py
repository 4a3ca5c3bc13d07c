"""Property: for random valid spec sets, apply then plan finds nothing to do, and so does a second
apply after a random edit (statuses, assignments, ranges, plan bundles, packages), on the
embedded platforms."""

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
os.environ.setdefault("PROPERTY_CONTENT_SECRET", "property-content-secret")
PACKAGES = {
    "cursos": {"integration": "qualifica", "price": 9.9, "products": ["pro"]},
    "cursos-mais": {"integration": "qualifica", "price": 19.9, "products": ["premium", "1001"]},
    "livros": {"integration": "campsoft", "price": 9.9, "products": ["1234567"]},
    "kids": {"integration": "campsoft", "price": 5.9, "products": ["2468013"]},
}
BUNDLES = {
    "combo-a": {"packages": [{"package": "cursos", "mandatory": True}, {"package": "livros"}],
                "lock_packages": True},
    "combo-b": {"packages": [{"package": "cursos-mais"}, {"package": "kids"}]},
}


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


@st.composite
def content_isp(draw: st.DrawFn) -> dict[str, Any]:
    """Up to 8 clients on a random plan bundle (or none), with extras, exclusions and statuses;
    integrations follow delinquency or not."""
    clients = []
    for i in range(draw(st.integers(1, 8))):
        bundle = draw(st.sampled_from([None, *BUNDLES]))
        service: dict[str, Any] = {"id": 3000 + i, "login": f"user{i}",
                                   "status": draw(st.sampled_from(STATUSES))}
        defaults = [p["package"] for p in BUNDLES[bundle]["packages"]] if bundle else []
        if bundle:
            service["plan"] = bundle
            optional = [p["package"] for p in BUNDLES[bundle]["packages"] if not p.get("mandatory")]
            service["exclude_packages"] = draw(st.lists(st.sampled_from(optional), unique=True)) \
                if optional else []
        if not (bundle and BUNDLES[bundle].get("lock_packages")):
            extras = [p for p in PACKAGES if p not in defaults]
            service["packages"] = [{"package": p} for p in
                                   draw(st.lists(st.sampled_from(extras), unique=True, max_size=2))]
        clients.append({"document": cpf(654321 + i * 7919), "name": f"Client {i}",
                        "email": f"c{i}@example.com.br", "phone": f"1198765{i:04d}",
                        "services": [service]})
    follows = {name: draw(st.booleans()) for name in ("qualifica", "campsoft")}
    return {"packages": PACKAGES, "plans": BUNDLES, "clients": clients, "follows": follows}


def held(service: dict[str, Any]) -> set[str]:
    """The packages a service holds: its bundle's, less exclusions, plus extras."""
    bundle = BUNDLES.get(service.get("plan") or "", {"packages": []})
    defaults = {p["package"] for p in bundle["packages"]} - set(service.get("exclude_packages", []))
    return defaults | {p["package"] for p in service.get("packages", [])}


def write_content(root: Path, spec: dict[str, Any]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    secret = "${env:PROPERTY_CONTENT_SECRET}"
    follows = spec["follows"]
    integrations = {
        "qualifica": {"platform": "qualifica", "endpoint": "embedded",
                      "credentials": {"client_id": "prop", "client_secret": secret},
                      "options": {"page_size": 3,
                                  "suspend_on_delinquency": follows["qualifica"]}},
        "campsoft": {"platform": "campsoft", "endpoint": "embedded",
                     "credentials": {"api_key": secret, "api_secret": secret},
                     "options": {"page_size": 3, "suspend_on_delinquency": follows["campsoft"]}},
    }
    body = {k: v for k, v in spec.items() if k != "follows"}
    (root / "integrations.yaml").write_text(yaml.safe_dump({"integrations": integrations}))
    (root / "isp.yaml").write_text(yaml.safe_dump(body, allow_unicode=True))


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


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=content_isp(), second=content_isp())
def test_content_apply_then_plan_finds_nothing_to_do(first: dict[str, Any],
                                                     second: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        specs, state = Path(tmp, "specs"), f"sqlite:///{tmp}/state/reconciler.db"
        for n, spec in enumerate((first, second)):
            write_content(specs, spec)
            applied = asyncio.run(plan_and_apply(specs, state, do_apply=True))
            if n == 0:  # a fresh platform: every live service's package is a subscription to make
                live = [s for c in spec["clients"] for s in c["services"]
                        if s["status"] != "cancelled" and held(s)]
                made = {c.keys[0] for c in applied.changes if c.kind == "subscription"}
                assert bool(made) == bool(live), (live, made)
            again = asyncio.run(plan_and_apply(specs, state, do_apply=False))
            assert again.empty, [c.id for c in again.changes]
