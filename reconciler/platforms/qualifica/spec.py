"""Qualifica in the spec language: its options, what a package of it needs, and its resources.

- a ``user`` per client that holds a Qualifica package, identified by the integration's
  ``user_field`` (the seed's "Usuário": the service's login by default, or the document, the
  e-mail or the service id), carrying the client's name, e-mail and document;
- a ``subscription`` per product of each package a live service holds (key
  ``<user>/<product>``), with the service, its status and ``data_expiracao`` when given (the
  platform's default of one year otherwise, never compared).
"""

from __future__ import annotations

import re
from datetime import date
from typing import TYPE_CHECKING, Literal

from reconciler.model import Resource, address
from reconciler.specs.models import ClientSpec, ContentOptions, ServiceSpec

if TYPE_CHECKING:
    from reconciler.specs.content_rules import HeldCheck
    from reconciler.specs.desired import DesiredBuild

USER_FIELDS = ("login_autenticacao", "cpf_cnpj", "email", "id_cliente_servico")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
USER_PROBLEM = re.compile(r"[/\s]")  # "/" would make <user>/<product> ambiguous; no spaces
PARAMS = {
    "data_expiracao": {"type": "string", "pattern": f"^{ISO_DATE.pattern}$",
                       "patternErrorMessage": "Write the date as YYYY-MM-DD, e.g. 2027-12-31.",
                       "description": "Expiry date of the subscription, YYYY-MM-DD.",
                       "examples": ["2027-12-31"]},
}


class QualificaOptions(ContentOptions):
    # What identifies the client's user on Qualifica (the seed's "Usuário" parameter).
    user_field: Literal[USER_FIELDS] = "login_autenticacao"  # type: ignore[valid-type]


def user_of(user_field: str, client: ClientSpec, service: ServiceSpec) -> str | None:
    """The user that identifies the client on Qualifica, or None when the field is empty."""
    if user_field == "cpf_cnpj":
        return client.document
    if user_field == "email":
        return client.email
    if user_field == "id_cliente_servico":
        return str(service.id)
    return service.login


def build(ctx: DesiredBuild) -> None:
    mine = ctx.mine()
    for entry in ctx.held():
        integration = entry.integration
        if integration.name not in mine:
            continue
        name, client, source = integration.name, entry.client, entry.held.where.source()
        user = user_of(str(integration.options.get("user_field")), client, entry.service) or ""
        person = {"name": client.name, "email": client.email, "document": client.document}
        ctx.resources.setdefault(address(name, "user", user),
                                 Resource(name, "user", user, person, source))
        common = entry.common
        for code in entry.package.products:
            key = f"{user}/{code}"
            attrs = {"user": user, "product": code, **common,
                     "expires": entry.held.params.get("data_expiracao")}
            ctx.resources[address(name, "subscription", key)] = Resource(
                name, "subscription", key, attrs, source)


def param_problem(key: str, value: str) -> tuple[str, str] | None:
    if key != "data_expiracao":
        return None
    try:
        valid = bool(ISO_DATE.fullmatch(value)) and bool(date.fromisoformat(value))
    except ValueError:
        valid = False
    if valid:
        return None
    return (f"data_expiracao '{value}' is not a date written YYYY-MM-DD", "write it as 2027-12-31")


def claims(check: HeldCheck) -> list[str]:
    """The package needs the client's user, which one client only may hold; it claims
    ``<user>/<product>`` of each of its products."""
    field = check.integration.options.get("user_field")
    user = user_of(str(field), check.client, check.service)
    if not user:
        check.problem((), f"package '{check.held.package}' needs the client's user on Qualifica, "
                      f"which integration '{check.package.integration}' takes from {field}, and "
                      f"service {check.service.id} has none",
                      "add login: to the service" if field == "login_autenticacao"
                      else "add email: to the client")
        return []
    if USER_PROBLEM.search(user):
        check.problem((), f"the Qualifica user '{user}' holds a '/' or a space, which the "
                      f"platform refuses", "correct the service's login, or choose another "
                      "user_field for the integration")
        return []
    owner = check.memo.setdefault((check.package.integration, user), check.client)
    if owner is not check.client:
        check.problem((), f"clients {owner.name} (at {owner.where}) and {check.client.name} "
                      f"would share the Qualifica user '{user}' on integration "
                      f"'{check.package.integration}'",
                      "give each client their own value of the integration's user_field")
        return []
    return [f"{user}/{code}" for code in check.package.products]
