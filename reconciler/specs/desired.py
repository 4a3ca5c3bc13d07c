"""From a validated SpecSet to ``Desired``: the flat set of resources the planner compares.

Nothing here can fail: every rule was checked by :mod:`.validate`. What this module decides is
the shape the planner relies on:

* ``integrations``: name -> :class:`~reconciler.model.Integration`; credentials are
  :class:`~reconciler.model.SecretRef` (or plain text for non-secret fields), options hold the
  platform's options with defaults plus ``environment`` and ``rate_limit``.
* ``resources``: one ``number`` per number of every range, and one ``link`` per number assigned to
  a service that is not cancelled (a cancelled service's links are absent, so they get unlinked);
  one ``subscription`` per package product of such a service (key ``<user>/<product>`` on
  Qualifica, ``<contract_identifier>/<label>`` on Campsoft) and one Qualifica ``user`` per user.
* ``settings``: ``services`` (id -> status, client, source, plan) and ``ranges`` (integration -> ranges),
  which the planner needs to explain and order changes; ``safety`` (integration -> action ->
  ``{"max_percent": float, "max_count": int}``, for every declared integration and each of
  delete, unlink and suspend, defaults filled in) and ``protected`` (address -> Source of the
  ``protect: true`` that covers it), which :mod:`reconciler.safety` checks a plan against.
  ``schedules`` (name -> cron, run, integrations, timezone, source) for :mod:`reconciler.schedule`.
  Protection is kept out of the resources' ``attrs`` because those are compared when planning.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from reconciler.model import (
    PASSWORD_DIGEST,
    Desired,
    Integration,
    Resource,
    SecretRef,
    Source,
    address,
)
from reconciler.specs.content import (
    Held,
    campsoft_contract,
    campsoft_label,
    campsoft_password,
    held_packages,
    password_digest,
    qualifica_user,
)
from reconciler.specs.models import (
    DEFAULT_LIMIT,
    PLATFORMS,
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
    """The ``Desired`` of a validated spec set."""
    integrations = {name: _integration(name, spec) for name, spec in specs.integrations.items()}
    resources: dict[str, Resource] = {}
    for name, spec in specs.number_ranges.items():
        _add_numbers(resources, name, spec)
    for client in specs.clients:
        _add_links(resources, client, integrations)
        _add_content(resources, client, specs, integrations)
    return Desired(integrations, resources, specs.digest, _settings(specs))


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


def _add_numbers(resources: dict[str, Resource], name: str, spec: RangeSpec) -> None:
    """One ``number`` resource per number of the range; they share the range's source."""
    attrs = {"country_code": spec.country_code, "range": name}
    source = spec.source
    for number in range(int(spec.first_number), int(spec.last_number) + 1):
        key = f"{number:010d}"
        resources[address(spec.integration, "number", key)] = Resource(
            spec.integration, "number", key, dict(attrs), source
        )


def _add_links(
    resources: dict[str, Resource], client: ClientSpec, integrations: dict[str, Integration]
) -> None:
    """One ``link`` resource per number of each live service of ``client``."""
    for service in client.services:
        if service.status == "cancelled":
            continue
        for phone in service.phone_numbers:
            blocks = bool(integrations[phone.integration].options.get("block_on_suspend", True))
            attrs = {
                "service": service.id,
                "plan": phone.plan,
                "params": dict(phone.params),
                "blocked": service.status == "suspended" and blocks,
                "document": client.document,
                "name": client.name,
            }
            resource = Resource(phone.integration, "link", phone.number, attrs, phone.source)
            resources[resource.address] = resource


