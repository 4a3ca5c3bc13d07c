"""The SaperX STFC simulator's monthly charges: what the platform billed each number in a month,
with the calls behind it (the seed's Ações > Processar/Faturar, which reads them).

Every rule here is ASSUMED (SaperX publishes no API; PLATFORMS.md §4.5 infers the shape):

- A number is charged for a month when it was linked to a client service at some moment of that
  month (up to now): the link history (:class:`Tenure`) says when. A number never linked in the
  month has no charge, even if it was registered.
- Its calls are a function of (seed, number, month) alone: per day 0..``max_per_day`` calls
  (drawn for every day of the month, so that a link made later never reshuffles the others),
  kept when they started while the number was linked and no later than now. Types LC, LDN, LDI,
  VC1, VC2, VC3; 5 s to 10 min.
- The plan in force at the month's last linked moment prices it: ``franquia`` is the plan's
  monthly ``valor`` (whole, whatever part of the month it was linked), its
  ``franquia_minutos`` are used up by the month's calls in time order, started minutes
  (``ceil(duration / 60)``); each call's ``valor`` is its minutes beyond the allowance at the
  type's tariff (:data:`TARIFFS`), rounded half up to centavos. ``excedente`` is the sum of the
  calls' values, ``valor_total`` = ``franquia`` + ``excedente``. Amounts are decimal strings.
- An admin correction (``/_sim/charges``) replaces a charge's ``excedente`` (the platform's
  answer to "this value is wrong"); ``valor_total`` follows, the calls stay as they were.
"""

from __future__ import annotations

import hashlib
import math
import random
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import accumulate
from typing import Any

from reconciler.sim.clock import iso8601

CENT = Decimal("0.01")
CALL_TYPES = ("LC", "LDN", "LDI", "VC1", "VC2", "VC3")
_WEIGHTS = tuple(accumulate((45, 15, 4, 22, 9, 5)))
TARIFFS = {"LC": Decimal("0.12"), "LDN": Decimal("0.29"), "LDI": Decimal("1.95"),
           "VC1": Decimal("0.49"), "VC2": Decimal("0.69"), "VC3": Decimal("0.69")}
CITIES = ("11", "21", "31", "41", "48", "51", "61", "71", "81", "85")
DEFAULT_MAX_PER_DAY = 3


@dataclass(slots=True)
class Tenure:
    """One stretch of time a number was linked: from ``since`` to ``until`` (None: still
    linked), Unix seconds, to client service ``id_externo`` on plan ``id_plano``."""

    since: float
    until: float | None
    id_externo: int
    id_plano: int

    def to_json(self) -> list[Any]:
        return [self.since, self.until, self.id_externo, self.id_plano]

    @classmethod
    def load(cls, data: Sequence[Any]) -> Tenure:
        since, until, service, plan = data
        return cls(float(since), None if until is None else float(until), int(service), int(plan))


def month_bounds(month: str) -> tuple[float, float]:
    """The first and the one-past-last second of ``month`` (YYYY-MM), UTC."""
    first = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first.timestamp(), following.timestamp()


def charged_in(tenures: Sequence[Tenure], month: str, now: float) -> list[Tenure]:
    """The stretches of ``tenures`` that overlap ``month`` up to ``now``."""
    start, end = month_bounds(month)
    end = min(end, now)
    return [t for t in tenures if t.since < end and (t.until is None or t.until > start)]


def charge(seed: int, numero: str, month: str, tenures: Sequence[Tenure],
           plans: Mapping[int, Mapping[str, Any]], now: float, max_per_day: int,
           excedente: str | None, detailed: bool) -> dict[str, Any] | None:
    """The charge of ``numero`` for ``month`` as ``GET /api/faturamento`` lists it, or None when
    it was never linked in the month (up to ``now``)."""
    held = charged_in(tenures, month, now)
    if not held:
        return None
    last = held[-1]
    plan = plans.get(last.id_plano, {})
    allowance = int(plan.get("franquia_minutos", 0))
    start, end = month_bounds(month)
    left, used, overage = allowance, 0, Decimal("0.00")
    calls = []
    for started, call_type, seconds, destination in _calls(seed, numero, month, start, end,
                                                           max_per_day):
        if started > now or not any(t.since <= started and (t.until is None or started < t.until)
                                    for t in held):
            continue
        minutes = math.ceil(seconds / 60)
        beyond = max(0, minutes - left)
        left = max(0, left - minutes)
        used += minutes
        value = (TARIFFS[call_type] * beyond).quantize(CENT, ROUND_HALF_UP)
        overage += value
        calls.append({"data": iso8601(started), "origem": numero, "destino": destination,
                      "duracao_seg": seconds, "tipo": call_type, "valor": str(value)})
    fee = Decimal(str(plan.get("valor", "0.00")))
    if excedente is not None:
        overage = Decimal(excedente)
    out: dict[str, Any] = {
        "numero": numero, "mes": month, "id_externo": last.id_externo, "id_plano": last.id_plano,
        "franquia_minutos": allowance, "minutos": used, "quantidade_chamadas": len(calls),
        "valor_total": str(fee + overage), "franquia": str(fee), "excedente": str(overage),
    }
    if detailed:
        out["chamadas"] = calls
    return out


def _calls(seed: int, numero: str, month: str, start: float, end: float,
           max_per_day: int) -> list[tuple[float, str, int, str]]:
    """Every call ``numero`` would make in the month were it linked all of it, in time order:
    (start, type, seconds, destination). One generator per (seed, number, month)."""
    key = hashlib.sha256(f"{seed}/{numero}/{month}".encode()).digest()
    rng = random.Random(int.from_bytes(key[:8], "big"))
    ddd = numero[:2]
    out = []
    day = start
    while day < end:
        count = int(rng.random() * (max_per_day + 1))
        moments = sorted(day + 7 * 3600 + int(rng.random() * 15 * 3600) for _ in range(count))
        for moment in moments:
            call_type = _call_type(rng)
            out.append((float(moment), call_type, 5 + int(rng.random() * 596),
                        _destination(rng, call_type, ddd)))
        day += 86400
    return out


def _destination(rng: random.Random, call_type: str, ddd: str) -> str:
    """A plausible dialled number for the call type, from a number of DDD ``ddd``."""
    subscriber = f"{int(rng.random() * 4000) + 2000}{int(rng.random() * 10000):04d}"
    mobile = f"9{int(rng.random() * 4000) + 6000}{int(rng.random() * 10000):04d}"
    other = CITIES[int(rng.random() * len(CITIES))]
    if other == ddd:
        other = CITIES[(CITIES.index(other) + 1) % len(CITIES)]
    if call_type == "LDI":
        return f"{('1', '351', '54', '34')[int(rng.random() * 4)]}{int(rng.random() * 9e8) + 10**8}"
    return {"LC": f"55{ddd}{subscriber}", "LDN": f"55{other}{subscriber}",
            "VC1": f"55{ddd}{mobile}", "VC2": f"55{other}{mobile}",
            "VC3": f"55{other}{mobile}"}[call_type]


def _call_type(rng: random.Random) -> str:
    return CALL_TYPES[bisect_right(_WEIGHTS, rng.random() * _WEIGHTS[-1])]
