"""Campsoft in the spec language: its options, what a package of it needs, and its resources.

A ``subscription`` per package a live service holds (one product per package, per the seed),
keyed ``<contract_identifier>/<label>``: the contract is the service id unless the package's
``id_contrato`` says otherwise, the label ``<package>-<service id>`` unless its ``label`` does.
It carries the product and the customer's data (name, document, e-mail, phone, login), which
Campsoft stores on the subscription, and the password rule (the seed's ``senha``: the document's
digits by default, or the login, or the contract). The password itself is never in a resource:
at the edge each subscription gets a keyed fingerprint of the rule and of the password it gives
(:func:`fingerprint`), which the planner compares with the one the state recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from reconciler.model import PASSWORD_DIGEST, Desired, Resource, address
from reconciler.specs.content import password_digest
from reconciler.specs.models import ContentOptions, NonEmpty, ServiceSpec

if TYPE_CHECKING:
    from reconciler.specs.content_rules import HeldCheck
    from reconciler.specs.desired import DesiredBuild

PLATFORM = "campsoft"
PASSWORDS = ("cpf_cnpj", "login_autenticacao", "id_contrato")  # what `senha` may name
NO_SLASH = {"type": ["string", "integer"], "pattern": "^[^/]+$"}
PARAMS = {
    "senha": {"enum": list(PASSWORDS),
              "description": "The client field the Campsoft password is taken from (never a "
                             "literal password)."},
    "id_contrato": {**NO_SLASH, "patternErrorMessage": "No '/' in a contract identifier.",
                    "description": "The contract identifier on Campsoft (no '/')."},
    "label": {**NO_SLASH, "patternErrorMessage": "No '/' in a label.",
              "description": "The subscription's label on Campsoft (no '/')."},
}


class CampsoftOptions(ContentOptions):
    # Which ISP of the credential the subscriptions belong to; the only one listed when absent.
    isp_identifier: NonEmpty | None = None


def contract_of(service: ServiceSpec, params: Mapping[str, str]) -> str:
    """The ``contract_identifier``: ``id_contrato`` when given, else the service id."""
    return params.get("id_contrato") or str(service.id)


def label_of(package: str, service: ServiceSpec, params: Mapping[str, str]) -> str:
    """The subscription's ``label``: the one given, else the default."""
    return params.get("label") or default_label(package, service.id)


def default_label(package: str, service_id: int) -> str:
    """The label a subscription gets when its package gives none: ``<package>-<service id>``."""
    return f"{package}-{service_id}"


def password_of(rule: str, document: object, login: object, contract: str) -> str:
    """The password the seed's ``senha`` rule names: the document's digits (``cpf_cnpj``), the
    service's login (``login_autenticacao``) or the contract identifier (``id_contrato``).
    Empty when the field it reads is; the caller decides what that means."""
    if rule == "cpf_cnpj":
        return "".join(ch for ch in str(document or "") if ch.isdigit())
    if rule == "login_autenticacao":
        return str(login or "")
    return contract


def build(ctx: DesiredBuild) -> None:
    mine = ctx.mine()
    for entry in ctx.held():
        name = entry.integration.name
        if name not in mine:
            continue
        client, service, held = entry.client, entry.service, entry.held
        contract = contract_of(service, held.params)
        label = label_of(held.package, service, held.params)
        key = f"{contract}/{label}"
        attrs = {"contract": contract, "label": label, "product": entry.package.products[0],
                 **entry.common, "name": client.name, "document": client.document,
                 "email": client.email, "phone": client.phone, "login": service.login,
                 "password_from": held.params.get("senha", "cpf_cnpj")}
        ctx.resources[address(name, "subscription", key)] = Resource(
            name, "subscription", key, attrs, held.where.source())


def fingerprint(desired: Desired, key: Callable[[], bytes]) -> Desired:
    """``desired`` with a ``password_digest`` on each Campsoft subscription: the fingerprint of
    its password rule and of the password that rule gives (:func:`password_digest`), which the
    planner compares with the one the state recorded when the password was last sent. ``key``
    is asked for only when a Campsoft integration is declared."""
    mine = {name for name, i in desired.integrations.items() if i.platform == PLATFORM}
    if not mine:
        return desired
    resources, secret = dict(desired.resources), key()
    for at, res in desired.resources.items():
        if res.kind == "subscription" and res.integration in mine:
            attrs = res.attrs
            rule = str(attrs.get("password_from") or "cpf_cnpj")
            password = password_of(rule, attrs.get("document"), attrs.get("login"),
                                   str(attrs.get("contract")))
            digest = password_digest(secret, rule, password)
            resources[at] = Resource(res.integration, res.kind, res.key,
                                     {**attrs, PASSWORD_DIGEST: digest}, res.source, res.remote_id)
    return replace(desired, resources=resources)


def param_problem(key: str, value: str) -> tuple[str, str] | None:
    if key == "senha" and value not in PASSWORDS:
        return (f"senha must be one of {', '.join(PASSWORDS)} (the field the password is taken "
                f"from), not that value", "a literal password is never written in specs")
    if key in ("label", "id_contrato") and "/" in value:
        return (f"{key} must not contain '/'", "use letters, digits, dashes or dots")
    return None


def claims(check: HeldCheck) -> list[str]:
    """Campsoft refuses a subscription without the client's e-mail and phone; the login must
    exist when the password is taken from it. Claims ``<contract>/<label>``."""
    client, service, held = check.client, check.service, check.held
    missing = [name for name, value in (("email", client.email), ("phone", client.phone))
               if not value]
    if missing:
        check.problem((), f"package '{held.package}' is a Campsoft subscription, which needs the "
                      f"client's e-mail and phone; client {client.name} has no "
                      f"{' and no '.join(missing)}", f"add {' and '.join(missing)} to the client "
                      f"at {client.where}")
    if held.params.get("senha") == "login_autenticacao" and not service.login:
        check.problem(("params", "senha"), f"senha: login_autenticacao, but service {service.id} "
                      f"has no login", "add login: to the service, or use cpf_cnpj")
    return [f"{contract_of(service, held.params)}/{label_of(held.package, service, held.params)}"]


RULE = "password_from"  # the seed's senha: which value becomes the password


def password_change(want: Mapping[str, Any], was: Mapping[str, Any]) -> str:
    """Why the declared password (``want``) differs from the one last sent (``was``, the state's
    record), or "" when it does not: its rule changed, or the password that rule gives did (a
    fingerprint is never shown). Where the state or the specs hold no rule or no fingerprint,
    there is nothing to compare, and nothing is sent for the password alone."""
    rule, before = want.get(RULE), was.get(RULE)
    if rule and before and rule != before:
        return f"password rule changed ({before} -> {rule})"
    digest, recorded = want.get(PASSWORD_DIGEST), was.get(PASSWORD_DIGEST)
    if digest and recorded and digest != recorded:
        return f"password changed: its {rule} changed"
    return ""
