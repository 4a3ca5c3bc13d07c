"""Planning rules for Campsoft: one subscription per package of a client service.

Campsoft keys a subscription by ``contract_identifier`` and ``label`` and stores the customer's
data on it, so an update carries the product and the customer's name, document, e-mail, phone and
login. The password is sent, never read back: it is not compared. See :mod:`.content`.
"""

from __future__ import annotations

from reconciler.planner.content import plan_subscriptions
from reconciler.planner.core import Partial, View

PLATFORM = "campsoft"
UPDATED = ("product", "name", "document", "email", "phone", "login")
COMPARED = {"subscription": ("status", *UPDATED)}


def plan_integration(view: View) -> Partial:
    out = Partial()
    plan_subscriptions(view, out, UPDATED)
    return out
