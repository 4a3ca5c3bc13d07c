"""The planner: a pure function from desired, known and actual to a Plan.

No I/O, no clock, no randomness: the same inputs always give the same plan, in the same order.
Each platform contributes its rules (one module per platform); this module joins them, orders
the changes and checks what no single platform can see.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from reconciler.errors import PlanError
from reconciler.model import (
    Action,
    Change,
    Desired,
    Estimate,
    Fingerprint,
    Known,
    Note,
    Observed,
    Plan,
    Resource,
    address,
    fingerprint,
)
from reconciler.planner import campsoft, qualifica, saperx_stfc
from reconciler.planner.core import Partial, View, by_kind
from reconciler.planner.drift import drift  # noqa: F401 - `from reconciler.planner import drift`
from reconciler.rates import declared_rate, seconds_for

Rules = Callable[[View], Partial]
_PLATFORMS = (saperx_stfc, qualifica, campsoft)
RULES: dict[str, Rules] = {m.PLATFORM: m.plan_integration for m in _PLATFORMS}
COMPARED: dict[str, Mapping[str, tuple[str, ...]]] = {m.PLATFORM: m.COMPARED for m in _PLATFORMS}
# What each platform calls an unmanaged object near managed ones (see planner/drift.py).
UNMANAGED: dict[str, Callable[[View], list[tuple[Resource, str]]]] = {
    m.PLATFORM: m.unmanaged for m in _PLATFORMS}

# Phase of each (kind, action) in the printed and applied order of one integration.
_PHASE = {
    ("number", Action.CREATE): 0,
    ("number", Action.UPDATE): 1,
    ("link", Action.UPDATE): 2,
    ("link", Action.LINK): 3,
    ("link", Action.SUSPEND): 4,
    ("link", Action.RESUME): 4,
    ("link", Action.UNLINK): 5,
    ("number", Action.DELETE): 6,
    ("user", Action.CREATE): 0,
    ("user", Action.UPDATE): 1,
    ("subscription", Action.UPDATE): 2,
    ("subscription", Action.CREATE): 3,
    ("subscription", Action.SUSPEND): 4,
    ("subscription", Action.RESUME): 4,
    ("subscription", Action.DELETE): 5,
}


def plan(
    desired: Desired,
    known: Known,
    observed: Mapping[str, Observed],
    *,
    only: frozenset[str] | None = None,
) -> Plan:
    """The plan that makes every observed integration match the specs.

    ``observed`` holds one observation per integration to plan (all declared ones, or those in
    ``only``). Raises PlanError when the specs cannot be planned against the platforms (a plan
    name the platform does not offer, for example), listing every such problem.
    """
    want, have, actual = by_kind(desired.resources.values()), by_kind(known.resources.values()), \
        by_kind(r for o in observed.values() for r in o.resources.values())
    merged = Partial()
    for name in sorted(desired.integrations):
        if only is not None and name not in only:
            continue
        integration = desired.integrations[name]
        rules = RULES.get(integration.platform)
        if rules is None or name not in observed:
            raise PlanError(f"integration {name}: no observation of platform {integration.platform}")
        view = View(name, want.get(name, {}), have.get(name, {}), actual.get(name, {}),
                    observed[name].catalogs, desired.settings)
        part = rules(view)
        _merge(merged, part)
    merged.warnings.extend(_orphaned(desired, known, only))
    if merged.errors:
        raise PlanError("the specs cannot be planned:\n" + "\n".join(f"  {e}" for e in merged.errors))
    return Plan(
        changes=tuple(sorted(merged.changes, key=_order)),
        fingerprint=Fingerprint(known.lineage, known.serial, desired.digest),
        adopt=tuple(sorted(merged.adopt, key=lambda r: r.address)),
        forget=tuple(sorted(merged.forget)),
        converging=tuple(sorted(merged.converging, key=lambda n: n.address)),
        warnings=tuple(merged.warnings),
        integrations=tuple(sorted(observed)),
        estimates=_estimates(desired, observed, merged.changes),
        touched=touched(merged.changes, observed),
    )


def touched(
    changes: Iterable[Change], observed: Mapping[str, Observed]
) -> dict[str, str]:
    """The fingerprint of every remote object the changes touch: the resource itself and, for
    a link, the number it hangs on."""
    out: dict[str, str] = {}
    for change in changes:
        obs = observed.get(change.integration)
        resources = obs.resources if obs is not None else {}
        kinds = {change.kind, "number"} if change.kind == "link" else {change.kind}
        for key in change.keys:
            for kind in kinds:
                addr = address(change.integration, kind, key)
                out[addr] = fingerprint(resources.get(addr))
    return out


def _estimates(
    desired: Desired, observed: Mapping[str, Observed], changes: list[Change]
) -> tuple[Estimate, ...]:
    writes: dict[str, int] = {}
    for change in changes:
        writes[change.integration] = writes.get(change.integration, 0) + 1
    out = []
    for name in sorted(observed):
        integration = desired.integrations[name]
        rate = declared_rate(integration.endpoint, integration.options.get("rate_limit"))
        n = writes.get(name, 0)
        out.append(Estimate(name, observed[name].reads, n, seconds_for(n, rate),
                            rate[0] if rate else None))
    return tuple(out)


def _merge(into: Partial, part: Partial) -> None:
    into.changes.extend(part.changes)
    into.adopt.extend(part.adopt)
    into.forget.extend(part.forget)
    into.converging.extend(part.converging)
    into.warnings.extend(sorted(part.warnings, key=lambda n: n.address))
    into.errors.extend(part.errors)


def _order(change: Change) -> tuple[str, int, int, str]:
    first = change.keys[0]
    numeric = int(first) if first.isdigit() else 0
    return (change.integration, _PHASE.get((change.kind, change.action), 9), numeric, first)


def _orphaned(desired: Desired, known: Known, only: frozenset[str] | None) -> list[Note]:
    """Integrations the state still manages resources of, but the specs no longer declare."""
    counts: dict[str, int] = {}
    for res in known.resources.values():
        if res.integration not in desired.integrations:
            counts[res.integration] = counts.get(res.integration, 0) + 1
    return [
        Note(name, name, f"the state manages {n} resources of integration {name}, which the "
                         f"specs no longer declare: left alone (declare it again to manage them)")
        for name, n in sorted(counts.items())
        if only is None or name in only
    ]
