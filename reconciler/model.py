"""The values that flow through the tool: resources, changes and plans.

Everything here is plain data with no I/O, shared by the loader (which builds ``Desired``), the
providers (which build ``Observed``), the state store (which builds ``Known``), the planner (which
turns the three into a ``Plan``) and the applier (which carries a plan out).

Addresses never change while a resource lives: ``<integration>.<kind>["<key>"]``, for example
``stfc-sp.number["1130001001"]`` or ``stfc-sp.link["1130001001"]``. A change that touches a block
of resources at once (registering a range of numbers) has a block address
``stfc-sp.number[1130001000..1130001019]`` and lists its members in ``keys``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

PLAN_FORMAT_VERSION = 1


def address(integration: str, kind: str, key: str) -> str:
    """The stable address of one resource."""
    return f'{integration}.{kind}["{key}"]'


@dataclass(frozen=True, slots=True)
class Source:
    """Where in the spec files a value was declared (1-based line and column)."""

    file: str
    line: int
    column: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Source, (self.file, self.line, self.column))  # see Resource.__reduce__

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "column": self.column}


@dataclass(frozen=True, slots=True)
class SecretRef:
    """A reference to a secret (``${env:NAME}`` or ``${file:PATH}``); never the value itself."""

    scheme: str  # "env" | "file"
    name: str
    base_dir: str = "."  # where a relative ${file:...} path is resolved from

    def __str__(self) -> str:
        return f"${{{self.scheme}:{self.name}}}"


@dataclass(frozen=True, slots=True)
class Integration:
    """One connection to one platform, as declared."""

    name: str
    platform: str
    endpoint: str  # a URL, or "embedded"
    credentials: Mapping[str, SecretRef | str]  # a str only for non-secret fields (usernames)
    options: Mapping[str, Any] = field(default_factory=dict)
    source: Source | None = None

    @property
    def embedded(self) -> bool:
        return self.endpoint == "embedded"


# The fingerprint of a secret the platform never shows back (Campsoft's password rule and the
# password it gives; see specs.content.password_digest): kept in the state and compared by the
# planner, never displayed.
PASSWORD_DIGEST = "password_digest"
FINGERPRINTS = frozenset({PASSWORD_DIGEST})


@dataclass(frozen=True, slots=True)
class Resource:
    """One thing on one platform, described by its essential attributes.

    ``attrs`` holds only what is compared when planning: never server noise such as timestamps,
    and never a secret. ``remote_id`` is the platform's own identifier when it has one.
    """

    integration: str
    kind: str
    key: str
    attrs: Mapping[str, Any] = field(default_factory=dict)
    source: Source | None = None
    remote_id: str | None = None

    @property
    def address(self) -> str:
        return address(self.integration, self.kind, self.key)

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled (the spec cache) as a constructor call: the generic state-restoring path of a
        # frozen slotted dataclass costs ten times more, seconds at 200,000 resources.
        return (Resource, (self.integration, self.kind, self.key, self.attrs, self.source,
                           self.remote_id))


def fingerprint(resource: Resource | None) -> str:
    """A short digest of what the platform holds for one address ("absent" when nothing), so a
    saved plan can tell whether an object it touches changed since it was made."""
    if resource is None:
        return "absent"
    text = json.dumps(dict(resource.attrs), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def index(resources: Iterable[Resource]) -> dict[str, Resource]:
    """Resources keyed by address."""
    return {r.address: r for r in resources}


def live(resource: Resource | None) -> bool:
    """Whether the platform holds the object: a cancelled subscription it still lists is gone
    (the content platforms keep cancelled records; nobody is served by them)."""
    return resource is not None and resource.attrs.get("status") != "cancelled"


@dataclass(frozen=True, slots=True)
class Desired:
    """What the operator declared: integrations and the resources they should hold."""

    integrations: Mapping[str, Integration]
    resources: Mapping[str, Resource]  # by address
    digest: str  # sha256 of the spec files, binds saved plans to the spec set
    settings: Mapping[str, Any] = field(default_factory=dict)  # per-integration extras (ranges...)


@dataclass(frozen=True, slots=True)
class Observed:
    """What one integration's platform holds, as read by its provider."""

    integration: str
    resources: Mapping[str, Resource]  # by address
    catalogs: Mapping[str, tuple[Mapping[str, Any], ...]] = field(default_factory=dict)
    reads: int = 0  # API calls the observation took


