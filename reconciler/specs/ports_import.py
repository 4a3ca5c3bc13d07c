"""Import of customer ports (OZmap, Geosite), shared by both: whose a client on a port is, and
spec YAML for the ports no spec declares.

A client on a port is matched to the declared service of its code (the ERP's id_cliente_servico)
when its document is the service's client's too; a different document holds it back, never
adopted. An unmatched client becomes a ``port:`` of a generated service (its code, document and
name are all the platform knows); one that cannot be identified (no service id, an invalid
document) is written as a port to reserve, with the platform's description of the client.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from reconciler.model import Resource
from reconciler.specs.ports import KIND

if TYPE_CHECKING:
    from reconciler.planner.imports import ImportPlan
    from reconciler.specs.generate import Builder

_DIGITS = re.compile(r"\D")


def owner_problem(want: Resource, have: Resource) -> str | None:
    """A client on a port must carry the declared service's document (digits compared)."""
    if want.kind != KIND:
        return None
    mine = _DIGITS.sub("", str(want.attrs.get("document") or ""))
    theirs = _DIGITS.sub("", str(have.attrs.get("document") or ""))
    if not theirs or mine == theirs:
        return None
    return (f"the platform's client {have.key} on {_where(have)} has document {theirs}, the "
            f"specs' service {want.key} belongs to {mine}: not imported; fix the client on the "
            f"platform or the specs")


def generate(builder: Builder, plan: ImportPlan) -> None:
    for res in plan.unmatched:
        if res.kind != KIND:
            continue
        port = {"integration": plan.integration, "box": res.attrs.get("box"),
                **({"splitter": res.attrs["splitter"]} if res.attrs.get("splitter") else {}),
                "port": res.attrs.get("port")}
        what = f"client {res.key} on {_where(res)} of {plan.integration}"
        seen = (f"on the platform: {res.attrs.get('name') or 'no name'}, document "
                f"{res.attrs.get('document') or 'none'}")
        held = builder.holder(res.attrs, res.key, what, {"port": port, "observation": seen})
        if held is None:
            continue  # noted: a port to reserve, with what the platform says of its client
        _client, service = held
        service.port = port
        service.votes.add("active")
        builder.written += 1


def _where(res: Resource) -> str:
    splitter = f" splitter {res.attrs['splitter']}" if res.attrs.get("splitter") else ""
    return f"box {res.attrs.get('box')}{splitter} port {res.attrs.get('port')}"

