"""Planning rules for Campsoft: one subscription per package of a client service.

Campsoft keys a subscription by ``contract_identifier`` and ``label`` and stores the customer's
data on it, so an update carries the product and the customer's name, document, e-mail, phone and
login. The password is sent, never read back: it is not compared. See :mod:`.content`.
"""

from __future__ import annotations

from reconciler.model import Resource
from reconciler.planner.content import plan_subscriptions
from reconciler.planner.core import Partial, View, declared_services, strangers

PLATFORM = "campsoft"
UPDATED = ("product", "name", "document", "email", "phone", "login")
COMPARED = {"subscription": ("status", *UPDATED)}


def plan_integration(view: View) -> Partial:
    out = Partial()
    plan_subscriptions(view, out, UPDATED)
    return out


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