@dataclass(frozen=True, slots=True)
class Known:
    """What the state store remembers: the resources we manage, as last applied."""

    lineage: str
    serial: int
    resources: Mapping[str, Resource]  # by address
    # the serial of each integration's last write: a plan of some integrations is stale only
    # when one of them moved (runs on other integrations go on at the same time)
    serials: Mapping[str, int] = field(default_factory=dict)

    def serial_of(self, integrations: Iterable[str] | None) -> int:
        """The state's serial as a plan of ``integrations`` (None: all) sees it."""
        if integrations is None:
            return self.serial
        return max((self.serials.get(name, 0) for name in integrations), default=0)


class Action(str, Enum):
    """What a change does. The order of members is the default order within one address."""

    CREATE = "create"
    LINK = "link"
    UPDATE = "update"
    RESUME = "resume"
    SUSPEND = "suspend"
    UNLINK = "unlink"
    DELETE = "delete"

    @property
    def symbol(self) -> str:
        return _SYMBOLS[self]

    @property
    def verb(self) -> str:
        return _VERBS[self]


_SYMBOLS = {
    Action.CREATE: "+",
    Action.UPDATE: "~",
    Action.DELETE: "-",
    Action.LINK: ">",
    Action.UNLINK: "<",
    Action.SUSPEND: "!",
    Action.RESUME: "^",
}
_VERBS = {
    Action.CREATE: "to create",
    Action.UPDATE: "to update",
    Action.DELETE: "to delete",
    Action.LINK: "to link",
    Action.UNLINK: "to unlink",
    Action.SUSPEND: "to suspend",
    Action.RESUME: "to resume",
}


@dataclass(frozen=True, slots=True)
class Change:
    """One step of a plan.

    ``keys`` lists the resource keys the change touches (one, or many for a block change).
    ``before``/``after`` are the attributes of each touched resource before and after.
    ``reason`` only explains; nothing decides on it. ``depends_on`` lists the ids of changes
    that must succeed first.
    """

    integration: str
    kind: str
    action: Action
    keys: tuple[str, ...]
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    reason: str
    source: Source | None = None
    depends_on: tuple[str, ...] = ()

    @property
    def address(self) -> str:
        if len(self.keys) == 1:
            return address(self.integration, self.kind, self.keys[0])
        return f"{self.integration}.{self.kind}[{self.keys[0]}..{self.keys[-1]}]"

    @property
    def id(self) -> str:
        return f"{self.action.value}:{self.address}"

    def addresses(self) -> list[str]:
        return [address(self.integration, self.kind, key) for key in self.keys]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "address": self.address,
            "integration": self.integration,
            "kind": self.kind,
            "action": self.action.value,
            "keys": list(self.keys),
            "before": dict(self.before) if self.before is not None else None,
            "after": dict(self.after) if self.after is not None else None,
            "reason": self.reason,
            "source": self.source.to_json() if self.source else None,
            "depends_on": list(self.depends_on),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Change:
        src = data.get("source")
        return cls(
            integration=data["integration"],
            kind=data["kind"],
            action=Action(data["action"]),
            keys=tuple(data["keys"]),
            before=data.get("before"),
            after=data.get("after"),
            reason=data["reason"],
            source=Source(**src) if src else None,
            depends_on=tuple(data.get("depends_on", ())),
        )