def _add_content(
    resources: dict[str, Resource],
    client: ClientSpec,
    specs: SpecSet,
    integrations: dict[str, Integration],
) -> None:
    """The subscriptions (and Qualifica users) of each live service's packages.

    ``status`` is what the subscription should be: active, or suspended when the service is
    suspended and the integration follows delinquency; None when the service is suspended but
    the integration does not (the subscription is then left as it is). ``package`` and
    ``origin`` (the plan bundle, or "extra") explain changes and are never compared.
    """
    for service in client.services:
        if service.status == "cancelled":
            continue
        for held in held_packages(service, specs.plans):
            package = specs.packages[held.package]
            integration = integrations[package.integration]
            status: str | None = "active"
            if service.status == "suspended":
                follows = integration.options.get("suspend_on_delinquency")
                status = "suspended" if follows else None
            common = {"service": service.id, "status": status, "package": held.package,
                      "origin": held.origin}
            source = held.where.source()
            if integration.platform == "qualifica":
                _add_qualifica(resources, integration, client, service, held, package.products,
                               common, source)
            else:
                _add_campsoft(resources, integration.name, client, service, held,
                              package.products[0], common, source)


def _add_qualifica(
    resources: dict[str, Resource], integration: Integration, client: ClientSpec,
    service: ServiceSpec, held: Held, products: list[str], common: dict[str, Any],
    source: Source,
) -> None:
    name = integration.name
    user = qualifica_user(str(integration.options.get("user_field")), client, service) or ""
    person = {"name": client.name, "email": client.email, "document": client.document}
    resources.setdefault(address(name, "user", user), Resource(name, "user", user, person, source))
    for code in products:
        key = f"{user}/{code}"
        attrs = {"user": user, "product": code, **common,
                 "expires": held.params.get("data_expiracao")}
        resources[address(name, "subscription", key)] = Resource(
            name, "subscription", key, attrs, source
        )


def _add_campsoft(
    resources: dict[str, Resource], name: str, client: ClientSpec, service: ServiceSpec,
    held: Held, product: str, common: dict[str, Any], source: Source,
) -> None:
    contract = campsoft_contract(service, held.params)
    label = campsoft_label(held.package, service, held.params)
    key = f"{contract}/{label}"
    attrs = {"contract": contract, "label": label, "product": product, **common,
             "name": client.name, "document": client.document, "email": client.email,
             "phone": client.phone, "login": service.login,
             "password_from": held.params.get("senha", "cpf_cnpj")}
    resources[address(name, "subscription", key)] = Resource(
        name, "subscription", key, attrs, source
    )


def with_password_digests(desired: Desired, key: Callable[[], bytes]) -> Desired:
    """``desired`` with a ``password_digest`` on each Campsoft subscription: the fingerprint of
    its password rule and of the password that rule gives (:func:`.content.password_digest`),
    which the planner compares with the one the state recorded when the password was last sent.

    Apart from :func:`build_desired` because the key is the state's own, while a desired state
    is cached by the content of the spec files alone. ``key`` is asked for only when a Campsoft
    integration is declared."""
    campsoft = {name for name, i in desired.integrations.items() if i.platform == "campsoft"}
    if not campsoft:
        return desired
    resources, secret = dict(desired.resources), key()
    for at, res in desired.resources.items():
        if res.kind == "subscription" and res.integration in campsoft:
            attrs = res.attrs
            rule = str(attrs.get("password_from") or "cpf_cnpj")
            password = campsoft_password(rule, attrs.get("document"), attrs.get("login"),
                                         str(attrs.get("contract")))
            digest = password_digest(secret, rule, password)
            resources[at] = Resource(res.integration, res.kind, res.key,
                                     {**attrs, PASSWORD_DIGEST: digest}, res.source, res.remote_id)
    return replace(desired, resources=resources)


def _settings(specs: SpecSet) -> dict[str, Any]:
    services = {
        service.id: {"status": service.status, "client": client.name, "source": service.source,
                     "plan": service.plan}
        for client in specs.clients
        for service in client.services
    }
    ranges: dict[str, list[dict[str, Any]]] = {
        name: [] for name, spec in specs.integrations.items() if PLATFORMS[spec.platform].number_ranges
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
        "schedules": {name: _schedule_setting(spec) for name, spec in specs.schedules.items()},
    }


def _schedule_setting(spec: ScheduleSpec) -> dict[str, Any]:
    """A schedule as plain values for :mod:`reconciler.schedule` (which never sees spec models)."""
    return {"cron": spec.cron, "run": spec.run, "integrations": list(spec.integration or ()),
            "timezone": spec.timezone, "source": spec.source}


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
        "source": source,
    }
