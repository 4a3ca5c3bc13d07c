"""Planning rules for SaperX STFC: numbers (registered in blocks) and links to client services.

Numbers
- declared in a range, missing on the platform -> register (one block change per run of
  consecutive numbers of one range);
- managed (in the state), free on the platform, covered by no declared range -> delete (blocks);
- in the removal queue -> converging, never planned again;
- transmission error on the platform -> retransmit (an update of the number).

Links (a number held by a client service)
- declared, number free -> link (after the register block when the number is new);
- declared, linked to the same service -> update plan/params/holder, suspend or resume;
- declared, linked to another service: unlink when we manage that link (the new link follows once
  the removal queue frees the number), else a warning: someone else holds it;
- managed, no longer declared (service cancelled or number unassigned) -> unlink.

Objects neither declared nor managed are left alone.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from reconciler.model import Action, Change, Note, Resource, address
from reconciler.planner.core import Partial, View, block_of, runs

PLATFORM = "saperx-stfc"
LINK_FIELDS = ("service", "plan", "params", "document", "name")
COMPARED = {"number": ("country_code",), "link": (*LINK_FIELDS, "blocked")}


def plan_integration(view: View) -> Partial:
    out = Partial()
    registers = _numbers(view, out)
    _links(view, out, block_of(registers))
    return out


# -- numbers ------------------------------------------------------------------------------


def _numbers(view: View, out: Partial) -> list[Change]:
    desired = view.side("desired", "number")
    known = view.side("known", "number")
    actual = view.side("actual", "number")
    missing = [key for key in desired if key not in actual]
    registers = _register_blocks(view, missing, desired, known)
    out.changes.extend(registers)
    for key, want in desired.items():
        have = actual.get(key)
        if have is None:
            continue
        if key not in known:
            out.adopt.append(replace(want, remote_id=have.remote_id))
        if have.attrs.get("transmission") == "error" and have.attrs.get("status") != "removing":
            out.changes.append(_retransmit(view.integration, have, want))
    _stale_numbers(view, out, desired, known, actual)
    return registers


def _register_blocks(
    view: View, missing: list[str], desired: Mapping[str, Resource], known: Mapping[str, Resource]
) -> list[Change]:
    ranges = {key: desired[key].attrs.get("range", "") for key in missing}
    blocks = []
    for keys in runs(missing, same=ranges):
        first = desired[keys[0]]
        gone = [k for k in keys if k in known]
        reason = f"declared in range {ranges[keys[0]]}, missing on the platform"
        if gone:
            reason += f" ({len(gone)} registered before: removed outside the tool)"
        blocks.append(
            Change(view.integration, "number", Action.CREATE, keys, None,
                   {"country_code": first.attrs.get("country_code", 55), "range": ranges[keys[0]]},
                   reason, first.source)
        )
    return blocks


def _retransmit(integration: str, have: Resource, want: Resource) -> Change:
    return Change(integration, "number", Action.UPDATE, (have.key,),
                  {"transmission": "error"}, {"transmission": "sent"},
                  "transmission to the platform failed: retransmit", want.source)


def _stale_numbers(
    view: View,
    out: Partial,
    desired: Mapping[str, Resource],
    known: Mapping[str, Resource],
    actual: Mapping[str, Resource],
) -> None:
    """Managed numbers no declared range covers any more: delete the free ones."""
    free = []
    for key in known:
        if key in desired:
            continue
        have = actual.get(key)
        where = address(view.integration, "number", key)
        if have is None:
            out.forget.append(where)
        elif have.attrs.get("status") == "free":
            free.append(key)
        elif have.attrs.get("status") == "removing":
            out.converging.append(Note(where, view.integration,
                                       "in the removal queue; deleted once the queue frees it"))
        elif key not in view.side("known", "link") or key in view.side("desired", "link"):
            out.warnings.append(Note(where, view.integration,
                                     "no declared range covers it, but it is linked to a client "
                                     "service this tool does not manage: left alone"))
    for keys in runs(free):
        out.changes.append(Change(view.integration, "number", Action.DELETE, keys,
                                  {"status": "free"}, None,
                                  "free, and no declared range covers it any more"))


# -- links --------------------------------------------------------------------------------


def _links(view: View, out: Partial, registers: Mapping[str, Change]) -> None:
    desired = view.side("desired", "link")
    known = view.side("known", "link")
    actual = view.side("actual", "link")
    numbers = view.side("actual", "number")
    plans = {str(p.get("nome")) for p in view.catalogs.get("plans", ())}
    for key, want in desired.items():
        if plans and want.attrs["plan"] not in plans:
            out.errors.append(_unknown_plan(want, plans))
            continue
        _declared_link(view, out, want, actual.get(key), numbers.get(key), key in known,
                       registers.get(key))
    for key, have in actual.items():
        if key not in desired and key in known:
            out.changes.append(_unlink(view, have, _unlink_reason(view, have)))
    for key in known:
        if key not in actual and key not in desired:
            out.forget.append(address(view.integration, "link", key))


def _declared_link(
    view: View,
    out: Partial,
    want: Resource,
    have: Resource | None,
    number: Resource | None,
    managed: bool,
    register: Change | None,
) -> None:
    where = want.address
    service = want.attrs["service"]
    if number is not None and number.attrs.get("status") == "removing":
        out.converging.append(Note(where, view.integration,
                                   f"in the removal queue; links to service {service} once freed"))
    elif have is None:
        reason = f"assigned to service {service} ({want.attrs.get('name', '')})"
        if managed:
            reason += "; the link is missing on the platform (removed outside the tool)"
        deps = (register.id,) if register is not None else ()
        out.changes.append(Change(view.integration, "link", Action.LINK, (want.key,), None,
                                  dict(want.attrs), reason, want.source, deps))
    elif have.attrs.get("service") != service:
        _moved(view, out, want, have, managed)
    else:
        _same_service(view, out, want, have, managed)


def _moved(view: View, out: Partial, want: Resource, have: Resource, managed: bool) -> None:
    old, new = have.attrs.get("service"), want.attrs["service"]
    if managed:
        out.changes.append(_unlink(view, have, f"moves from service {old} to service {new}",
                                   want))
        out.converging.append(Note(want.address, view.integration,
                                   f"links to service {new} once the removal queue frees it"))
    else:
        out.warnings.append(Note(want.address, view.integration,
                                 f"declared for service {new}, but the platform links it to "
                                 f"service {old}, which this tool does not manage: unlink it "
                                 f"there first"))


def _same_service(view: View, out: Partial, want: Resource, have: Resource, managed: bool) -> None:
    current: dict[str, Any] = dict(have.attrs)
    deps: tuple[str, ...] = ()
    changed = [f for f in LINK_FIELDS if have.attrs.get(f) != want.attrs.get(f)]
    if changed:
        after = {**current, **{f: want.attrs.get(f) for f in LINK_FIELDS}}
        change = Change(view.integration, "link", Action.UPDATE, (want.key,), current, after,
                        "changed in the specs: " + ", ".join(changed), want.source)
        out.changes.append(change)
        current, deps = after, (change.id,)
    blocked = bool(want.attrs.get("blocked"))
    if bool(have.attrs.get("blocked")) != blocked:
        status = _service_status(view, want.attrs["service"])
        action = Action.SUSPEND if blocked else Action.RESUME
        out.changes.append(Change(view.integration, "link", action, (want.key,), current,
                                  {**current, "blocked": blocked},
                                  f"service {want.attrs['service']} is {status}",
                                  want.source, deps))
    if not changed and not managed and bool(have.attrs.get("blocked")) == blocked:
        out.adopt.append(replace(want, remote_id=have.remote_id))


def _unlink(view: View, have: Resource, reason: str, want: Resource | None = None) -> Change:
    source = want.source if want is not None else view.service(have.attrs.get("service")).get(
        "source")
    return Change(view.integration, "link", Action.UNLINK, (have.key,), dict(have.attrs), None,
                  reason, source)


def _unlink_reason(view: View, have: Resource) -> str:
    service = have.attrs.get("service")
    status = _service_status(view, service)
    if status == "cancelled":
        return f"service {service} is cancelled"
    if status is None:
        return f"service {service} is no longer declared"
    return f"number no longer assigned to service {service}"


def _service_status(view: View, service: Any) -> str | None:
    return view.service(service).get("status")


def _unknown_plan(want: Resource, plans: set[str]) -> str:
    valid = ", ".join(sorted(plans))
    where = f"{want.source}: " if want.source else ""
    return (f"{where}{want.address}: plan {want.attrs['plan']!r} is not in the plans synced from "
            f"integration {want.integration}; valid plans: {valid}")


def unmanaged(view: View) -> list[tuple[Resource, str]]:
    """Links on numbers of a declared range (or on a managed number) that the state does not
    manage and that are not the link the specs declare for that number."""
    ranges = sorted((int(r["first"]), int(r["last"]), str(r["name"]))
                    for r in view.settings.get("ranges", {}).get(view.integration, ()))
    firsts = [r[0] for r in ranges]
    managed = view.side("known", "number")
    known, desired = view.side("known", "link"), view.side("desired", "link")
    found = []
    for key, have in sorted(view.side("actual", "link").items()):
        want = desired.get(key)
        service = have.attrs.get("service")
        if key in known or (want is not None and want.attrs.get("service") == service):
            continue  # managed, or exactly what the specs declare (the next apply adopts it)
        i = bisect_right(firsts, int(key)) - 1
        if i >= 0 and int(key) <= ranges[i][1]:
            where = f"in declared range {ranges[i][2]}"
        elif key in managed:
            where = "on a number this tool manages"
        else:
            continue
        why = f"linked to service {service} {where}, which the specs do not declare"
        if want is not None:
            why = (f"linked to service {service} {where}, but the specs declare it for service "
                   f"{want.attrs.get('service')}: unlink it there first")
        found.append((have, why))
    return found
