"""Planning rules for Qualifica: users, and their product entitlements (subscriptions).

A user (the client, identified by the integration's ``user_field``) is created before its first
subscription and updated when the client's name, e-mail or document change; it is never deleted
(cancelling every subscription is what ends the client's access). A subscription is one product
of one package, with ``data_expiracao``: when the spec gives none the platform's default (one
year after activation) stands and is not compared. See :mod:`.content`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from reconciler.model import Action, Change, Resource, address
from reconciler.planner.content import plan_subscriptions
from reconciler.planner.core import Partial, View, declared_services, differing, strangers

PLATFORM = "qualifica"
USER_FIELDS = ("name", "email", "document")
UPDATED = ("service", "expires")
COMPARED = {"user": USER_FIELDS, "subscription": ("status", "service", "expires")}


def plan_integration(view: View) -> Partial:
    out = Partial()
    created = _users(view, out)
    waits = {key: created[res.attrs["user"]]
             for key, res in view.side("desired", "subscription").items()
             if res.attrs["user"] in created}
    plan_subscriptions(view, out, UPDATED, waits)
    return out


def _users(view: View, out: Partial) -> dict[str, str]:
    """Create or update declared users; returns user -> id of its create change."""
    known, actual = view.side("known", "user"), view.side("actual", "user")
    created: dict[str, str] = {}
    for key, want in view.side("desired", "user").items():
        have = actual.get(key)
        if have is None:
            change = Change(view.integration, "user", Action.CREATE, (key,), None,
                            dict(want.attrs), f"client {want.attrs['name']} needs a Qualifica "
                            f"user for their packages", want.source)
            out.changes.append(change)
            created[key] = change.id
            continue
        changed = differing(want, have, USER_FIELDS)
        if changed:
            out.changes.append(Change(view.integration, "user", Action.UPDATE, (key,),
                                      dict(have.attrs), {**have.attrs, **{
                                          f: want.attrs[f] for f in changed}},
                                      f"client data changed in the specs: {', '.join(changed)}",
                                      want.source))
        elif key not in known:
            out.adopt.append(replace(want, remote_id=have.remote_id))
    for key in known:
        if key not in view.side("desired", "user"):
            out.forget.append(address(view.integration, "user", key))  # users are never deleted
    return created


def unmanaged(view: View) -> list[tuple[Resource, str]]:
    """Subscriptions of a declared or managed client service, or of a managed user; and the
    unmanaged users holding such a subscription."""
    services = declared_services(view) | {
        str(r.attrs.get("service")) for r in view.side("known", "subscription").values()}
    users = set(view.side("known", "user")) | set(view.side("desired", "user"))
    found: list[tuple[Resource, str]] = []
    holders: dict[str, Any] = {}
    for have in strangers(view, "subscription"):
        service, user = have.attrs.get("service"), str(have.attrs.get("user"))
        product = have.attrs.get("product")
        if service is not None and str(service) in services:
            why = f"product {product} of client service {service}, not declared for it"
            holders.setdefault(user, service)
        elif user in users:
            why = f"product {product} of user {user}, whom this tool manages; not declared"
        else:
            continue
        found.append((have, why))
    for have in strangers(view, "user"):
        if have.key in holders:
            why = f"holds products of client service {holders[have.key]}; not declared"
            found.append((have, why))
    return found
