"""The rules of the content kinds that relate entries to each other.

Products, packages and plan bundles must point at what exists; a platform may take one product
per package (``single_product``); a locked plan (``lock_packages``, the seeds' "Travar Pacotes")
lets a service hold only the plan's packages and never drop a mandatory one; each package's
parameters must be ones its platform takes (``package_params``, each checked by its
``param_problem``); what the platform needs of the client and the service is its ``claims``' to
say (Campsoft: an e-mail and a phone; Qualifica: a value of the user field), and no two services
may claim the same subscription on an integration.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.platforms import registry
from reconciler.specs.collected import Collected, Issues
from reconciler.specs.content import Held, held_packages
from reconciler.specs.models import (
    ClientSpec,
    IntegrationSpec,
    PackageSpec,
    PlanPackageSpec,
    ServicePackageSpec,
    ServiceSpec,
    choices_hint,
)
from reconciler.specs.yaml_loader import Where


def check(collected: Collected, issues: Issues) -> None:
    _check_products(collected, issues)
    _check_packages(collected, issues)
    _check_plans(collected, issues)
    claimed: Claimed = {}
    memos: dict[str, dict[Hashable, Any]] = {}
    for client in collected.clients:
        for service in client.services:
            _check_service(collected, client, service, claimed, memos, issues)

def _selling() -> list[str]:
    return [p.name for p in registry.every() if p.sells_packages]


def _content(collected: Collected) -> list[str]:
    return sorted(n for n, s in collected.integrations.items() if registry.get(s.platform).sells_packages)


def _content_integration(collected: Collected, name: str, where: Where, sub: tuple[str, ...],
                         issues: Issues) -> bool:
    """Whether ``name`` is a declared content integration (an issue when it is known not to be)."""
    spec = collected.integrations.get(name)
    if spec is None:
        if collected.complete and ("integrations", name) not in collected.declared:
            hint = choices_hint(name, _content(collected), "content integrations declared")
            issues.at(where, sub, f"unknown integration '{name}'", hint, at_key=not sub)
        return False
    if not registry.get(spec.platform).sells_packages:
        issues.at(where, sub, f"integration '{name}' is a {spec.platform} integration, which "
                  f"sells no content packages", f"point to a {' or '.join(_selling())} integration")
        return False
    return True


def _check_products(collected: Collected, issues: Issues) -> None:
    for name, products in collected.products.items():
        _content_integration(collected, name, collected.products_at[name], (), issues)
        seen: set[str] = set()
        for product in products:
            if product.code in seen:
                issues.at(product.where, ("code",), f"product '{product.code}' is declared twice "
                          f"for integration '{name}'", "keep one of them")
            seen.add(product.code)


def _check_packages(collected: Collected, issues: Issues) -> None:
    for name, package in collected.packages.items():
        if not _content_integration(collected, package.integration, package.where,
                                    ("integration",), issues):
            continue
        platform = collected.integrations[package.integration].platform
        if registry.get(platform).single_product and len(package.products) != 1:
            issues.at(package.where, ("products",), f"package '{name}' lists "
                      f"{len(package.products)} products, but {platform} takes exactly one "
                      f"product per package", "split it into one package per product")
        declared = collected.products.get(package.integration)
        for i, code in enumerate(package.products):
            if declared is not None and code not in {p.code for p in declared}:
                issues.at(package.where, ("products", i), f"product '{code}' is not among the "
                          f"products declared for integration '{package.integration}'",
                          choices_hint(code, list(dict.fromkeys(p.code for p in declared)),
                                       "valid codes"))


def _check_plans(collected: Collected, issues: Issues) -> None:
    for name, plan in collected.plans.items():
        _check_entries(collected, plan.packages, f"in plan '{name}'", "keep one entry", issues)


def _check_entries(collected: Collected, entries: Sequence[PlanPackageSpec | ServicePackageSpec],
                   holder: str, hint: str, issues: Issues) -> None:
    """Each of a plan's or a service's package entries names a declared package, once."""
    seen: set[str] = set()
    for entry in entries:
        _package_exists(collected, entry.package, entry.where, issues)
        if entry.package in seen:
            issues.at(entry.where, ("package",), f"package '{entry.package}' is listed twice "
                      f"{holder}", hint)
        seen.add(entry.package)


def _package_exists(collected: Collected, name: str, where: Where, issues: Issues) -> bool:
    if name in collected.packages:
        return True
    if collected.complete and ("packages", name) not in collected.declared:
        known = sorted(collected.packages)
        issues.at(where, ("package",), f"unknown package '{name}'",
                  choices_hint(name, known, "declared packages"))
    return False


# --- services ----------------------------------------------------------------------------------


Claimed = dict[tuple[str, str], tuple[Where, int]]  # (integration, key) -> first holder


def _check_service(collected: Collected, client: ClientSpec, service: ServiceSpec,
                   claimed: Claimed, memos: dict[str, dict[Hashable, Any]], issues: Issues) -> None:
    plan = collected.plans.get(service.plan) if service.plan else None
    if service.plan and plan is None:
        if collected.complete and ("plans", service.plan) not in collected.declared:
            known = sorted(collected.plans)
            issues.at(service.where, ("plan",), f"unknown plan '{service.plan}'",
                      choices_hint(service.plan, known, "declared plans"))
        return
    _check_entries(collected, service.packages, f"on service {service.id}",
                   "keep one entry and merge its params", issues)
    _check_plan_use(service, plan, issues)
    if service.status == "cancelled":
        return  # its subscriptions are being cancelled: what they would need no longer matters
    for held in held_packages(service, collected.plans):
        package = collected.packages.get(held.package)
        spec = collected.integrations.get(package.integration) if package else None
        if package is None or spec is None or not registry.get(spec.platform).sells_packages:
            continue
        _check_held(collected, client, service, held, spec, claimed, memos, issues)


def _check_plan_use(service: ServiceSpec, plan: object, issues: Issues) -> None:
    """exclude_packages names packages of the plan; a locked plan keeps its mandatory ones and
    takes no package from outside it."""
    defaults = {e.package: e for e in getattr(plan, "packages", ())}
    locked = bool(getattr(plan, "lock_packages", False))
    for i, name in enumerate(service.exclude_packages):
        entry = defaults.get(name)
        if entry is None:
            where = f"plan '{service.plan}'" if service.plan else "no plan"
            issues.at(service.where, ("exclude_packages", i), f"package '{name}' is not a "
                      f"default of {where}: there is nothing to exclude",
                      f"defaults: {', '.join(defaults) or 'none'}")
        elif locked and entry.mandatory:
            issues.at(service.where, ("exclude_packages", i), f"package '{name}' is mandatory in "
                      f"plan '{service.plan}', which locks its packages (lock_packages)",
                      "keep it, or make it optional in the plan, or unlock the plan")
    if locked:
        for entry in service.packages:
            if entry.package not in defaults:
                issues.at(entry.where, ("package",), f"plan '{service.plan}' locks its packages "
                          f"(lock_packages): package '{entry.package}' is not one of them",
                          f"its packages: {', '.join(defaults) or 'none'}; add it to the plan or "
                          f"unlock the plan")


@dataclass
class HeldCheck:
    """One package held by a live service, for its platform's ``claims`` to check: what the
    platform needs of the client and the service, and the keys the package claims."""

    collected: Collected
    client: ClientSpec
    service: ServiceSpec
    held: Held
    package: PackageSpec
    integration: IntegrationSpec
    issues: Issues
    memo: dict[Hashable, Any]  # the platform's own bookkeeping across the spec set (users seen...)

    def problem(self, sub: tuple[str, ...], message: str, hint: str) -> None:
        """A problem with this held package (``sub`` below its entry, e.g. ("params", "senha"))."""
        self.issues.at(self.held.where, sub, message, hint, at_key=not sub)


def _check_held(collected: Collected, client: ClientSpec, service: ServiceSpec, held: Held,
                spec: IntegrationSpec, claimed: Claimed, memos: dict[str, dict[Hashable, Any]],
                issues: Issues) -> None:
    platform = registry.get(spec.platform)
    allowed = tuple(platform.package_params)
    for key, value in held.params.items():
        if key not in allowed:
            issues.at(held.where, ("params", key), f"unknown parameter '{key}' for a "
                      f"{platform.name} package", choices_hint(key, allowed, f"{platform.name} "
                      f"packages take"), at_key=True)
        else:
            problem = platform.param_problem(key, value) if platform.param_problem else None
            if problem:
                issues.at(held.where, ("params", key), problem[0], problem[1])
    package = collected.packages[held.package]
    if platform.claims is None:
        return
    check = HeldCheck(collected, client, service, held, package, spec, issues,
                      memos.setdefault(platform.name, {}))
    for key in platform.claims(check):
        first = claimed.setdefault((package.integration, key), (held.where, service.id))
        if first[0] is not held.where:
            issues.at(held.where, (), f"subscription {key} on integration '{package.integration}' "
                      f"is already held by service {first[1]} at {first[0]}",
                      "give one of them another label or id_contrato, or another user field",
                      at_key=True)
