"""Client services on the customer ports of a mapping platform (OZmap, Geosite), in the spec
language: the rules across entries, the resources, and the checks against the synced network.
Shared by both platforms' ``spec`` modules.

A service's ``port: {integration, box, splitter?, port}`` becomes one ``port_link`` resource
(key: the service id, which is the client's code on the platform), unless the service is
cancelled: its port is freed then (the integration's ``on_cancel`` says how). A suspended service
changes nothing on the map.

**The network** is each integration's ``elements`` catalog, synced into the state by
``reconcile sync`` (and refreshed by every plan), one entry per box of the project::

    {"name": "CTO-12", "id": "...", "implanted": true, "lat": -27.59, "lng": -48.54,
     "splitters": [{"name": "S1", "id": "...", "customer": true, "ports": 16,
                    "reserved": [16], "occupied": {"3": "1001"}}]}

``occupied`` maps a port's number to the code of the client on it ("" for premises without a
client). A platform without splitters (Geosite's CTO ports) gives one nameless customer splitter
per box.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator

from reconciler.errors import SpecIssue
from reconciler.model import Desired, Resource, address
from reconciler.specs.models import NonEmpty, SpecModel, spec_error

if TYPE_CHECKING:
    from reconciler.specs.collected import Collected, Issues
    from reconciler.specs.desired import DesiredBuild

ElementKind = Literal["boxes", "splitters", "poles", "cables"]
ELEMENT_KINDS: tuple[ElementKind, ...] = ("boxes", "splitters", "poles", "cables")


def _boxes_and_splitters() -> list[ElementKind]:
    return ["boxes", "splitters"]


class MappingOptions(SpecModel):
    """Options of a mapping integration (the seed's Projetos and Elementos actions)."""

    # The platform's project, by its exact name: one per integration.
    project: NonEmpty
    # Which kinds of element `reconcile sync` pulls from the project; boxes are always needed.
    elements: list[ElementKind] = Field(default_factory=_boxes_and_splitters)
    # A cancelled service's port is freed: its client removed with the premises, or the
    # premises kept (disconnected from the port) for a later client.
    on_cancel: Literal["remove_client", "keep_property"] = "remove_client"
    page_size: int = Field(100, ge=1, le=1000)
    concurrency: int = Field(4, ge=1, le=32)

    @field_validator("elements")
    @classmethod
    def _boxes_needed(cls, value: list[ElementKind]) -> list[ElementKind]:
        if "boxes" not in value:
            raise spec_error("elements must include boxes", "client services are connected "
                             "to the ports of boxes: add boxes to the list")
        return sorted(set(value), key=ELEMENT_KINDS.index)


KIND = "port_link"
ELEMENTS = "elements"  # the catalog of the network
NEAREST = 3  # free ports named in an error


def check(collected: Collected, platform: str, issues: Issues) -> None:
    """No port held by two live services (the same box, splitter and number as written)."""
    mine = {n for n, s in collected.integrations.items() if s.platform == platform}
    held: dict[tuple[Any, ...], tuple[Any, int]] = {}
    for client in collected.clients:
        for service in client.services:
            port = service.port
            if port is None or port.integration not in mine or service.status == "cancelled":
                continue
            spot = (port.integration, port.box, port.splitter, port.port)
            first = held.setdefault(spot, (port.where, service.id))
            if first[0] is not port.where:
                issues.at(port.where, ("port",), f"port {port.port} of box {port.box} is already "
                          f"held by service {first[1]} at {first[0]}", "a port holds one client "
                          "service: give one of them another port")


class PortHooks:
    """A mapping platform's spec hooks, bound to its name: what its descriptor takes from it
    (``from_modules`` reads ``check``, ``build`` and ``catalog_problems`` off this object)."""

    def __init__(self, platform: str) -> None:
        self.platform = platform

    def check(self, collected: Collected, index: object, issues: Issues) -> None:
        check(collected, self.platform, issues)

    def build(self, ctx: DesiredBuild) -> None:
        build(ctx)

    def catalog_problems(self, desired: Desired, synced: Any) -> list[SpecIssue]:
        return problems(desired, synced, self.platform)


def build(ctx: DesiredBuild) -> None:
    mine = ctx.mine()
    for client in ctx.specs.clients:
        for service in client.services:
            port = service.port
            if port is None or port.integration not in mine or service.status == "cancelled":
                continue
            attrs = {"service": service.id, "box": port.box, "splitter": port.splitter,
                     "port": port.port, "document": client.document, "name": client.name}
            ctx.resources[address(port.integration, KIND, str(service.id))] = Resource(
                port.integration, KIND, str(service.id), attrs, port.source)


# -- the network ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spot:
    """A declared port, resolved on the network: its box and customer splitter as the platform
    names and identifies them."""

    box: Mapping[str, Any]
    splitter: Mapping[str, Any]
    port: int


def resolve(attrs: Mapping[str, Any], boxes: Mapping[str, Mapping[str, Any]],
            service: str) -> Spot | str:
    """Where a ``port_link``'s attributes point on the network, or what is wrong with them (the
    message names the nearest free ports of the box where it has some)."""
    name, wanted, number = attrs["box"], attrs.get("splitter"), int(attrs["port"])
    box = boxes.get(name)
    if box is None:
        close = difflib.get_close_matches(name, list(boxes), n=1)
        mean = f"; did you mean {close[0]!r}?" if close else ""
        return f"box {name!r} is not in the synced network{mean}"
    customer = [s for s in box.get("splitters", ()) if s.get("customer")]
    if wanted is None:
        if len(customer) != 1:
            names = ", ".join(str(s.get("name")) for s in customer) or "none"
            return (f"box {name} has {len(customer)} customer splitters ({names}): name the "
                    f"splitter of port {number}")
        splitter = customer[0]
    else:
        found = [s for s in box.get("splitters", ()) if s.get("name") == wanted]
        if not found:
            names = ", ".join(str(s.get("name")) for s in box.get("splitters", ())) or "none"
            return f"box {name} has no splitter {wanted!r}; its splitters: {names}"
        splitter = found[0]
        if not splitter.get("customer"):
            return (f"splitter {wanted} of box {name} does not serve customers (a distribution "
                    f"splitter){_free_hint(box, customer, service)}")
    where = f"box {name}" + (f", splitter {splitter.get('name')}" if splitter.get("name") else "")
    if not 1 <= number <= int(splitter.get("ports", 0)):
        return (f"{where} has ports 1 to {splitter.get('ports', 0)}, not {number}"
                f"{_free_hint(box, customer, service)}")
    if number in splitter.get("reserved", ()):
        return f"port {number} of {where} is reserved{_free_hint(box, customer, service)}"
    if not box.get("implanted", True):
        return f"{where} is still in design (not implanted): no client can be connected yet"
    return Spot(box, splitter, number)


def free_ports(box: Mapping[str, Any], splitters: Iterable[Mapping[str, Any]],
               service: str = "") -> list[str]:
    """The box's free customer ports (free of others: one ``service`` holds counts as free)."""
    out = []
    for splitter in splitters:
        occupied = splitter.get("occupied", {})
        for n in range(1, int(splitter.get("ports", 0)) + 1):
            if n in splitter.get("reserved", ()) or occupied.get(str(n), service) != service:
                continue
            out.append(f"{splitter.get('name')}/{n}" if splitter.get("name") else str(n))
    return out


def _free_hint(box: Mapping[str, Any], splitters: list[Mapping[str, Any]], service: str) -> str:
    free = free_ports(box, splitters, service)
    if not free:
        return f"; box {box.get('name')} has no free customer port"
    more = f" (and {len(free) - NEAREST} more)" if len(free) > NEAREST else ""
    return f"; free ports of box {box.get('name')}: {', '.join(free[:NEAREST])}{more}"


def boxes_of(entries: Iterable[Mapping[str, Any]] | None) -> dict[str, Mapping[str, Any]]:
    return {str(box.get("name")): box for box in entries or ()}


def problems(desired: Desired, synced: Any, platform: str) -> list[SpecIssue]:
    """Each port declared on ``platform``'s integrations checked against the integration's
    synced network (its ``elements`` catalog); an integration never synced is checked at plan
    time instead. Two services that land on one port once resolved (one naming the splitter,
    one not) are reported too."""
    mine = {n for n, i in desired.integrations.items() if i.platform == platform}
    out: list[SpecIssue] = []
    networks: dict[str, dict[str, Mapping[str, Any]] | None] = {}
    taken: dict[tuple[str, str, str, int], str] = {}
    for res in sorted(desired.resources.values(), key=lambda r: r.address):
        if res.kind != KIND or res.integration not in mine:
            continue
        if res.integration not in networks:
            entries = synced(res.integration, ELEMENTS)
            networks[res.integration] = boxes_of(entries) if entries is not None else None
        boxes = networks[res.integration]
        if boxes is None:
            continue
        spot = resolve(res.attrs, boxes, res.key)
        message = spot if isinstance(spot, str) else None
        if isinstance(spot, Spot):
            at = (res.integration, str(spot.box.get("name")), str(spot.splitter.get("name")),
                  spot.port)
            first = taken.setdefault(at, res.key)
            if first != res.key:
                message = (f"port {spot.port} of box {at[1]} is already held by service {first}"
                           f"{_free_hint(spot.box, [spot.splitter], res.key)}")
        if message is not None and res.source is not None:
            out.append(SpecIssue(res.source.file, res.source.line, res.source.column,
                                 f"service {res.key}: {message}",
                                 f"run `reconcile sync {res.integration}` if the network changed"))
    return out
