"""From a validated SpecSet to ``Desired``: the flat set of resources the planner compares.

Nothing here can fail: every rule was checked by :mod:`.validate`. What this module decides is
the shape the planner relies on:

* ``integrations``: name -> :class:`~reconciler.model.Integration`; credentials are
  :class:`~reconciler.model.SecretRef` (or plain text for non-secret fields), options hold the
  platform's options with defaults plus ``environment`` and ``rate_limit``.
* ``resources``: what each platform's ``build`` adds for its integrations (see the platform's
  ``spec.py``: an STFC ``number`` per number of every range and a ``link`` per number of a live
  service; a content ``subscription`` per package product of a live service...). What a
  cancelled service held is absent, so the planner takes it away.
* ``settings``: ``services`` (id -> status, client, source, plan) and ``ranges`` (integration -> ranges),
  which the planner needs to explain and order changes; ``safety`` (integration -> action ->
  ``{"max_percent": float, "max_count": int}``, for every declared integration and each of
  delete, unlink and suspend, defaults filled in) and ``protected`` (address -> Source of the
  ``protect: true`` that covers it), which :mod:`reconciler.safety` checks a plan against.
  ``schedules`` (name -> cron, run, integrations, timezone, source) for :mod:`reconciler.schedule`.
  Protection is kept out of the resources' ``attrs`` because those are compared when planning.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from reconciler.billing import billing_command
from reconciler.model import Desired, Integration, Resource, SecretRef, Source, address
from reconciler.platforms import registry
from reconciler.specs.content import Held, held_packages
from reconciler.specs.models import (
    DEFAULT_LIMIT,
    SAFETY_ACTIONS,
    SECRET_REF,
    ClientSpec,
    IntegrationSpec,
    PackageSpec,
    RangeSpec,
    ScheduleSpec,
    ServiceSpec,
    SpecSet,
)


def build_desired(specs: SpecSet) -> Desired:
    """The ``Desired`` of a validated spec set: each platform adds its own resources."""
    integrations = {name: _integration(name, spec) for name, spec in specs.integrations.items()}
    build = DesiredBuild(specs, integrations)
    for platform in sorted({i.platform for i in integrations.values()}):
        builder = registry.get(platform).build
        if builder is not None:
            builder(replace(build, platform=platform))
    return Desired(integrations, build.resources, specs.digest, _settings(specs))


@dataclass(frozen=True)
class LiveHeld:
    """A package held by a live (active or suspended) client service, with its integration."""

    client: ClientSpec
    service: ServiceSpec
    held: Held
    package: PackageSpec
    integration: Integration

    @property
    def common(self) -> dict[str, Any]:
        """The attributes every subscription carries: ``status`` is what it should be (active,
        or suspended when the service is suspended and the integration follows delinquency;
        None when the service is suspended but the integration does not, so it is left as it
        is); ``package`` and ``origin`` (the plan bundle, or "extra") explain changes and are
        never compared."""
        status: str | None = "active"
        if self.service.status == "suspended":
            follows = self.integration.options.get("suspend_on_delinquency")
            status = "suspended" if follows else None
        return {"service": self.service.id, "status": status, "package": self.held.package,
                "origin": self.held.origin}


@dataclass(frozen=True)
class DesiredBuild:
    """What a platform's ``build`` reads (the spec set, every integration) and adds to
    (``resources``, by address). ``platform`` is the platform being built."""

    specs: SpecSet
    integrations: Mapping[str, Integration]
    resources: dict[str, Resource] = field(default_factory=dict)
    platform: str = ""
    _held: list[LiveHeld] = field(default_factory=list)

    def mine(self) -> frozenset[str]:
        """The names of the integrations of the platform being built."""
        return frozenset(n for n, i in self.integrations.items() if i.platform == self.platform)

    def held(self) -> list[LiveHeld]:
        """Every package held by a live service, of any integration, in declaration order
        (worked out once, for every platform that sells packages)."""
        if not self._held:
            self._held.extend(
                LiveHeld(client, service, held, self.specs.packages[held.package],
                         self.integrations[self.specs.packages[held.package].integration])
                for client in self.specs.clients for service in client.services
                if service.status != "cancelled"
                for held in held_packages(service, self.specs.plans))
        return self._held


def _integration(name: str, spec: IntegrationSpec) -> Integration:
    base_dir = spec.where.doc.base_dir
    credentials = {key: _credential(value, base_dir) for key, value in spec.credentials.items()}
    rate_limit = spec.rate_limit.model_dump() if spec.rate_limit is not None else None
    options = {**spec.options, "environment": spec.environment, "rate_limit": rate_limit}
    return Integration(name, spec.platform, spec.endpoint, credentials, options, spec.source)


def _credential(value: str, base_dir: str) -> SecretRef | str:
    match = SECRET_REF.fullmatch(value)
    if match is None:
        return value  # a non-secret field (a username); validate refused literal secrets
    return SecretRef(match["scheme"], match["name"].strip(), base_dir)


def with_fingerprints(desired: Desired, key: Callable[[], bytes]) -> Desired:
    """``desired`` with what needs the state's own key: each declared platform's
    ``fingerprint`` (Campsoft's password digests) applied in turn. Apart from
    :func:`build_desired` because the key is the state's, while a desired state is cached by the
    content of the spec files alone; ``key`` is asked for only by a platform that needs it."""
    for name in sorted({i.platform for i in desired.integrations.values()}):
        hook = registry.get(name).fingerprint
        if hook is not None:
            desired = hook(desired, key)
    return desired


def _settings(specs: SpecSet) -> dict[str, Any]:
    services = {
        service.id: {"status": service.status, "client": client.name, "source": service.source,
                     "plan": service.plan}
        for client in specs.clients
        for service in client.services
    }
    ranges: dict[str, list[dict[str, Any]]] = {
        name: [] for name, spec in specs.integrations.items() if registry.get(spec.platform).number_ranges
    }
    for name, spec in sorted(specs.number_ranges.items(), key=lambda item: item[1].first_number):
        ranges.setdefault(spec.integration, []).append(_range_setting(name, spec, spec.source))
    return {
        "services": services,
        "ranges": ranges,
        "safety": safety_limits(specs),
        "protected": protected(specs),
        "products": {name: [p.code for p in products] for name, products in specs.products.items()},
        "packages": {name: _package_setting(spec) for name, spec in specs.packages.items()},
        "schedules": {name: _schedule_setting(spec, specs)
                      for name, spec in specs.schedules.items()},
        "warnings": [str(issue) for issue in specs.warnings],  # shown by validate and plan
    }


def _schedule_setting(spec: ScheduleSpec, specs: SpecSet) -> dict[str, Any]:
    """A schedule as plain values for :mod:`reconciler.schedule` (which never sees spec models);
    a billing job with the billing command of its integration's platform."""
    out = {"cron": spec.cron, "run": spec.run, "integrations": list(spec.integration or ()),
           "timezone": spec.timezone, "source": spec.source}
    declared = specs.integrations.get(spec.integration[0]) if spec.integration else None
    if spec.run == "billing" and declared is not None:
        out["billing"] = billing_command(registry.get(declared.platform)) or ""
    return out


def _package_setting(spec: PackageSpec) -> dict[str, Any]:
    """A package's integration and products, each product with the place it is written, so that
    a code the platform's catalog lacks can be pointed at."""
    doc, path = spec.where.doc, spec.where.path
    places = [Source(doc.file, *doc.position(path + ("products", i)))
              for i in range(len(spec.products))]
    return {"integration": spec.integration, "products": list(zip(spec.products, places,
                                                                  strict=True))}


def safety_limits(specs: SpecSet) -> dict[str, dict[str, dict[str, float | int]]]:
    """The effective limit of every declared integration and destructive action.

    Each field falls back, in order, to the integration's own limit for that action, then to
    ``safety.default``, then to the built-in default (10% and 200).
    """
    base = {**DEFAULT_LIMIT, **specs.safety_default}
    out: dict[str, dict[str, dict[str, float | int]]] = {}
    for name in sorted(specs.integrations):
        own = specs.safety.get(name, {})
        out[name] = {action: _plain({**base, **own.get(action, {})}) for action in SAFETY_ACTIONS}
    return out


def _plain(limit: dict[str, float | int]) -> dict[str, float | int]:
    return {"max_percent": float(limit["max_percent"]), "max_count": int(limit["max_count"])}


def protected(specs: SpecSet) -> dict[str, Source]:
    """Address -> where ``protect: true`` was written, for each protected number and link.

    A mapping rather than a set so that a refusal can point at the line to edit. The entries of
    cancelled services count too: cancelling is exactly what unlinks their numbers.
    """
    out: dict[str, Source] = {}
    for spec in specs.number_ranges.values():
        if spec.protect:
            for number in range(int(spec.first_number), int(spec.last_number) + 1):
                out[address(spec.integration, "number", f"{number:010d}")] = spec.source
    for client in specs.clients:
        for service in client.services:
            for phone in service.phone_numbers:
                if phone.protect:
                    out[address(phone.integration, "link", phone.number)] = phone.source
    return out


def _range_setting(name: str, spec: RangeSpec, source: Source) -> dict[str, Any]:
    return {
        "name": name,
        "first": spec.first_number,
        "last": spec.last_number,
        "country_code": spec.country_code,
        "on_remove": spec.on_remove,
        "source": source,
    }
