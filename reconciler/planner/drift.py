"""Drift: what the platforms hold that differs from what the tool last applied, classified.

Pure, like the rest of the planner: the same state, observation and specs always give the same
report, in address order. Four kinds (see :class:`reconciler.model.Drift`):

- ``changed``: a managed resource whose compared fields moved on the platform (the fields each
  platform descriptor lists in ``compared``; a field the state holds no value for is a
  default the platform chose and cannot drift);
- ``missing``: a managed resource gone from the platform; a content subscription the platform
  still lists as cancelled is gone too (:func:`reconciler.model.live`);
- ``unmanaged``: an object neither managed nor declared, found where the tool manages its
  neighbours. Only there: the platform holds whole estates the tool has no business listing,
  so each platform's rules module says what a neighbour is in its ``unmanaged(view)`` (a number
  in a declared range, a subscription of a declared or managed client service, or on a managed
  user or contract);
- ``converging``: the platform is still carrying out a change (a managed number in the SaperX
  removal queue); reported so a stuck queue shows, but it is not drift and never fails a run.

A platform refines what the generic rules found for its objects through its descriptor's
``refine_drift`` (SaperX STFC: the removal queue, and why a link is missing).

Putting drift back is the plan's job (`reconcile drift --fix` narrows the plan to the drifted
addresses); this module only says what moved.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.model import FINGERPRINTS, Desired, Drift, Known, Observed, Resource, address, live
from reconciler.planner.core import View, by_kind, differing
from reconciler.platforms import Platform, registry


def drift(
    known: Known,
    observed: Mapping[str, Observed],
    platforms: Mapping[str, str],
    desired: Desired | None = None,
) -> list[Drift]:
    """Every difference between the state and the observed integrations, in address order.

    ``platforms`` maps integration name to platform name (which fields are compared, and what
    a neighbour is). Without ``desired`` nothing can be called unmanaged (what the specs
    declare is unknown), so only managed resources are reported.
    """
    actual = {a: r for o in observed.values() for a, r in o.resources.items()}
    out: list[Drift] = []
    for was in known.resources.values():
        if was.integration not in observed:
            continue
        platform = registry.find(platforms.get(was.integration, ""))
        fields = platform.compared.get(was.kind, ()) if platform is not None else ()
        item = _managed(was, _observed(was, actual), actual, fields, known.resources, platform)
        if item is not None:
            out.append(item)
    if desired is not None:
        out.extend(_unmanaged(known, observed, platforms, desired))
    return sorted(out, key=lambda d: d.address)


# -- managed resources ----------------------------------------------------------------------------


def _observed(was: Resource, actual: Mapping[str, Resource]) -> Resource | None:
    """The platform's object of a managed resource: under its address, else under the id the
    platform gave it (a SIP line declared without an account code is keyed by its service in
    the specs and by the account code the platform chose on the platform)."""
    found = actual.get(was.address)
    if found is None and was.remote_id:
        found = actual.get(address(was.integration, was.kind, was.remote_id))
    return found


def _managed(
    was: Resource, now: Resource | None, actual: Mapping[str, Resource], fields: tuple[str, ...],
    managed: Mapping[str, Resource], platform: Platform | None,
) -> Drift | None:
    found = _generic(was, now, fields)
    if platform is not None and platform.refine_drift is not None:
        return platform.refine_drift(was, now, found, actual, managed)
    return found


def _generic(was: Resource, now: Resource | None, fields: tuple[str, ...]) -> Drift | None:
    """Missing (gone, or listed as cancelled) or changed in a compared field, or None."""
    addr = was.address
    if not live(now):
        return _missing(was, now)
    assert now is not None
    moved = tuple(differing(was, now, fields))
    if not moved:
        return None
    return Drift(addr, was.integration, "changed", {f: was.attrs.get(f) for f in moved},
                 {f: now.attrs.get(f) for f in moved}, moved,
                 detail="changed outside the tool: " + ", ".join(moved))


def _missing(was: Resource, now: Resource | None) -> Drift:
    addr = was.address
    if now is not None:  # listed, but cancelled: the platform keeps the record, nobody is served
        return Drift(addr, was.integration, "missing", _shown(was), {"status": "cancelled"},
                     ("status",), detail="cancelled on the platform outside the tool")
    return Drift(addr, was.integration, "missing", _shown(was), None,
                 detail="gone from the platform")


def _shown(was: Resource) -> dict[str, Any]:
    """The attributes a report shows of what was applied: all but fingerprints of secrets."""
    return {k: v for k, v in was.attrs.items() if k not in FINGERPRINTS}


# -- unmanaged objects near managed ones ----------------------------------------------------------


def _unmanaged(
    known: Known, observed: Mapping[str, Observed], platforms: Mapping[str, str], desired: Desired
) -> list[Drift]:
    want, have = by_kind(desired.resources.values()), by_kind(known.resources.values())
    out = []
    for name in sorted(observed):
        platform = registry.find(platforms.get(name, ""))
        finder = platform.unmanaged if platform is not None else None
        if finder is None:
            continue
        view = View(name, want.get(name, {}), have.get(name, {}),
                    by_kind(observed[name].resources.values()).get(name, {}),
                    observed[name].catalogs, desired.settings)
        for res, detail in finder(view):
            out.append(Drift(res.address, name, "unmanaged", None, dict(res.attrs),
                             detail=detail))
    return out
