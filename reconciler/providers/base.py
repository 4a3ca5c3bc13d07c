"""The provider protocol: how the core talks to one platform, and the registry of providers.

A provider knows *how* to read and write its platform, never *what* to do: the planner decides.
One module per platform (``saperx_stfc.py``...), each owning its wire format, auth, pagination
and the mapping of the platform's errors into :mod:`reconciler.errors`.

Providers are found by platform name. Built-in ones are listed in ``BUILTIN``; a third party can
ship one as its own package and register it under the ``reconciler.providers`` entry-point group
(``saperx-stfc = my_pkg.module:MyProvider``), as octoDNS providers are shipped.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, ClassVar, Protocol

import httpx

from reconciler.errors import ReconcilerError
from reconciler.model import Change, Integration, Observed

BUILTIN = {
    "saperx-stfc": "reconciler.providers.saperx_stfc:SaperxStfcProvider",
    "qualifica": "reconciler.providers.qualifica:QualificaProvider",
    "campsoft": "reconciler.providers.campsoft:CampsoftProvider",
}


@dataclass(frozen=True)
class Applied:
    """What one executed change did on the platform.

    ``remote_ids`` gives the platform id of each key the change created (when the platform has
    ids). ``failed`` lists the keys of a block change that did not land, with the reason; the
    other keys of the block did land.
    """

    remote_ids: Mapping[str, str] = field(default_factory=dict)
    failed: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Health:
    """The verdict of a credentials and reachability check (the seeds' "Testar")."""

    ok: bool
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)


class Provider(Protocol):
    """One integration's connection to its platform.

    Built with the integration as declared, its credentials already resolved (never logged,
    never returned), and optionally an httpx transport (the embedded simulator, or a test's).
    """

    platform: ClassVar[str]
    integration: Integration

    async def observe(self) -> Observed:
        """List everything the platform holds for this integration (all pages)."""
        ...

    async def execute(self, change: Change) -> Applied:
        """Carry out one change. Safe to call again after a timeout: the platform's duplicate
        and already-done answers count as success."""
        ...

    async def catalogs(self) -> Mapping[str, tuple[Mapping[str, Any], ...]]:
        """Only the platform's catalogs (plans, products), for ``reconcile sync``."""
        ...

    async def check(self) -> Health:
        """Test credentials and reachability without changing anything."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


def provider_class(platform: str) -> type[Provider]:
    """The provider class for a platform name, built-in or from an installed entry point."""
    target = BUILTIN.get(platform)
    if target is None:
        for ep in entry_points(group="reconciler.providers"):
            if ep.name == platform:
                return ep.load()  # type: ignore[no-any-return]
        known = ", ".join(sorted(BUILTIN))
        raise ReconcilerError(f"no provider for platform {platform!r}; known platforms: {known}")
    module_name, class_name = target.split(":")
    return getattr(importlib.import_module(module_name), class_name)  # type: ignore[no-any-return]


def build_provider(
    integration: Integration,
    credentials: Mapping[str, str],
    transport: httpx.AsyncBaseTransport | None = None,
    **options: Any,
) -> Provider:
    """Build the provider for an integration."""
    cls = provider_class(integration.platform)
    return cls(integration, credentials, transport=transport, **options)  # type: ignore[call-arg]
