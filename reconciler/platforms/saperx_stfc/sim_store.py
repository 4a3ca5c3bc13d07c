"""The SaperX STFC simulator's data: plans, numbers, links and the removal queue, in memory.

Kept apart from the HTTP layer (:mod:`reconciler.platforms.saperx_stfc.sim`) so the rules of the platform
read as plain Python. Every rule here is an assumption listed in that module's docstring.

Sized for 100,000+ numbers: numbers live in a dict by number plus a sorted key list (ranges and
pages are bisected, never re-sorted per request), and the removal queue is a heap ordered by
due time, so the check made at the start of every request costs O(1) when nothing is due.
"""

from __future__ import annotations

import heapq
import random
import re
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.platforms.saperx_stfc.sim_billing import (
    DEFAULT_MAX_PER_DAY,
    Tenure,
    charge,
    charged_in,
)
from reconciler.sim.clock import Clock, SystemClock, iso8601
from reconciler.sim.records import fields_of
from reconciler.sim.wire import Counters, PortugueseError

FORMAT_VERSION = 1
MAX_RANGE = 10_000
NUMBER = re.compile(r"^[1-9][1-9][0-9]{8}$")  # DDD (11..99, no zero digit) + 8-digit subscriber
PLAN_TYPES = ("pos", "pre", "controle")
STATUSES = ("livre", "vinculado", "em_remocao")
TRANSMISSIONS = ("pendente", "transmitido", "erro")
# What the platform says of a failed transmission (ASSUMED wording: none is public).
TRANSMISSION_ERRORS = ("Operadora recusou o número: cadastro do assinante incompleto",
                       "Tempo esgotado no envio à operadora",
                       "Número em processo de portabilidade na operadora")

DEFAULT_PLANS: tuple[Mapping[str, Any], ...] = (
    {"id": 101, "nome": "STFC Básico 100", "tipo": "pos", "valor": "29.90",
     "franquia_minutos": 100},
    {"id": 102, "nome": "STFC Controle 300", "tipo": "controle", "valor": "49.90",
     "franquia_minutos": 300},
    {"id": 103, "nome": "STFC Ilimitado", "tipo": "pos", "valor": "79.90",
     "franquia_minutos": 10000},  # "unlimited" under a fair-use cap
    {"id": 104, "nome": "STFC Empresarial", "tipo": "pos", "valor": "149.90",
     "franquia_minutos": 3000},
)


class ApiError(PortugueseError):
    """A refusal the platform answers with ``{"erro", "mensagem"}`` and a real HTTP status."""


@dataclass(slots=True)
class Link:
    """A number's link to one client service (HubSoft's id_cliente_servico is ``id_externo``)."""

    id_externo: int
    id_plano: int
    documento: str
    nome: str
    parametros: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {**fields_of(self), "parametros": dict(self.parametros)}


@dataclass(slots=True)
class Number:
    """One registered number. ``desde``/``previsao`` are set while it waits in the removal queue."""

    id: int
    numero: str
    ddi: int
    status: str = "livre"
    transmissao: str = "pendente"
    bloqueado: bool = False
    vinculo: Link | None = None
    desde: float | None = None
    previsao: float | None = None
    erro_transmissao: str | None = None  # why the last transmission failed (ASSUMED field)

    def to_wire(self) -> dict[str, Any]:
        """The number as ``GET /api/numeros`` shows it."""
        out = self.dump()
        desde, previsao = out.pop("desde"), out.pop("previsao")
        out["fila_remocao"] = None
        if desde is not None and previsao is not None:
            out["fila_remocao"] = {"desde": iso8601(desde), "previsao": iso8601(previsao)}
        return out

    def dump(self) -> dict[str, Any]:
        """The number for the persisted store (raw timestamps, no rounding)."""
        return {**fields_of(self), "vinculo": self.vinculo.to_json() if self.vinculo else None}

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> Number:
        link = data.get("vinculo")
        return cls(**{**data, "vinculo": Link(**link) if link else None})


def number_range(first: str, last: str | None) -> list[str]:
    """The numbers from ``first`` to ``last`` inclusive (one number when ``last`` is None)."""
    for value in (first, last):
        if value is not None and not NUMBER.match(value):
            message = f"Número inválido: {value!r} (use DDD + 8 dígitos)."
            raise ApiError(422, "numero_invalido", message)
    last = last or first
    if last[:2] != first[:2] or last < first:
        raise ApiError(422, "faixa_invalida", "Faixa inválida: o número final deve ser maior ou "
                       "igual ao inicial e do mesmo DDD.")
    count = int(last) - int(first) + 1
    if count > MAX_RANGE:
        message = f"Faixa com {count} números; o máximo é {MAX_RANGE}."
        raise ApiError(422, "faixa_muito_grande", message)
    return [str(n) for n in range(int(first), int(last) + 1)]


