"""Import: match what a platform already holds to the specs, so the state can take it over.

Pure: no I/O, no clock. The CLI reads the platform once (the provider's listing), the state and
the specs, and hands them here; what comes back says which remote objects to record as managed
(with the attributes the platform holds, so the next plan shows real differences as updates),
which need a decision, and which match nothing.

Matching is by natural key, the key of the resource's address on every platform (the number;
the Qualifica user and ``user/product``; Campsoft's ``contract_identifier/label``), then checked
for the owner, so a key that happens to collide is never taken over:

- an STFC link must link the number to the service the specs declare;
- a Qualifica user and a Campsoft subscription must belong to the client's document (digits).

Each platform's descriptor says how (``owner_problem``, ``second_key``, ``settle``); this module only
applies them.

A declared object the platform lacks under its key is then looked up by a second key that an
ERP may have filled differently (Campsoft: the contract and the product, with another label;
Qualifica: the client's document, under another user). Those candidates are never imported:
the address would differ, so the operator settles it in the specs (a ``label`` parameter,
another ``user_field``), and several candidates for one declaration, or one object claimed by
several, are listed as ambiguous.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.model import Known, Observed, Resource, live
from reconciler.platforms import Platform, registry

# Attributes that hold a document number (CPF/CNPJ), compared on their digits only.
DOCUMENT = "document"


@dataclass(frozen=True, slots=True)
class Ambiguity:
    """Remote objects not imported because the operator must decide (see ``reason``)."""

    integration: str
    declared: tuple[str, ...]  # spec addresses involved
    remote: tuple[str, ...]  # platform addresses involved
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"integration": self.integration, "declared": list(self.declared),
                "remote": list(self.remote), "reason": self.reason}


@dataclass(frozen=True, slots=True)
class ImportPlan:
    """What importing one integration would record, and what it leaves to the operator."""

    integration: str
    platform: str
    record: tuple[Resource, ...]  # to record as managed: the platform's attributes
    managed: int  # remote objects the state already manages (skipped)
    ambiguous: tuple[Ambiguity, ...]
    unmatched: tuple[Resource, ...]  # remote objects no spec declares (nor could)
    absent: int  # declared objects the platform lacks (the next plan creates them)
    cancelled: int  # cancelled records the platform still lists (nobody's service)

    @property
    def empty(self) -> bool:
        return not self.record

    def counts(self) -> dict[str, int]:
        return {"import": len(self.record), "already_managed": self.managed,
                "ambiguous": len(self.ambiguous), "unmatched": len(self.unmatched),
                "declared_not_on_platform": self.absent, "cancelled_ignored": self.cancelled}


@dataclass
class Matching:
    """One integration's matching in progress, which a platform's ``settle`` may amend: what
    the specs declare (``ours``) and the state and platform hold, and what was decided so far."""

    integration: str
    ours: Mapping[str, Resource]  # declared, by address
    observed: Observed
    known: Known
    services: Mapping[Any, Mapping[str, Any]]  # declared client services (status, source)
    record: list[Resource] = field(default_factory=list)
    ambiguous: list[Ambiguity] = field(default_factory=list)
    unmatched: list[Resource] = field(default_factory=list)
    pending: dict[str, Resource] = field(default_factory=dict)  # remote with no exact match
    held: set[str] = field(default_factory=set)  # remote addresses listed in an ambiguity
    refused: set[str] = field(default_factory=set)  # spec addresses not imported (owner)

    def hold(self, declared: tuple[str, ...], remote: tuple[str, ...], reason: str) -> None:
        """Leave ``remote`` to the operator: listed as ambiguous, never generated."""
        self.ambiguous.append(Ambiguity(self.integration, declared, remote, reason))
        self.held.update(remote)


def digits(value: Any) -> str:
    return "".join(c for c in str(value or "") if c.isdigit())


def _same_document(want: Resource, have: Resource) -> bool:
    ours, theirs = digits(want.attrs.get(DOCUMENT)), digits(have.attrs.get(DOCUMENT))
    return not ours or not theirs or ours == theirs


def document_problem(want: Resource, have: Resource) -> str | None:
    """Why a remote object of a client (a user, a subscription) under a declared key is someone
    else's: it belongs to another document. The platforms that key objects of a client use it
    as their ``owner_problem``."""
    if _same_document(want, have):
        return None
    return (f"the platform's {want.kind} {have.key} belongs to document "
            f"{have.attrs.get(DOCUMENT)}, the specs' to {want.attrs.get(DOCUMENT)}: "
            f"not imported; another client holds that key")


def recorded(want: Resource, have: Resource, compared: tuple[str, ...]) -> Resource:
    """The resource as the state should hold it: the platform's value of every compared field
    (so the next plan updates what differs) and the specs' explanations (range, package,
    origin...), which the platform does not hold. Platform-side facts (a number's status) are
    observed, never recorded."""
    attrs = {k: v for k, v in want.attrs.items() if k not in compared}
    attrs.update({k: have.attrs.get(k) for k in compared})
    return Resource(want.integration, want.kind, want.key, attrs, want.source, have.remote_id)


# -- matching ---------------------------------------------------------------------------------


def match(
    integration: str,
    platform_name: str,
    desired: Mapping[str, Resource],
    known: Known,
    observed: Observed,
    compared: Mapping[str, tuple[str, ...]],
    services: Mapping[Any, Mapping[str, Any]] | None = None,
) -> ImportPlan:
    """Match one integration's remote objects to the declared ones (all maps by address).

    ``compared`` holds the planner's compared fields per kind; ``services`` the declared client
    services by id (``Desired.settings["services"]``: status and source), so a link to one of
    them is never offered for generation."""
    platform = registry.get(platform_name)
    ours = {a: r for a, r in desired.items() if r.integration == integration}
    work = Matching(integration, ours, observed, known, services or {})
    managed = cancelled = 0
    for addr in sorted(observed.resources):
        have = observed.resources[addr]
        if addr in known.resources:
            managed += 1
        elif registry.cancels(have.kind) and not live(have):
            cancelled += 1
        elif addr in ours:
            owner = platform.owner_problem
            problem = owner(ours[addr], have) if owner is not None else None
            if problem is None:
                work.record.append(recorded(ours[addr], have, compared.get(have.kind, ())))
            else:
                work.hold((addr,), (addr,), problem)
                work.refused.add(addr)
        else:
            work.pending[addr] = have
    lacking = {a: r for a, r in ours.items()
               if a not in observed.resources and a not in known.resources}
    if platform.second_key is not None:
        _second_keys(work, platform, lacking)
    if platform.settle is not None:
        platform.settle(work)
    for addr, have in sorted(work.pending.items()):
        if addr not in work.held:
            work.unmatched.append(have)
    return ImportPlan(integration, platform.name, tuple(work.record), managed,
                      tuple(work.ambiguous), tuple(work.unmatched), len(lacking), cancelled)


def _second_keys(work: Matching, platform: Platform, lacking: Mapping[str, Resource]) -> None:
    """Declared objects missing under their key, looked up by the second key."""
    second = platform.second_key
    assert second is not None
    declared: dict[tuple[str, ...], list[Resource]] = defaultdict(list)
    for res in lacking.values():
        key = second(res)
        if key is not None:
            declared[key].append(res)
    remote: dict[tuple[str, ...], list[Resource]] = defaultdict(list)
    for res in work.pending.values():
        key = second(res)
        if key is not None and key in declared:
            remote[key].append(res)
    for key in sorted(remote):
        wants, haves = declared[key], remote[key]
        if len(wants) == 1 and len(haves) == 1:
            reason = (platform.second_hint(wants[0], haves[0]) if platform.second_hint
                      else f"{wants[0].address} is on the platform as {haves[0].address}")
        elif len(haves) > 1 and len(wants) == 1:
            reason = (f"{len(haves)} platform objects match {wants[0].address} by "
                      f"{platform.second_name}: keep one, or name it in the specs")
        else:
            reason = (f"{len(haves)} platform object(s) match {len(wants)} declarations by "
                      f"{platform.second_name}: tell them apart in the specs")
        work.hold(tuple(sorted(w.address for w in wants)),
                  tuple(sorted(h.address for h in haves)), reason)
