"""The rules of the content kinds that relate entries to each other.

Products, packages and plan bundles must point at what exists; Campsoft takes one product per
package; a locked plan (``lock_packages``, the seeds' "Travar Pacotes") lets a service hold only
the plan's packages and never drop a mandatory one; each package's parameters must be ones its
platform takes; a client whose service holds a Campsoft package needs an e-mail and a phone (the
platform refuses the subscription otherwise); the Qualifica user field must have a value; and no
two services may claim the same subscription on a platform.
"""

from __future__ import annotations

import re
from datetime import date
from typing import TYPE_CHECKING

from reconciler.specs.content import (
    Held,
    campsoft_contract,
    campsoft_label,
    held_packages,
    qualifica_user,
)
from reconciler.specs.models import (
    CAMPSOFT_PASSWORDS,
    PLATFORMS,
    ClientSpec,
    ServiceSpec,
    choices_hint,
)
from reconciler.specs.yaml_loader import Where

ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
USER_PROBLEM = re.compile(r"[/\s]")  # "/" would make <user>/<product> ambiguous; no spaces

if TYPE_CHECKING:
    from reconciler.specs.validate import Collected, Issues


def check(collected: Collected, issues: Issues) -> None:
    _check_products(collected, issues)
    _check_packages(collected, issues)
    _check_plans(collected, issues)
    claimed: dict[tuple[str, str], tuple[Where, int]] = {}
    users: dict[tuple[str, str], ClientSpec] = {}
    for client in collected.clients:
        for service in client.services:
            _check_service(collected, client, service, claimed, users, issues)



def _content(collected: Collected) -> list[str]:
    return sorted(n for n, s in collected.integrations.items() if PLATFORMS[s.platform].content)


def _content_integration(collected: Collected, name: str, where: Where, sub: tuple[str, ...],
                         issues: Issues) -> bool:
    """Whether ``name`` is a declared content integration (an issue when it is known not to be)."""
    spec = collected.integrations.get(name)
    if spec is None:
        if collected.complete and ("integrations", name) not in collected.declared:
            hint = choices_hint(name, _content(collected), "content integrations declared")
            issues.at(where, sub, f"unknown integration '{name}'", hint, at_key=not sub)
        return False
    if not PLATFORMS[spec.platform].content:
        issues.at(where, sub, f"integration '{name}' is a {spec.platform} integration, which "
                  f"sells no content packages", "point to a qualifica or campsoft integration")
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
        if PLATFORMS[platform].single_product and len(package.products) != 1:
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
        seen: set[str] = set()
        for entry in plan.packages:
            _package_exists(collected, entry.package, entry.where, issues)
            if entry.package in seen:
                issues.at(entry.where, ("package",), f"package '{entry.package}' is listed twice "
                          f"in plan '{name}'", "keep one entry")
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
Users = dict[tuple[str, str], ClientSpec]  # (integration, Qualifica user) -> its client


def _check_service(collected: Collected, client: ClientSpec, service: ServiceSpec,
                   claimed: Claimed, users: Users, issues: Issues) -> None:
    plan = collected.plans.get(service.plan) if service.plan else None
    if service.plan and plan is None:
        if collected.complete and ("plans", service.plan) not in collected.declared:
            known = sorted(collected.plans)
            issues.at(service.where, ("plan",), f"unknown plan '{service.plan}'",
                      choices_hint(service.plan, known, "declared plans"))
        return
    seen: set[str] = set()
    for entry in service.packages:
        _package_exists(collected, entry.package, entry.where, issues)
        if entry.package in seen:
            issues.at(entry.where, ("package",), f"package '{entry.package}' is listed twice on "
                      f"service {service.id}", "keep one entry and merge its params")
        seen.add(entry.package)
    _check_plan_use(service, plan, issues)
    if service.status == "cancelled":
        return  # its subscriptions are being cancelled: what they would need no longer matters
    for held in held_packages(service, collected.plans):
        package = collected.packages.get(held.package)
        spec = collected.integrations.get(package.integration) if package else None
        if package is None or spec is None or not PLATFORMS[spec.platform].content:
            continue
        _check_held(collected, client, service, held, spec.platform, spec.options, claimed,
                    users, issues)


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


