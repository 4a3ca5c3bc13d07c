"""The planner: a pure function from desired, known and actual to a Plan.

No I/O, no clock, no randomness: the same inputs always give the same plan, in the same order.
Each platform contributes its rules (one module per platform); this module joins them, orders
the changes and checks what no single platform can see.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from reconciler.errors import PlanError
from reconciler.model import (
    Change,
    Desired,
    Estimate,
    Fingerprint,
    Known,
    Note,
    Observed,
    Plan,
    address,
    fingerprint,
)
from reconciler.planner.core import Partial, View, by_kind
from reconciler.planner.drift import drift
from reconciler.platforms import registry
from reconciler.rates import declared_rate, seconds_for

__all__ = ["drift", "plan", "touched"]
LAST = 9  # the phase of an action a kind does not order


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
        rules = registry.get(integration.platform).rules
        if rules is None or name not in observed:
            raise PlanError(f"integration {name}: no observation of platform {integration.platform}")
        view = View(name, want.get(name, {}), have.get(name, {}), actual.get(name, {}),
                    observed[name].catalogs, desired.settings, integration.options)
        part = rules(view)
        _merge(merged, part)
    merged.warnings.extend(_orphaned(desired, known, only))
    if merged.errors:
        raise PlanError("the specs cannot be planned:\n" + "\n".join(f"  {e}" for e in merged.errors))
    return Plan(
        changes=tuple(sorted(merged.changes, key=_order)),
        fingerprint=Fingerprint(known.lineage, known.serial_of(only), desired.digest),
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
    """The fingerprint of every remote object the changes touch: the resource itself and those
    its kind ``touches`` under the same key (for a link, the number it hangs on)."""
    out: dict[str, str] = {}
    for change in changes:
        obs = observed.get(change.integration)
        resources = obs.resources if obs is not None else {}
        described = registry.kind(change.kind)
        kinds = {change.kind, *described.touches} if described is not None else {change.kind}
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
    kind = registry.kind(change.kind)
    phase = kind.phases.get(change.action, LAST) if kind is not None else LAST
    return (change.integration, phase, numeric, first)


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
