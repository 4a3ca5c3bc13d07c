"""Planning rules for SaperX STFC: numbers (registered in blocks) and links to client services.

Numbers
- declared in a range, missing on the platform -> register (one block change per run of
  consecutive numbers of one range, at most the integration's ``batch_size``);
- managed (in the state), covered by no declared range (the range shrank or went) -> delete in
  blocks of ``batch_size``, once every number of the block is free: a linked one is unlinked
  first, whoever linked it (the safety checks refuse that unless its range says
  ``on_remove: unlink`` or the run is confirmed), and the block waits, converging, until the
  removal queue frees it: unlink, queue, free, then one bulk call;
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
from reconciler.planner.core import MAX_BLOCK, Partial, View, block_of, runs

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
    for keys in runs(missing, same=ranges, size=_batch(view)):
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
    """Managed numbers no declared range covers any more: deleted in blocks of the batch
    size, each block once all its numbers are free (its linked ones unlinked first)."""
    leaving: dict[str, Resource] = {}
    for key in known:
        if key in desired:
            continue
        if key in actual:
            leaving[key] = actual[key]
        else:
            out.forget.append(address(view.integration, "number", key))
    ranges = {key: known[key].attrs.get("range", "") for key in leaving}
    for keys in runs(leaving, same=ranges, size=_batch(view)):
        held = [key for key in keys if _holds_back(view, out, leaving[key], known[key])]
        if held:
            _wait_for_queue(view, out, keys, held, leaving)
        else:
            out.changes.append(Change(view.integration, "number", Action.DELETE, keys,
                                      {"status": "free"}, None,
                                      "free, and no declared range covers it any more"))


def _holds_back(view: View, out: Partial, have: Resource, was: Resource) -> bool:
    """Whether a number leaving the ranges holds its block back (it is not free). A linked one
    is unlinked here when nobody else does: the link rules unlink a managed link the specs
    no longer declare, and a link the specs still declare is an error."""
    status = have.attrs.get("status")
    if status != "linked":
        return status != "free"  # in the removal queue, it holds the block back too
    key = have.key
    link = view.side("actual", "link").get(key)
    want = view.side("desired", "link").get(key)
    if want is not None:
        where = f"{want.source}: " if want.source else ""
        out.errors.append(f"{where}{want.address}: number {key} is assigned to service "
                          f"{want.attrs['service']}, but {_range_gone(view, was)}: keep it "
                          f"in a range, or remove it from the service")
    elif key in view.side("known", "link"):
        pass  # a managed link the specs no longer declare: the link rules unlink it
    elif link is None:
        out.warnings.append(Note(have.address, view.integration,
                                 "no declared range covers it, but the platform shows it linked "
                                 "to no client service it names: left alone"))
    else:
        out.changes.append(_unlink(view, link, f"{_range_gone(view, was)} (linked outside "
                                               f"this tool)"))
    return True


def _wait_for_queue(view: View, out: Partial, keys: tuple[str, ...], held: list[str],
                    numbers: Mapping[str, Resource]) -> None:
    """Converging notes for a block that waits: each number holding it back says when the
    block goes, and with how many others."""
    block = f"{view.integration}.number[{keys[0]}..{keys[-1]}]"
    others = f", with the {len(keys) - 1} other numbers of {block} in one bulk call" \
        if len(keys) > 1 else ""
    for key in held:
        queued = numbers[key].attrs.get("status") == "removing"
        now = "in the removal queue" if queued else "unlinked first"
        out.converging.append(Note(address(view.integration, "number", key), view.integration,
                                   f"{now}; deleted once the queue frees it{others}"))


def _range_gone(view: View, number: Resource) -> str:
    """Why no declared range holds a managed number any more: its range shrank, or went."""
    name = number.attrs.get("range")
    declared = {r["name"] for r in view.settings.get("ranges", {}).get(view.integration, ())}
    if name in declared:
        return f"range {name} no longer holds the number"
    return f"range {name} was removed" if name else "its range was removed"


def _batch(view: View) -> int:
    """Numbers per registration or bulk removal call: the integration's ``batch_size``."""
    return int(view.options.get("batch_size", MAX_BLOCK))


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
        reason = f"service {service} is cancelled"
    elif status is None:
        reason = f"service {service} is no longer declared"
    else:
        reason = f"number no longer assigned to service {service}"
    number = view.side("known", "number").get(have.key)
    if number is not None and have.key not in view.side("desired", "number"):
        reason += f"; {_range_gone(view, number)}"
    return reason


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
