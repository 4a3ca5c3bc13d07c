"""Import of SaperX v2: whose a remote extension is, finding a declared line without an account
code by the number it presents, and spec YAML for what no spec declares (never a password).

A line that declares its account code is matched under that key; one that does not is matched
to the platform's extension holding its caller id among its DIDs, and recorded under its own key
with the platform's account code as its remote id. Either way the extension must belong to the
line's service. Unmatched ranges become ``number_ranges``; an unmatched extension is written as
a commented ``sip_lines`` entry to add to its service (the platform knows the service id, not the
client's document, so the client cannot be written for it).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from reconciler.model import Resource
from reconciler.planner.imports import ImportPlan, Matching, recorded
from reconciler.platforms.saperx_v2.rules import COMPARED
from reconciler.specs.generate import CLIENTS_FILE, Builder, unique


def owner_problem(want: Resource, have: Resource) -> str | None:
    """An extension must belong to the line's service (its contract on the platform)."""
    if want.kind != "extension" or str(want.attrs.get("service")) == str(have.attrs.get("service")):
        return None
    return (f"the platform's extension {have.key} belongs to service {have.attrs.get('service')}, "
            f"the specs' line to service {want.attrs.get('service')}: not imported; fix the "
            f"specs or the extension's contract on the platform")


def settle(work: Matching) -> None:
    """Declared lines without an account code, found by the number they present."""
    by_did = {d["number"]: res for res in work.pending.values() if res.kind == "extension"
              for d in res.attrs.get("dids") or ()}
    for addr, want in sorted(work.ours.items()):
        if want.kind != "extension" or want.attrs.get("account_code") \
                or addr in work.observed.resources or addr in work.known.resources:
            continue
        have = by_did.get(str(want.attrs.get("caller_id")))
        if have is None or have.address not in work.pending or have.address in work.held:
            continue
        problem = owner_problem(want, have)
        if problem is not None:
            work.hold((addr,), (have.address,), problem)
            continue
        work.record.append(replace(recorded(want, have, COMPARED["extension"]), remote_id=have.key))
        del work.pending[have.address]


def generate(builder: Builder, plan: ImportPlan) -> None:
    taken = set(builder.specs.number_ranges) | set(builder.ranges)
    for res in plan.unmatched:
        if res.kind == "voip_range":
            name = unique(f"{plan.integration}-{res.key}".lower().replace(" ", "-"), taken)
            builder.ranges[name] = {"integration": plan.integration,
                                    "area_code": res.attrs.get("area_code"),
                                    "first": int(str(res.attrs.get("first"))),
                                    "last": int(str(res.attrs.get("last")))}
            builder.written += 1
        elif res.kind == "extension":
            builder.note(CLIENTS_FILE, f"SIP line {res.key} on {plan.integration}, of service "
                                f"{res.attrs.get('service')}: add this to that service's "
                                f"sip_lines (and its password: a reference, or generate)",
                         {"sip_lines": [_line(plan.integration, res)]})


def _line(integration: str, res: Resource) -> dict[str, Any]:
    attrs = res.attrs
    return {"integration": integration, "account_code": res.key,
            "line_type": attrs.get("line_type"), "plan": attrs.get("plan"),
            **({"international_plan": attrs["international_plan"]}
               if attrs.get("international_plan") else {}),
            "call_limit": attrs.get("call_limit"), "closing_day": attrs.get("closing_day"),
            "billing": attrs.get("billing"), "route": attrs.get("route"),
            "caller_id": attrs.get("caller_id"), "permissions": attrs.get("permissions"),
            "dids": [{k: v for k, v in d.items() if v is not None} for d in attrs.get("dids") or ()]}
