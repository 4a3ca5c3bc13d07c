"""Planning rules for Campsoft: one subscription per package of a client service.

Campsoft keys a subscription by ``contract_identifier`` and ``label`` and stores the customer's
data on it, so an update carries the product and the customer's name, document, e-mail, phone and
login. See :mod:`.content`.

The password is sent, never read back, so it is compared with the state, not the platform: each
declared subscription carries ``password_digest``, a keyed fingerprint of its rule (the seed's
``senha``, here ``password_from``) and of the password the rule gives, and the state keeps the one
of the password last sent. When the rule or the password it gives changed, an update sends it
again. A password the client changed on the platform is never reset otherwise: nothing here can
see it, and an update made for another reason (a new e-mail) sends the customer without it. A
subscription recorded before fingerprints were kept has none: its recorded rule stands in, so
upgrading plans no update, and its next update sends the rule's password so that its fingerprint
is recorded (see the provider's ``sends_password``).
"""

from __future__ import annotations

from reconciler.model import PASSWORD_DIGEST, Resource
from reconciler.planner.content import Remembered, plan_subscriptions
from reconciler.planner.core import Partial, View, declared_services, strangers
from reconciler.platforms.campsoft.spec import RULE, password_change

UPDATED = ("product", "name", "document", "email", "phone", "login")
COMPARED = {"subscription": ("status", *UPDATED)}


def plan_integration(view: View) -> Partial:
    out = Partial()
    plan_subscriptions(view, out, UPDATED, remembered=REMEMBERED)
    return out


def password_moved(want: Resource, was: Resource) -> str:
    """Why the password must be sent again to a subscription the state manages, or "" when it
    need not (see :func:`password_change`)."""
    return password_change(want.attrs, was.attrs)


# An update's ``before`` takes the rule and the fingerprint the state recorded (the platform shows
# neither), so that the provider can tell whether the update carries the password.
REMEMBERED = Remembered((RULE, PASSWORD_DIGEST), password_moved)


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
