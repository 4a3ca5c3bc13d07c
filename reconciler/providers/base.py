"""The provider protocol: how the core talks to one platform, and the registry of providers.

A provider knows *how* to read and write its platform, never *what* to do: the planner decides.
One module per platform (``saperx_stfc.py``...), each owning its wire format, auth, pagination
and the mapping of the platform's errors into :mod:`reconciler.errors`.

Providers are found by platform name, through the platform's descriptor
(:mod:`reconciler.platforms.registry`: built-in packages, and third-party ones registered under
the ``reconciler.providers`` entry-point group).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar, Protocol, runtime_checkable

import httpx

from reconciler.errors import ReconcilerError
from reconciler.feasibility import Feasibility
from reconciler.model import Change, Integration, Observed, Resource
from reconciler.platforms import registry


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


@runtime_checkable
class LooksUpKeys(Protocol):
    """A provider whose listing can miss objects that still exist: it answers for given keys.

    ``observe_keys`` returns, for the keys of ``kind`` it is asked about (ones an interrupted
    apply left pending, managed ones its listing lacked), the objects its platform still holds
    that the listing did not show, e.g. an OZmap client whose premises a killed unlink deleted
    before the client itself. Keys it finds nothing for are left out.
    """

    async def observe_keys(self, kind: str, keys: Sequence[str]) -> list[Resource]: ...


@runtime_checkable
class CallRecordSource(Protocol):
    """A provider whose platform keeps call records (CDRs): `reconcile cdr import` reads them.

    ``environment`` names the platform's data set the records come from. ``call_records``
    yields the records of calls started on ``first``..``last`` (UTC days), a page at a time,
    each as :class:`reconciler.state.calls.CallRecordRow` columns: ``record_id`` (the platform's
    own, stable), ``account_code``, ``started_at`` (naive UTC datetime), ``call_type``,
    ``duration_seconds``, ``cost`` (a decimal string) and ``destination``.
    """

    environment: str

    def call_records(self, first: date, last: date) -> AsyncIterator[list[dict[str, Any]]]: ...


@runtime_checkable
class ChargeSource(Protocol):
    """A provider whose platform bills its numbers itself (SaperX STFC): `reconcile billing
    stfc` reads a month's charges. ``charges`` yields, a page at a time, whether the platform
    says the month is over and the page's charges, each as the columns of
    :class:`reconciler.state.tables.ChargeRow` (``number``, ``service_id``, ``plan_id``,
    ``allowance_minutes``, ``minutes``, ``calls``, ``total``, ``franchise``, ``overage``:
    amounts as exact decimal text) and ``detail``: the calls (``started_at`` naive UTC,
    ``origin``, ``destination``, ``call_type``, ``duration_seconds``, ``amount``) when
    ``detailed``, else None."""

    def charges(self, month: date, detailed: bool) -> AsyncIterator[tuple[bool, list[dict[str, Any]]]]: ...


@runtime_checkable
class FeasibilitySource(Protocol):
    """A provider whose platform answers feasibility searches: `reconcile feasibility`."""

    async def feasibility(self, lat: float, lng: float, radius_m: float | None) -> Feasibility: ...


def provider_class(platform: str) -> type[Provider]:
    """The provider class of a platform, built-in or from an installed plugin."""
    descriptor = registry.get(platform)
    if not descriptor.provider:
        raise ReconcilerError(f"platform {platform!r} has no provider")
    return descriptor.provider_class()


def build_provider(
    integration: Integration,
    credentials: Mapping[str, str],
    transport: httpx.AsyncBaseTransport | None = None,
    **options: Any,
) -> Provider:
    """Build the provider for an integration."""
    cls = provider_class(integration.platform)
    return cls(integration, credentials, transport=transport, **options)  # type: ignore[call-arg]
