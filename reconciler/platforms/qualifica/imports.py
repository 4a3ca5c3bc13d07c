"""Import of Qualifica: whose a remote user is, a second key for a user the specs name
differently, and spec YAML for users and grants no spec declares.

A user with its grants becomes a client with a service per ``id_cliente_servico`` holding a
package per product, so that the integration's ``user_field`` gives back the user.
"""

from __future__ import annotations

from collections import defaultdict

from reconciler.model import Resource, address
from reconciler.planner.imports import ImportPlan, Matching, digits, document_problem
from reconciler.specs.generate import CLIENTS_FILE, Builder, email_ok, vote


def owner_problem(want: Resource, have: Resource) -> str | None:
    """A user must belong to the client's document (its subscriptions follow their user)."""
    return document_problem(want, have) if want.kind == "user" else None


def settle(work: Matching) -> None:
    """A subscription follows its user: not imported when its user is not, and held back (not
    unmatched) when its user needs a decision."""
    resources = work.observed.resources
    held_users = {resources[a].key for a in work.held
                  if a in resources and resources[a].kind == "user"}
    keep: list[Resource] = []
    for res in work.record:
        user = res.attrs.get("user") if res.kind == "subscription" else None
        if user is not None and address(res.integration, "user", str(user)) in work.refused:
            work.hold((res.address,), (res.address,), f"its user {user} is not imported (see above)")
            continue
        keep.append(res)
    work.record[:] = keep
    for addr, res in work.pending.items():
        if res.kind == "subscription" and res.attrs.get("user") in held_users \
                and addr not in work.known.resources:
            work.held.add(addr)


def second_key(res: Resource) -> tuple[str, ...] | None:
    """A user by its client's document: the ERP may have filled another user field."""
    if res.kind != "user" or not digits(res.attrs.get("document")):
        return None
    return (digits(res.attrs.get("document")),)


def second_hint(want: Resource, have: Resource) -> str:
    return (f"the platform holds the client's document under user {have.key!r}, the specs "
            f"expect user {want.key!r}: check the integration's user_field, then import again")


def generate(builder: Builder, plan: ImportPlan) -> None:
    field_name = str(builder.specs.integrations[plan.integration].options.get(
        "user_field") or "login_autenticacao")
    grants: dict[str, list[Resource]] = defaultdict(list)
    for res in plan.unmatched:
        if res.kind == "subscription":
            grants[str(res.attrs.get("user"))].append(res)
    for user in (r for r in plan.unmatched if r.kind == "user"):
        _user(builder, plan.integration, user, grants.pop(user.key, []), field_name)
    for name, orphans in sorted(grants.items()):
        builder.note(CLIENTS_FILE, f"grants of Qualifica user {name} on {plan.integration}, whose "
                            f"user the specs declare: add the packages of products "
                            f"{', '.join(str(g.attrs.get('product')) for g in orphans)} "
                            f"to that client's service")


def _user(builder: Builder, integration: str, user: Resource, grants: list[Resource],
          field_name: str) -> None:
    what = f"Qualifica user {user.key} on {integration}"
    live = [g for g in grants if g.attrs.get("status") != "cancelled"]
    plain = {**dict(user.attrs), "products": [str(g.attrs.get("product")) for g in live]}
    if not live:
        builder.note(CLIENTS_FILE, f"{what} holds no live product: nothing to declare", plain)
        return
    problem = _user_field_problem(field_name, user)
    if problem:
        builder.note(CLIENTS_FILE, f"{what}: {problem}", plain)
        return
    client = builder.client(str(user.attrs.get("document") or ""),
                         str(user.attrs.get("name") or ""), what, plain)
    if client is None:
        return
    if field_name == "email":
        client.email = user.key
    elif user.attrs.get("email") and email_ok(user.attrs["email"]):
        client.email = client.email or str(user.attrs["email"])
    for grant in live:
        sid = user.key if field_name == "id_cliente_servico" else grant.attrs.get("service")
        service = builder.service(client, sid, f"{what}, product {grant.attrs.get('product')}",
                               plain)
        if service is None:
            continue
        if field_name == "login_autenticacao":
            service.login = user.key
        package = builder.package_for(integration, str(grant.attrs.get("product")))
        service.packages.setdefault(package, {"package": package})
        service.votes.add(vote(grant.attrs.get("status")))
        builder.written += 1
    builder.written += 1


def _user_field_problem(field_name: str, user: Resource) -> str | None:
    """Why the spec could not give back this user through the integration's user_field."""
    if field_name == "cpf_cnpj" and user.key != digits(user.key):
        return (f"user_field is cpf_cnpj but the user is {user.key!r}, not the document's "
                f"digits: import it under another user_field, or by hand")
    if field_name == "email" and not email_ok(user.key):
        return f"user_field is email but the user {user.key!r} is not an e-mail address"
    if field_name == "id_cliente_servico" and not user.key.isdigit():
        return f"user_field is id_cliente_servico but the user {user.key!r} is not a service id"
    return None