@dataclass(frozen=True, slots=True)
class Note:
    """Something the plan reports without acting on it (converging, waiting, unmanaged)."""

    address: str
    integration: str
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"address": self.address, "integration": self.integration, "message": self.message}


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What a plan was computed from; a saved plan is refused when any of it moved."""

    lineage: str
    serial: int
    specs_digest: str

    def to_json(self) -> dict[str, Any]:
        return {"lineage": self.lineage, "serial": self.serial, "specs_digest": self.specs_digest}


@dataclass(frozen=True, slots=True)
class Estimate:
    """What one integration's part of a plan costs: the reads that planning took, the writes
    apply will make (one API call per change), and the time those writes take at the
    integration's rate budget (``per_second`` None: not rate limited)."""

    integration: str
    reads: int
    writes: int
    seconds: float
    per_second: float | None

    def to_json(self) -> dict[str, Any]:
        return {"integration": self.integration, "reads": self.reads, "writes": self.writes,
                "seconds": round(self.seconds, 1), "per_second": self.per_second}


@dataclass(frozen=True, slots=True)
class Plan:
    """The ordered changes that make the platforms match the specs, and what to record.

    ``adopt`` lists resources that already match the specs on the platform but are not in the
    state yet: applying records them as managed without any remote call. ``forget`` lists state
    records whose resource is gone from the platform and from the specs.
    """

    changes: tuple[Change, ...]
    fingerprint: Fingerprint
    adopt: tuple[Resource, ...] = ()
    forget: tuple[str, ...] = ()
    converging: tuple[Note, ...] = ()
    warnings: tuple[Note, ...] = ()
    integrations: tuple[str, ...] = ()
    estimates: tuple[Estimate, ...] = ()
    touched: Mapping[str, str] = field(default_factory=dict)  # address -> remote fingerprint
    # The --target/--exclude patterns a partial plan was narrowed with (planner/targeting.py);
    # both empty for a full plan.
    targets: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()

    @property
    def partial(self) -> bool:
        """Whether the plan was narrowed, so that applying it may not converge the specs."""
        return bool(self.targets or self.excludes)

    @property
    def empty(self) -> bool:
        return not (self.changes or self.adopt or self.forget)

    def counts(self) -> dict[str, int]:
        """Changes per action, counting every resource a block change touches."""
        out: dict[str, int] = {}
        for change in self.changes:
            out[change.action.value] = out.get(change.action.value, 0) + len(change.keys)
        return out


@dataclass(frozen=True, slots=True)
class Drift:
    """One difference between what we last applied (state) and what the platform holds.

    ``kind`` is ``changed`` (changed outside the tool: ``fields`` lists what moved),
    ``missing`` (gone from the platform), ``unmanaged`` (an object the tool does not manage,
    found where it manages its neighbours: ``before`` is None) or ``converging`` (a platform
    queue is still working, which is not drift). ``first_seen`` (ISO 8601 UTC) is when this
    drift was first reported; the planner leaves it None and the CLI fills it from the state.
    """

    address: str
    integration: str
    kind: str
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    fields: tuple[str, ...] = ()
    first_seen: str | None = None
    detail: str = ""  # one line for the operator: why it is classified so, what to do

    @property
    def real(self) -> bool:
        """Whether this is drift (a converging queue is not, and never fails a run)."""
        return self.kind != "converging"

    def age_seconds(self, now: str) -> int | None:
        """How long ago this drift was first seen, at ``now`` (ISO 8601); None when unknown."""
        if self.first_seen is None:
            return None
        delta = datetime.fromisoformat(now) - datetime.fromisoformat(self.first_seen)
        return max(0, int(delta.total_seconds()))

    def to_json(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "integration": self.integration,
            "kind": self.kind,
            "fields": list(self.fields),
            "first_seen": self.first_seen,
            "before": dict(self.before) if self.before is not None else None,
            "after": dict(self.after) if self.after is not None else None,
            "detail": self.detail,
        }