def _check_held(collected: Collected, client: ClientSpec, service: ServiceSpec, held: Held,
                platform: str, options: dict[str, object], claimed: Claimed, users: Users,
                issues: Issues) -> None:
    allowed = PLATFORMS[platform].params
    for key, value in held.params.items():
        if key not in allowed:
            issues.at(held.where, ("params", key), f"unknown parameter '{key}' for a {platform} "
                      f"package", choices_hint(key, allowed, f"{platform} packages take"),
                      at_key=True)
        else:
            problem = _param_problem(key, value)
            if problem:
                issues.at(held.where, ("params", key), problem[0], problem[1])
    package = collected.packages[held.package]
    if platform == "campsoft":
        key = _campsoft_needs(client, service, held, issues)
        keys = [key] if key else []
    else:
        user = qualifica_user(str(options.get("user_field")), client, service)
        if not user:
            field = options.get("user_field")
            issues.at(held.where, (), f"package '{held.package}' needs the client's user on "
                      f"Qualifica, which integration '{package.integration}' takes from "
                      f"{field}, and service {service.id} has none",
                      "add login: to the service" if field == "login_autenticacao"
                      else "add email: to the client", at_key=True)
            return
        if not _qualifica_user_ok(package.integration, user, client, held, users, issues):
            return
        keys = [f"{user}/{code}" for code in package.products]
    for key in keys:
        first = claimed.setdefault((package.integration, key), (held.where, service.id))
        if first[0] is not held.where:
            issues.at(held.where, (), f"subscription {key} on integration '{package.integration}' "
                      f"is already held by service {first[1]} at {first[0]}",
                      "give one of them another label or id_contrato, or another user field",
                      at_key=True)


def _qualifica_user_ok(integration: str, user: str, client: ClientSpec, held: Held,
                       users: Users, issues: Issues) -> bool:
    """A user Qualifica can hold, belonging to one client only."""
    if USER_PROBLEM.search(user):
        issues.at(held.where, (), f"the Qualifica user '{user}' holds a '/' or a space, which "
                  f"the platform refuses", "correct the service's login, or choose another "
                  "user_field for the integration", at_key=True)
        return False
    owner = users.setdefault((integration, user), client)
    if owner is not client:
        issues.at(held.where, (), f"clients {owner.name} (at {owner.where}) and {client.name} "
                  f"would share the Qualifica user '{user}' on integration '{integration}'",
                  "give each client their own value of the integration's user_field",
                  at_key=True)
        return False
    return True


def _campsoft_needs(client: ClientSpec, service: ServiceSpec, held: Held,
                    issues: Issues) -> str | None:
    """Campsoft refuses a subscription without the client's e-mail and phone; the login must
    exist when the password is taken from it. Returns the subscription's key."""
    missing = [name for name, value in (("email", client.email), ("phone", client.phone))
               if not value]
    if missing:
        issues.at(held.where, (), f"package '{held.package}' is a Campsoft subscription, which "
                  f"needs the client's e-mail and phone; client {client.name} has no "
                  f"{' and no '.join(missing)}", f"add {' and '.join(missing)} to the client at "
                  f"{client.where}", at_key=True)
    if held.params.get("senha") == "login_autenticacao" and not service.login:
        issues.at(held.where, ("params", "senha"), f"senha: login_autenticacao, but service "
                  f"{service.id} has no login", "add login: to the service, or use cpf_cnpj")
    contract = campsoft_contract(service, held.params)
    return f"{contract}/{campsoft_label(held.package, service, held.params)}"


def _param_problem(key: str, value: str) -> tuple[str, str] | None:
    if key == "data_expiracao":
        try:
            valid = bool(ISO_DATE.fullmatch(value)) and bool(date.fromisoformat(value))
        except ValueError:
            valid = False
        if not valid:
            return (f"data_expiracao '{value}' is not a date written YYYY-MM-DD",
                    "write it as 2027-12-31")
    elif key == "senha" and value not in CAMPSOFT_PASSWORDS:
        return (f"senha must be one of {', '.join(CAMPSOFT_PASSWORDS)} (the field the password "
                f"is taken from), not that value", "a literal password is never written in specs")
    elif key in ("label", "id_contrato") and "/" in value:
        return (f"{key} must not contain '/'", "use letters, digits, dashes or dots")
    return None
