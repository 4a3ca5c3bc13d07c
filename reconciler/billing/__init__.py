"""Invoice lines computed from what the platforms recorded: the pure part of `reconcile billing`.

:mod:`.invoice` holds the shared shape (an :class:`~.invoice.Invoice` of
:class:`~.invoice.InvoiceLine`, each with its priced items, and what was left unbilled, with why),
which every billing command fills and :mod:`reconciler.render.invoice` writes as CSV, JSON or
Markdown. How a platform's records become lines is the platform's own (its descriptor's
``bill_calls``); :mod:`.charges` turns the charges a platform billed itself into lines (its
``bill_charges`` says whose each one is).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reconciler.platforms.descriptor import Platform


def billing_command(platform: Platform) -> str | None:
    """The `reconcile billing` command that bills a platform's integrations: ``voip`` for call
    records we price, ``stfc`` for charges the platform billed itself; None when it has none."""
    if platform.bill_charges is not None:
        return "stfc"
    return "voip" if platform.bill_calls is not None else None
