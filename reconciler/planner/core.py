"""Pieces every platform's planning rules share: indexes, blocks, and the partial result.

Pure: no I/O, no clock, no randomness.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.model import Change, Note, Resource, live

# At most this many resources in one block change (the SaperX platform's per-call limit).
MAX_BLOCK = 10_000

Index = dict[str, dict[str, dict[str, Resource]]]  # integration -> kind -> key -> resource


def by_kind(resources: Iterable[Resource]) -> Index:
    """Resources grouped by integration and kind, keyed by their key: the joins are dict lookups."""
    out: Index = defaultdict(lambda: defaultdict(dict))
    for res in resources:
        out[res.integration][res.kind][res.key] = res
    return out


@dataclass
class Partial:
    """What one integration's rules decided."""

    changes: list[Change] = field(default_factory=list)
    adopt: list[Resource] = field(default_factory=list)
    forget: list[str] = field(default_factory=list)
    converging: list[Note] = field(default_factory=list)
    warnings: list[Note] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class View:
    """One integration's three sides, each as kind -> key -> resource."""

    integration: str
    desired: Mapping[str, Mapping[str, Resource]]
    known: Mapping[str, Mapping[str, Resource]]
    actual: Mapping[str, Mapping[str, Resource]]
    catalogs: Mapping[str, tuple[Mapping[str, Any], ...]]
    settings: Mapping[str, Any]
    options: Mapping[str, Any] = field(default_factory=dict)  # the integration's, defaults in

    def side(self, name: str, kind: str) -> Mapping[str, Resource]:
        return getattr(self, name).get(kind, {})

    def service(self, service_id: Any) -> Mapping[str, Any]:
        """A client service as declared (status, client, source, plan); empty when it is not."""
        entry: Mapping[str, Any] = self.settings.get("services", {}).get(service_id) or {}
        return entry


def differing(ruler: Resource, other: Resource, fields: Iterable[str]) -> list[str]:
    """The ``fields`` whose value in ``other`` is not ``ruler``'s. A field ``ruler`` holds no
    value for is left to the platform (a default it chose), so it never differs."""
    return [f for f in fields
            if ruler.attrs.get(f) is not None and ruler.attrs.get(f) != other.attrs.get(f)]


def runs(keys: Iterable[str], *, same: Mapping[str, Any] | None = None,
         size: int = MAX_BLOCK) -> Iterator[tuple[str, ...]]:
    """Sorted numeric keys cut into runs of consecutive numbers (at most ``size`` long).

    With ``same``, a run also breaks where ``same[key]`` changes (e.g. the range a number
    belongs to), so that each block has one reason.
    """
    run: list[str] = []
    for key in sorted(keys, key=int):
        if run and (
            int(key) != int(run[-1]) + 1
            or len(run) >= size
            or (same is not None and same[key] != same[run[-1]])
        ):
            yield tuple(run)
            run = []
        run.append(key)
    if run:
        yield tuple(run)


def block_of(blocks: Iterable[Change]) -> dict[str, Change]:
    """Each key of the given block changes mapped to its block."""
    return {key: change for change in blocks for key in change.keys}


def strangers(view: View, kind: str) -> list[Resource]:
    """Live objects of ``kind`` on the platform that the state does not manage and the specs do
    not declare, in key order."""
    known, desired = view.side("known", kind), view.side("desired", kind)
    return [r for key, r in sorted(view.side("actual", kind).items())
            if key not in known and key not in desired and live(r)]


def declared_services(view: View) -> set[str]:
    """The client services the specs declare (any status), as text: the platforms' own ids."""
    return {str(s) for s in view.settings.get("services", {})}
