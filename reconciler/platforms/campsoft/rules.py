"""Planning rules for Campsoft: one subscription per package of a client service.

Campsoft keys a subscription by ``contract_identifier`` and ``label`` and stores the customer's
data on it, so an update carries the product and the customer's name, document, e-mail, phone and
login. See :mod:`.content`.

The password is sent, never read back, so it is compared with the state, not the platform: each
declared subscription carries ``password_digest``, a keyed fingerprint of its rule (the seed's
``senha``, here ``password_from``) and of the password the rule gives, and the state keeps the one
of the password last sent. When the rule or the password it gives changed, an update sends it
again. A password the client changed on the platform is never reset otherwise: nothing here can
see it. A subscription recorded before fingerprints were kept has none: its recorded rule stands
in, so upgrading plans no update, and its fingerprint is recorded by its next write.
"""

from __future__ import annotations

from reconciler.model import PASSWORD_DIGEST, Resource
from reconciler.planner.content import Remembered, plan_subscriptions
from reconciler.planner.core import Partial, View, declared_services, strangers

UPDATED = ("product", "name", "document", "email", "phone", "login")
COMPARED = {"subscription": ("status", *UPDATED)}
RULE = "password_from"


def plan_integration(view: View) -> Partial:
    out = Partial()
    plan_subscriptions(view, out, UPDATED, remembered=Remembered((RULE,), password_moved))
    return out


def password_moved(want: Resource, was: Resource) -> str:
    """Why the password must be sent again to a subscription the state manages, or "" when it
    need not: its rule changed, or the password that rule gives did (a fingerprint is never
    shown). Where the state or the specs hold no rule or no fingerprint, there is nothing to
    compare, and nothing is sent for the password alone."""
    rule, before = want.attrs.get(RULE), was.attrs.get(RULE)
    if rule and before and rule != before:
        return f"password rule changed ({before} -> {rule})"
    digest, recorded = want.attrs.get(PASSWORD_DIGEST), was.attrs.get(PASSWORD_DIGEST)
    if digest and recorded and digest != recorded:
        return f"password changed: its {rule} changed"
    return ""


def unmanaged(view: View) -> list[tuple[Resource, str]]:
    """Subscriptions on the contract of a declared or managed client service."""
    contracts = declared_services(view) | {
        str(r.attrs.get("contract"))
        for side in ("known", "desired") for r in view.side(side, "subscription").values()}
    found = []
    for have in strangers(view, "subscription"):
        contract = str(have.attrs.get("contract"))
        if contract in contracts:
            why = (f"product {have.attrs.get('product')} on contract {contract}, which this "
                   f"tool manages; not declared")
            found.append((have, why))
    return found
