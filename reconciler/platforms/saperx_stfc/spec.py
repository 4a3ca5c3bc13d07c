"""SaperX STFC in the spec language: its options, and the resources its integrations get.

- a ``number`` per number of every range declared on the integration (key: the national number,
  DDD + 8 digits; they share the range's source);
- a ``link`` per number assigned to a live client service: the service, plan, parameters,
  holder (document, name) and whether it is blocked (a suspended service, where the
  integration's ``block_on_suspend`` says so). A cancelled service's links are absent, so the
  planner unlinks them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from reconciler.errors import SpecIssue
from reconciler.model import Desired, Resource
from reconciler.planner.core import MAX_BLOCK
from reconciler.specs.models import RangeSpec, SpecModel

if TYPE_CHECKING:
    from reconciler.specs.collected import Collected, Issues
    from reconciler.specs.desired import DesiredBuild
    from reconciler.specs.validate import RangeIndex

PLATFORM = "saperx-stfc"
FISCAL = "numero_telefone_nf"


class SaperxStfcOptions(SpecModel):
    """Options of a SaperX STFC integration (the seed's optional parameters)."""

    page_size: int = Field(500, ge=1, le=1000)
    concurrency: int = Field(4, ge=1, le=32)
    block_on_suspend: bool = True  # a suspended client service blocks its numbers
    # numbers per registration or bulk removal call: the platform's limit per call
    batch_size: int = Field(MAX_BLOCK, ge=1, le=MAX_BLOCK)
    # HubSoft's "numero_telefone_nf" parameter (Tipo de Utilização 1 / Classificação 0101): on,
    # a number's numero_telefone_nf defaults to the number itself, and one given must be a
    # number of the same client.
    fiscal_number_param: bool = Field(False, strict=True)


def _fiscal(collected_or_integrations: Any) -> set[str]:
    return {name for name, spec in collected_or_integrations.items()
            if spec.platform == PLATFORM and spec.options.get("fiscal_number_param")}


def check(collected: Collected, index: RangeIndex, issues: Issues) -> None:
    """With ``fiscal_number_param``, a number's numero_telefone_nf is one of its client's
    numbers on that integration."""
    fiscal = _fiscal(collected.integrations)
    if not fiscal:
        return
    for client in collected.clients:
        held: dict[str, set[str]] = {}
        for service in client.services:
            for phone in service.phone_numbers:
                held.setdefault(phone.integration, set()).add(phone.number)
        for service in client.services:
            for phone in service.phone_numbers:
                given = phone.params.get(FISCAL)
                if phone.integration not in fiscal or given is None \
                        or given in held[phone.integration]:
                    continue
                issues.at(phone.where, ("params", FISCAL), f"{FISCAL} {given} is not a number "
                          f"of client {client.name} on {phone.integration}",
                          f"the invoice's number is one of the client's: "
                          f"{', '.join(sorted(held[phone.integration]))}; or leave it out: it "
                          f"defaults to the number itself")


def catalog_problems(desired: Desired, synced: Any) -> list[SpecIssue]:
    """A number assigned to a plan the last sync no longer lists."""
    out: list[SpecIssue] = []
    names: dict[str, set[str] | None] = {}
    for res in desired.resources.values():
        if res.kind != "link" or desired.integrations[res.integration].platform != PLATFORM:
            continue
        if res.integration not in names:
            entries = synced(res.integration, "plans")
            names[res.integration] = {str(p.get("nome")) for p in entries} if entries else None
        valid = names[res.integration]
        if valid is None or res.attrs["plan"] in valid or res.source is None:
            continue
        out.append(SpecIssue(res.source.file, res.source.line, res.source.column,
                             f"number {res.key}: plan {res.attrs['plan']!r} is not among the "
                             f"plans last synced from {res.integration}",
                             f"plans that exist: {', '.join(sorted(valid))} (run `reconcile "
                             f"sync {res.integration}` if the platform's plans changed)"))
    return out


def build(ctx: DesiredBuild) -> None:
    mine = ctx.mine()
    for name, spec in ctx.specs.number_ranges.items():
        if spec.integration in mine:
            _add_numbers(ctx.resources, name, spec)
    for client in ctx.specs.clients:
        for service in client.services:
            if service.status == "cancelled":
                continue
            for phone in service.phone_numbers:
                if phone.integration not in mine:
                    continue
                options = ctx.integrations[phone.integration].options
                params = dict(phone.params)
                if options.get("fiscal_number_param"):
                    params.setdefault(FISCAL, phone.number)
                attrs = {
                    "service": service.id,
                    "plan": phone.plan,
                    "params": params,
                    "blocked": service.status == "suspended"
                    and bool(options.get("block_on_suspend", True)),
                    "document": client.document,
                    "name": client.name,
                }
                resource = Resource(phone.integration, "link", phone.number, attrs, phone.source)
                ctx.resources[resource.address] = resource


def _add_numbers(resources: dict[str, Resource], name: str, spec: RangeSpec) -> None:
    """One ``number`` resource per number of the range; they share the range's source."""
    attrs = {"country_code": spec.country_code, "range": name}
    source = spec.source
    for number in range(int(spec.first_number), int(spec.last_number) + 1):
        resource = Resource(spec.integration, "number", f"{number:010d}", dict(attrs), source)
        resources[resource.address] = resource
