"""What a client service holds on the content platforms, derived from its plan and its packages.

Shared by the validator (which checks it) and :mod:`.desired` (which turns it into resources),
so that both read a service the same way:

* a service on a plan bundle holds the plan's packages, less those in ``exclude_packages``;
* it also holds the packages listed under its own ``packages`` (a plan's package listed there
  again only gives it parameters);
* the defaults of the seeds: Qualifica identifies the user by the integration's ``user_field``
  (the service's login by default); Campsoft's ``contract_identifier`` is the service id, its
  ``label`` is ``<package>-<service id>`` and its password rule is ``cpf_cnpj``; each can be
  overridden per package with ``params`` (``id_contrato``, ``label``, ``senha``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from reconciler.specs.models import ClientSpec, PlanSpec, ServiceSpec
from reconciler.specs.yaml_loader import Where

EXTRA = "extra"
PASSWORD_PERSON = b"campsoft-passwd"  # what the fingerprints of Campsoft passwords are for


@dataclass(frozen=True)
class Held:
    """One package a service holds."""

    package: str
    params: Mapping[str, str]
    origin: str  # "plan <name>" when it comes with the plan bundle, else "extra"
    where: Where  # the service's own entry for it, else the service
    mandatory: bool = False


def held_packages(service: ServiceSpec, plans: Mapping[str, PlanSpec]) -> list[Held]:
    """The packages ``service`` holds, plan defaults first, in declaration order."""
    extras = {entry.package: entry for entry in service.packages}
    out: list[Held] = []
    plan = plans.get(service.plan) if service.plan else None
    if plan is not None:
        excluded = set(service.exclude_packages)
        for default in plan.packages:
            if default.package in excluded:
                continue
            own = extras.pop(default.package, None)
            out.append(Held(default.package, own.params if own else {}, f"plan {service.plan}",
                            own.where if own else service.where, default.mandatory))
    out.extend(Held(name, entry.params, EXTRA, entry.where) for name, entry in extras.items())
    return out


def qualifica_user(user_field: str, client: ClientSpec, service: ServiceSpec) -> str | None:
    """The user that identifies the client on Qualifica, or None when the field is empty."""
    if user_field == "cpf_cnpj":
        return client.document
    if user_field == "email":
        return client.email
    if user_field == "id_cliente_servico":
        return str(service.id)
    return service.login


def campsoft_contract(service: ServiceSpec, params: Mapping[str, str]) -> str:
    """The ``contract_identifier``: ``id_contrato`` when given, else the service id."""
    return params.get("id_contrato") or str(service.id)


def campsoft_label(package: str, service: ServiceSpec, params: Mapping[str, str]) -> str:
    """The subscription's ``label``: the one given, else the default."""
    return params.get("label") or default_label(package, service.id)


def default_label(package: str, service_id: int) -> str:
    """The label a subscription gets when its package gives none: ``<package>-<service id>``."""
    return f"{package}-{service_id}"


def campsoft_password(rule: str, document: object, login: object, contract: str) -> str:
    """The password the seed's ``senha`` rule names: the document's digits (``cpf_cnpj``), the
    service's login (``login_autenticacao``) or the contract identifier (``id_contrato``).
    Empty when the field it reads is; the caller decides what that means."""
    if rule == "cpf_cnpj":
        return "".join(ch for ch in str(document or "") if ch.isdigit())
    if rule == "login_autenticacao":
        return str(login or "")
    return contract


def password_digest(key: bytes, rule: str, password: str) -> str:
    """A fingerprint of a password rule and of the password it gives, never the password:
    BLAKE2b keyed by the state's own random key (see ``StateStore.fingerprint_key``), so that
    nobody without the key can test guesses against it; a plain hash of an 11-digit CPF would
    give the CPF back to anyone who tried them all. Keyed BLAKE2b is a MAC by design, as
    HMAC-SHA256 is, in half the time: it runs once per subscription on every plan."""
    message = f"{rule}\0{password}".encode()
    return hashlib.blake2b(message, key=key, digest_size=32, person=PASSWORD_PERSON).hexdigest()
