"""SaperX STFC's monthly charges as invoice lines: the seed's Processar/Faturar ("o sistema
irá consultar via API, os valores que estão faturados"). Pure: the platform priced every
number; this says whose each charge is, and how it reads as a line.

- **Whose.** A number's client service is the one the specs link it to (a live service's
  ``phone_numbers``), else the one the state last linked it to (a service cancelled or
  unassigned since, not applied yet). A number neither holds, or one the platform charged to
  another client service than ours, is left unbilled with the reason: never dropped, never
  invoiced to a guess.
- **The line.** One per number, on the client service's line, its plan as the specs (or the
  state) name it, described "Telefonia Fixa (STFC)", for the calendar month. Its amount is the
  platform's ``valor_total`` rounded half up to centavos; its items are ``franquia`` (the plan's
  fee, rounded alike, with the calls and the minutes within the plan) and ``excedente`` (the
  rest of the amount, with the minutes beyond the plan), so that the items always add up to
  the amount. With call detail, the platform's calls as it priced them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from reconciler.billing.charges import Charge, ChargeBiller, ChargeInput, Holder
from reconciler.billing.invoice import InvoiceLine, Item, cents

DESCRIPTION = "Telefonia Fixa (STFC)"


def bill_charges(given: ChargeInput) -> ChargeBiller:
    return _Biller(given)


class _Biller(ChargeBiller):
    def __init__(self, given: ChargeInput) -> None:
        self.integration = given.integration
        self.first = given.month
        self.last = (given.month.replace(day=28) + timedelta(days=4)).replace(day=1) \
            - timedelta(days=1)
        self.managed = _holders(given.managed)
        self.declared = _holders(given.declared)
        self.plans = {int(p["id"]): str(p.get("nome") or "") for p in given.catalog("plans") or ()
                      if isinstance(p.get("id"), int)}

    def holder(self, charge: Charge) -> Holder | str:
        holder = self.declared.get(charge.number) or self.managed.get(charge.number)
        charged = charge.service_id
        if holder is None:
            to = f" (the platform charged it to service {charged})" if charged is not None else ""
            return f"no client service holds this number in the specs or the state{to}"
        if charged is not None and holder.service_id is not None and charged != holder.service_id:
            return (f"the platform charged it to service {charged}, but it is held by service "
                    f"{holder.service_id}")
        if not holder.plan and charge.plan_id is not None:
            return Holder(holder.service_id, holder.document, holder.client,
                          self.plans.get(charge.plan_id, f"#{charge.plan_id}"))
        return holder

    def line(self, holder: Holder, charge: Charge) -> InvoiceLine:
        amount, fee = cents(charge.total), cents(charge.franchise)
        beyond = max(0, charge.minutes - charge.allowance_minutes)
        items = (Item("franquia", charge.calls, charge.minutes - beyond, charge.allowance_minutes,
                      0, None, fee),
                 Item("excedente", 0, beyond, 0, beyond, None, amount - fee))
        return InvoiceLine(self.integration, holder.service_id, holder.document, holder.client,
                           charge.number, holder.plan, DESCRIPTION, self.first, self.last, items,
                           charge.detail)


def _holders(resources: Iterable[tuple[str, str, Mapping[str, Any]]]) -> dict[str, Holder]:
    """Each linked number's holder; one object per client service, shared by its numbers."""
    out: dict[str, Holder] = {}
    shared: dict[tuple[Any, ...], Holder] = {}
    for kind, key, attrs in resources:
        if kind != "link":
            continue
        service = attrs.get("service")
        fields = (int(service) if service is not None else None, str(attrs.get("document") or ""),
                  str(attrs.get("name") or ""), str(attrs.get("plan") or ""))
        out[key] = shared.setdefault(fields, Holder(*fields))
    return out
