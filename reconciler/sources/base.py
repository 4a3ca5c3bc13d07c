"""The Source protocol and :func:`join`, which makes one desired state of several fragments.

Pure: :func:`join` reads values and returns one. An integration, a resource address or a setting
entry (a client service, a protected number...) given by two sources with two different values
is an error naming both, since which one won would depend on their order; the same value twice
is one declaration.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from reconciler.errors import ReconcilerError
from reconciler.model import Desired


class Source(Protocol):
    """One read-only input of the desired state."""

    @property
    def name(self) -> str:
        """For messages: "specs", "hubsoft"..."""
        ...

    def desired(self) -> Desired:
        """What this source declares: integrations, resources and settings. Raises a
        ReconcilerError (a SpecError for files) naming what is wrong and where."""
        ...


def join(fragments: Sequence[tuple[str, Desired]]) -> Desired:
    """One desired state of the named fragments, in order. One fragment is returned as it is."""
    if len(fragments) == 1:
        return fragments[0][1]
    integrations: dict[str, Any] = {}
    resources: dict[str, Any] = {}
    settings: dict[str, Any] = {}
    owner: dict[tuple[str, Any], str] = {}  # (what, key) -> the source that gave it
    digest = hashlib.sha256()
    for name, part in fragments:
        _take(integrations, part.integrations, "integration", name, owner)
        _take(resources, part.resources, "resource", name, owner)
        for key, value in part.settings.items():
            settings[key] = _merged(settings.get(key), value, f"setting {key}", name, owner)
        digest.update(f"{len(name)}:{name}{part.digest}".encode())
    return Desired(integrations, resources, digest.hexdigest(), settings)


def _take(into: dict[str, Any], items: Mapping[str, Any], what: str, source: str,
          owner: dict[tuple[str, Any], str]) -> None:
    for key, value in items.items():
        first = owner.setdefault((what, key), source)
        if first != source and into.get(key) != value:
            raise ReconcilerError(f"{what} {key} is declared by two sources, {first} and "
                                  f"{source}: declare it in one of them")
        into[key] = value


def _merged(have: Any, value: Any, what: str, source: str,
            owner: dict[tuple[str, Any], str]) -> Any:
    """Settings of several sources: mappings merged key by key (a key given twice, with two
    values, is an error), lists concatenated, anything else given once."""
    if have is None:
        if isinstance(value, Mapping):
            merged: dict[Any, Any] = {}
            _take(merged, value, what, source, owner)
            return merged
        return list(value) if isinstance(value, list) else value
    if isinstance(have, dict) and isinstance(value, Mapping):
        _take(have, value, what, source, owner)
        return have
    if isinstance(have, list) and isinstance(value, list):
        return [*have, *value]
    if have != value:
        raise ReconcilerError(f"{what} is given by two sources with different values (the "
                              f"second is {source}): keep it in one")
    return have
