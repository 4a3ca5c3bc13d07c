"""SaperX STFC in the spec language: its options, and the resources its integrations get.

- a ``number`` per number of every range declared on the integration (key: the national number,
  DDD + 8 digits; they share the range's source);
- a ``link`` per number assigned to a live client service: the service, plan, parameters,
  holder (document, name) and whether it is blocked (a suspended service, where the
  integration's ``block_on_suspend`` says so). A cancelled service's links are absent, so the
  planner unlinks them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from reconciler.model import Resource
from reconciler.planner.core import MAX_BLOCK
from reconciler.specs.models import RangeSpec, SpecModel

if TYPE_CHECKING:
    from reconciler.specs.desired import DesiredBuild


class SaperxStfcOptions(SpecModel):
    """Options of a SaperX STFC integration (the seed's optional parameters)."""

    page_size: int = Field(500, ge=1, le=1000)
    concurrency: int = Field(4, ge=1, le=32)
    block_on_suspend: bool = True  # a suspended client service blocks its numbers
    # numbers per registration or bulk removal call: the platform's limit per call
    batch_size: int = Field(MAX_BLOCK, ge=1, le=MAX_BLOCK)


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
                attrs = {
                    "service": service.id,
                    "plan": phone.plan,
                    "params": dict(phone.params),
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