class Store(Counters):
    """Everything the simulated platform holds, plus its settings and counters."""

    def __init__(
        self,
        plans: Sequence[Mapping[str, Any]] | None = None,
        *,
        clock: Clock | None = None,
        seed: int | None = None,
        removal_delay: float = 5.0,
        transmission_error_rate: float = 0.0,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.removal_delay = removal_delay
        self.transmission_error_rate = transmission_error_rate
        self.calls_max_per_day = DEFAULT_MAX_PER_DAY
        self.seed = seed
        self.initial_plans = [dict(p) for p in (plans if plans is not None else DEFAULT_PLANS)]
        self.reset()

    def reset(self) -> None:
        """Back to an empty platform with the initial catalog; settings are kept."""
        self.plans: list[dict[str, Any]] = [dict(p) for p in self.initial_plans]
        self.numbers: dict[str, Number] = {}
        self.keys: list[str] = []
        self.next_id = 1
        self.queue: list[tuple[float, str]] = []
        self.pending: set[str] = set()
        # the billing side (sim_billing): when each number was linked, and corrected charges
        self.tenures: dict[str, list[Tenure]] = {}
        self.corrections: dict[tuple[str, str], str] = {}  # (numero, YYYY-MM) -> excedente
        self._charged: tuple[tuple[str, int], list[str]] | None = None
        self.reset_counters()
        self.random = random.Random(self.seed)

    # -- persistence -------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The platform's data (not its settings or counters) as JSON-ready objects."""
        return {
            "version": FORMAT_VERSION,
            "next_id": self.next_id,
            "plans": self.plans,
            "numbers": [self.numbers[k].dump() for k in self.keys],
            "pending": sorted(self.pending),
            "seed": self.seed,  # the calls are drawn from it: the same after a save
            "tenures": {n: [t.to_json() for t in ts] for n, ts in sorted(self.tenures.items())},
            "corrections": [[n, m, v] for (n, m), v in sorted(self.corrections.items())],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], **settings: Any) -> Store:
        """A store holding what :meth:`to_json` wrote; ``settings`` as for the constructor."""
        if data.get("version") != FORMAT_VERSION:
            raise ValueError(f"unsupported saperx-stfc store version {data.get('version')!r}")
        store = cls(data["plans"], **{"seed": data.get("seed"), **settings})
        store.next_id = data["next_id"]
        numbers = sorted(data["numbers"], key=lambda item: str(item["numero"]))
        store._add(Number.load(item) for item in numbers)
        store.pending = set(data.get("pending", ())) & store.numbers.keys()
        store.queue = [(n.previsao, n.numero) for n in store.numbers.values() if n.previsao]
        heapq.heapify(store.queue)
        store.tenures = {str(n): [Tenure.load(t) for t in ts]
                         for n, ts in data.get("tenures", {}).items()}
        store.corrections = {(str(n), str(m)): str(v) for n, m, v in data.get("corrections", ())}
        return store

    # -- time-driven routines ----------------------------------------------------------------

    def tick(self) -> None:
        """Run the platform's routines that are due: transmissions, then the removal queue."""
        for numero in sorted(self.pending):
            self._transmit(self.numbers[numero])
        self.drain()

    def drain(self, *, force: bool = False) -> list[str]:
        """Free the queued numbers whose delay is over (all of them when ``force``)."""
        now, freed = self.clock.now(), []
        while self.queue and (force or self.queue[0][0] <= now):
            due, numero = heapq.heappop(self.queue)
            number = self.numbers.get(numero)
            if number and number.status == "em_remocao" and number.previsao == due:
                number.status, number.vinculo = "livre", None
                number.desde = number.previsao = None
                freed.append(numero)
        return freed

    # -- reads -------------------------------------------------------------------------------

    def get(self, numero: str) -> Number:
        number = self.numbers.get(numero)
        if number is None:
            raise ApiError(404, "numero_inexistente", f"Número {numero} não cadastrado.")
        return number

    def plan(self, id_plano: int) -> Mapping[str, Any]:
        for plan in self.plans:
            if plan["id"] == id_plano:
                return plan
        raise ApiError(422, "plano_inexistente", f"Plano {id_plano} não existe.")

    def listing(
        self, keep: Callable[[Number], bool] | None, start: int, size: int
    ) -> tuple[list[Number], int]:
        """One page of numbers in number order, and how many match ``keep`` in all."""
        if keep is None:
            return [self.numbers[k] for k in self.keys[start : start + size]], len(self.keys)
        matches = [n for n in (self.numbers[k] for k in self.keys) if keep(n)]
        return matches[start : start + size], len(matches)

    # -- writes ------------------------------------------------------------------------------

    def register(self, numbers: list[str], ddi: int) -> tuple[list[Number], list[Number]]:
        """Register numbers; those already registered come back as duplicates, unchanged."""
        duplicates = [self.numbers[n] for n in numbers if n in self.numbers]
        created = [self._new(n, ddi) for n in numbers if n not in self.numbers]
        self._add(created)
        for number in created:
            self._transmit(number)
            self.wrote(number.numero, "cadastrar")
        return created, duplicates

    def delete(self, numero: str) -> None:
        number = self.get(numero)
        if number.status != "livre":
            message = f"Número {numero} vinculado ou em fila de remoção; desvincule antes."
            raise ApiError(409, "numero_vinculado", message)
        del self.numbers[numero]
        del self.keys[bisect_left(self.keys, numero)]
        self._forget(numero)

    def remove_range(self, first: str, last: str) -> tuple[list[str], list[dict[str, str]]]:
        """Delete the free numbers of a range; linked or queued ones are refused and listed."""
        lo, hi = bisect_left(self.keys, first), bisect_right(self.keys, last)
        removed, refused, kept = [], [], []
        for numero in self.keys[lo:hi]:
            status = self.numbers[numero].status
            if status == "livre":
                removed.append(numero)
            else:
                refused.append({"numero": numero, "motivo": f"numero_{status}"})
                kept.append(numero)
        self.keys[lo:hi] = kept
        for numero in removed:
            del self.numbers[numero]
            self._forget(numero)
        return removed, refused

    def link(self, numero: str, link: Link, bloqueado: bool) -> Number:
        number = self.get(numero)
        self.plan(link.id_plano)
        held = number.vinculo.id_externo if number.vinculo else None
        if number.status == "vinculado" and held == link.id_externo:
            raise ApiError(409, "ja_vinculado", f"Número {numero} já vinculado a este serviço.")
        if number.status != "livre":
            raise ApiError(409, "numero_vinculado", f"Número {numero} vinculado a outro serviço "
                           "ou em fila de remoção.")
        number.status, number.vinculo, number.bloqueado = "vinculado", link, bloqueado
        self._tenure_begins(numero, link)
        self._transmit(number)
        self.wrote(numero, "vincular")
        return number

    def update_link(self, numero: str, changes: Mapping[str, Any]) -> Number:
        number, link = self._linked(numero)
        if "id_plano" in changes:
            self.plan(changes["id_plano"])
        if any(getattr(link, name) != value for name, value in changes.items()):
            for name, value in changes.items():
                setattr(link, name, value)
            self._tenure_changes(numero, link)
            self._transmit(number)
            self.wrote(numero, "atualizar")
        return number

    def unlink(self, numero: str) -> Number:
        """Queue a linked number for removal; a number already queued keeps its entry."""
        number = self.get(numero)
        if number.status == "livre":
            raise ApiError(409, "numero_livre", f"Número {numero} não está vinculado.")
        if number.status == "vinculado":
            now = self.clock.now()
            number.status, number.bloqueado = "em_remocao", False
            number.desde, number.previsao = now, now + self.removal_delay
            heapq.heappush(self.queue, (number.previsao, numero))
            self._tenure_ends(numero, now)
            self.wrote(numero, "desvincular")
        return number

    def set_blocked(self, numero: str, blocked: bool) -> Number:
        number, _ = self._linked(numero)
        if number.bloqueado != blocked:
            number.bloqueado = blocked
            self.wrote(numero, "bloquear" if blocked else "desbloquear")
        return number

    def retransmit(self, numero: str) -> Number:
        """Mark a number pending; the next tick (the next request) transmits it again."""
        number = self.get(numero)
        number.transmissao = "pendente"
        self.pending.add(numero)
        self.wrote(numero, "retransmitir")
        return number

    def force_transmission(self, numero: str, status: str) -> Number:
        number = self.get(numero)
        number.transmissao = status
        number.erro_transmissao = TRANSMISSION_ERRORS[0] if status == "erro" else None
        self.pending.discard(numero)
        return number

    # -- monthly charges (sim_billing) -------------------------------------------------------

    def charges(self, month: str, start: int, size: int,
                detailed: bool) -> tuple[list[dict[str, Any]], int]:
        """Charges ``start``..``start+size`` of ``month`` (YYYY-MM) in number order, and how
        many numbers it charges in all; only the page's charges are computed."""
        numbers = self._charged_numbers(month)
        plans = {int(p["id"]): p for p in self.plans}
        now = self.clock.now()
        page = []
        for numero in numbers[start:start + size]:
            found = charge(self.seed or 0, numero, month, self.tenures[numero], plans, now,
                           self.calls_max_per_day, self.corrections.get((numero, month)), detailed)
            if found is not None:
                page.append(found)
        return page, len(numbers)

    def correct(self, numero: str, month: str, excedente: str) -> dict[str, Any]:
        """Replace the ``excedente`` of one number's charge for ``month`` (admin)."""
        if numero not in self._charged_numbers(month):
            raise ApiError(404, "cobranca_inexistente", f"Nenhuma cobrança de {numero} em {month}.")
        self.corrections[(numero, month)] = excedente
        page, _ = self.charges(month, self._charged_numbers(month).index(numero), 1, False)
        return page[0]

    def backdate(self, numero: str | None, since: float) -> list[str]:
        """Move the start of the current link of ``numero`` (of every linked number when None)
        back to ``since`` (admin: a link made "months ago")."""
        moved = []
        for key, tenures in sorted(self.tenures.items()):
            if (numero is None or key == numero) and tenures and tenures[-1].until is None:
                low = tenures[-2].until if len(tenures) > 1 else None
                tenures[-1].since = max(min(tenures[-1].since, since), low or since)
                moved.append(key)
        self._charged = None
        return moved

    def _charged_numbers(self, month: str) -> list[str]:
        now = self.clock.now()
        key = (month, int(now // 86400))
        if self._charged is None or self._charged[0] != key:
            self._charged = (key, [n for n in sorted(self.tenures)
                                   if charged_in(self.tenures[n], month, now)])
        return self._charged[1]

    def _tenure_begins(self, numero: str, link: Link) -> None:
        self.tenures.setdefault(numero, []).append(
            Tenure(self.clock.now(), None, link.id_externo, link.id_plano))
        self._charged = None

    def _tenure_changes(self, numero: str, link: Link) -> None:
        tenures = self.tenures.get(numero)
        if tenures and tenures[-1].until is None:
            tenures[-1].id_plano = link.id_plano

    def _tenure_ends(self, numero: str, now: float) -> None:
        tenures = self.tenures.get(numero)
        if tenures and tenures[-1].until is None:
            tenures[-1].until = now
            self._charged = None

    # -- helpers -----------------------------------------------------------------------------

    def _linked(self, numero: str) -> tuple[Number, Link]:
        number = self.get(numero)
        if number.status == "em_remocao":
            message = f"Número {numero} está em fila de remoção."
            raise ApiError(409, "numero_em_remocao", message)
        if number.vinculo is None:
            raise ApiError(409, "numero_livre", f"Número {numero} não está vinculado.")
        return number, number.vinculo

    def _new(self, numero: str, ddi: int) -> Number:
        self.next_id += 1
        return Number(id=self.next_id - 1, numero=numero, ddi=ddi)

    def _add(self, numbers: Iterable[Number]) -> None:
        """Index new numbers, given in number order, keeping ``keys`` sorted cheaply."""
        added = [n.numero for n in numbers if self.numbers.setdefault(n.numero, n) is n]
        if not self.keys or (added and added[0] > self.keys[-1]):
            self.keys += added
        elif len(added) == 1:
            insort(self.keys, added[0])
        elif added:
            self.keys += added
            self.keys.sort()  # two sorted runs: Timsort merges them in linear time

    def _transmit(self, number: Number) -> None:
        rate = self.transmission_error_rate
        failed = bool(rate) and self.random.random() < rate
        number.transmissao = "erro" if failed else "transmitido"
        number.erro_transmissao = TRANSMISSION_ERRORS[int(number.numero) % len(
            TRANSMISSION_ERRORS)] if failed else None
        self.pending.discard(number.numero)

    def _forget(self, numero: str) -> None:
        self.pending.discard(numero)
        self.wrote(numero, "apagar")
