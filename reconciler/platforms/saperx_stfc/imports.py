"""Import of SaperX STFC: whose a remote link is, and spec YAML for what no spec declares.

Numbers no declared range covers become ``number_ranges`` (consecutive numbers of one area code
coalesced); a link becomes a client (document, name) with a service (the link's service id, its
status from the block) holding the number, its plan and its parameters.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from reconciler.model import Resource
from reconciler.planner.core import runs
from reconciler.planner.imports import ImportPlan, Matching
from reconciler.specs import brazil
from reconciler.specs.generate import NUMBERS_FILE, Builder, unique


def settle(work: Matching) -> None:
    """A remote link to a service the specs declare (for other numbers, or none, or cancelled):
    held back, not unmatched, since a generated client would declare that service twice."""
    links = {str(r.attrs.get("service")): r.address for r in work.ours.values()
             if r.kind == "link"}
    entries = {str(k): v for k, v in work.services.items()}
    for addr, have in sorted(work.pending.items()):
        service = str(have.attrs.get("service"))
        if have.kind != "link" or addr in work.held or (service not in links
                                                          and service not in entries):
            continue
        entry = entries.get(service, {})
        where = f" ({entry['source']})" if entry.get("source") else ""
        if entry.get("status") == "cancelled":
            reason = (f"the platform links number {have.key} to service {service}, which the "
                      f"specs cancel{where}: the tool does not manage the link, so it will not "
                      f"unlink it; unlink it on the platform (or in the ERP)")
        else:
            reason = (f"the platform links number {have.key} to service {service}, which the "
                      f"specs declare without it{where}: add it to that service's "
                      f"phone_numbers to import it")
        work.hold((links[service],) if service in links else (), (addr,), reason)


def owner_problem(want: Resource, have: Resource) -> str | None:
    """A remote link under a declared number must link it to the service the specs declare."""
    if want.kind != "link":
        return None
    declared, linked = want.attrs.get("service"), have.attrs.get("service")
    if str(declared) == str(linked):
        return None
    return (f"the platform links number {want.key} to service {linked}, the specs to "
            f"service {declared}: not imported; fix the specs or unlink it on the platform")


def generate(builder: Builder, plan: ImportPlan) -> None:
    numbers = [r for r in plan.unmatched if r.kind == "number"]
    for res in numbers:
        try:
            brazil.normalise_fixed_line(res.key)
        except brazil.Invalid as exc:
            builder.note(NUMBERS_FILE, f"number {res.key} on {plan.integration}: {exc.message}; "
                                f"the spec language cannot declare it")
    valid = [r for r in numbers if _fixed_line(r.key)]
    by_group: dict[tuple[str, Any], list[str]] = defaultdict(list)
    for res in valid:
        by_group[(res.key[:2], res.attrs.get("country_code", 55))].append(res.key)
    taken = set(builder.specs.number_ranges) | set(builder.ranges)
    for (ddd, country), keys in sorted(by_group.items(), key=lambda g: (g[0][0], str(g[0][1]))):
        for block in runs(keys):
            name = unique(f"{plan.integration}-{block[0]}", taken)
            entry: dict[str, Any] = {"integration": plan.integration}
            if country not in (None, 55):
                entry["country_code"] = country
            entry.update({"area_code": int(ddd), "first": int(block[0][2:])})
            if len(block) > 1:
                entry["last"] = int(block[-1][2:])
            builder.ranges[name] = entry
            builder.written += len(block)
    block_on_suspend = bool(builder.specs.integrations[plan.integration].options.get(
        "block_on_suspend", True))
    for res in (r for r in plan.unmatched if r.kind == "link"):
        _link(builder, plan.integration, res, block_on_suspend)


def _link(builder: Builder, integration: str, res: Resource, block_on_suspend: bool) -> None:
    attrs = res.attrs
    what = f"number {res.key} (linked on {integration})"
    phone: dict[str, Any] = {"integration": integration, "number": res.key,
                             "plan": attrs.get("plan")}
    if attrs.get("params"):
        phone["params"] = {str(k): str(v) for k, v in dict(attrs["params"]).items()}
    plain = {"document": attrs.get("document"), "name": attrs.get("name"),
             "service": attrs.get("service"), "phone_number": phone}
    problem = None
    if str(attrs.get("plan", "")).startswith("#"):
        problem = (f"plan id {attrs['plan'][1:]} is not in the platform's plan catalog: "
                   f"fill in the plan's name")
    held = builder.holder(attrs, attrs.get("service"), what, plain, problem)
    if held is None:
        return
    service = held[1]
    service.phone_numbers.append(phone)
    blocked = bool(attrs.get("blocked"))
    service.votes.add("suspended" if blocked and block_on_suspend else "active")
    builder.written += 1


def _fixed_line(number: str) -> bool:
    try:
        brazil.normalise_fixed_line(number)
    except brazil.Invalid:
        return False
    return True
