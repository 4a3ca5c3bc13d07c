"""Import of Campsoft: whose a remote subscription is, a second key for one the specs label
differently, and spec YAML for subscriptions no spec declares.

A subscription becomes a client (name, document, e-mail, phone) with a service (the contract
identifier) and login, holding the package of its product (and its label when it is not the
default one). Passwords are never read from the platform.
"""

from __future__ import annotations

from typing import Any

from reconciler.model import Resource
from reconciler.planner.imports import ImportPlan, document_problem
from reconciler.platforms.campsoft.spec import default_label
from reconciler.specs import brazil
from reconciler.specs.generate import Builder, email_ok, vote


def owner_problem(want: Resource, have: Resource) -> str | None:
    """A subscription carries its customer: it must belong to the client's document."""
    return document_problem(want, have) if want.kind == "subscription" else None


def second_key(res: Resource) -> tuple[str, ...] | None:
    """A subscription by its contract and product: the ERP may have given another label."""
    if res.kind != "subscription":
        return None
    return (str(res.attrs.get("contract")), str(res.attrs.get("product")))


def second_hint(want: Resource, have: Resource) -> str:
    return (f"the platform holds contract {have.attrs.get('contract')} with product "
            f"{have.attrs.get('product')} under label {have.attrs.get('label')!r}, the specs "
            f"expect label {want.attrs.get('label')!r}: give the package params "
            f"{{label: {have.attrs.get('label')}}} on service {want.attrs.get('service')} "
            f"to import it")


def generate(builder: Builder, plan: ImportPlan) -> None:
    for res in plan.unmatched:
        if res.kind == "subscription":
            _subscription(builder, plan.integration, res)


def _subscription(builder: Builder, integration: str, res: Resource) -> None:
    attrs = res.attrs
    what = f"Campsoft subscription {res.key} on {integration}"
    plain = {k: attrs.get(k) for k in ("contract", "label", "product", "status", "name",
                                        "document", "email", "phone", "login")}
    problems = []
    if not email_ok(attrs.get("email")):
        problems.append(f"e-mail {attrs.get('email')!r} is not valid")
    try:
        brazil.normalise_phone(str(attrs.get("phone") or ""))
    except brazil.Invalid as exc:
        problems.append(f"phone {attrs.get('phone')!r}: {exc.message}")
    problem = (f"{'; '.join(problems)}: fill in the client's contact (Campsoft needs both)"
               if problems else None)
    held = builder.holder(attrs, attrs.get("contract"), what, plain, problem)
    if held is None:
        return
    client, service = held
    client.email = client.email or str(attrs["email"])
    client.phone = client.phone or str(attrs["phone"])
    if attrs.get("login") and service.login is None:
        service.login = str(attrs["login"])
    package = builder.package_for(integration, str(attrs.get("product")))
    entry: dict[str, Any] = {"package": package}
    if attrs.get("label") != default_label(package, service.id):
        entry["params"] = {"label": str(attrs.get("label"))}
    service.packages[package] = entry
    service.votes.add(vote(attrs.get("status")))
    builder.written += 1
