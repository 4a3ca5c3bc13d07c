"""What the simulated IXC Soft ERP holds: its tables ``cliente`` and ``cliente_contrato``.

The wire contract and every assumption behind it are listed in :mod:`reconciler.sources.ixc.sim`;
this module is the data model, the listing engine (filters, sort, pages) and the generated
estate, free of HTTP. Every refusal of the ERP is an :class:`ApiError` answered as IXC words
its errors, ``{"type": "error", "message": ...}``; a bad admin payload is a ValueError.

Records are compact (slotted, ids as ints, shared strings for repeated values) and a row's wire
form (every value a string, as IXC sends it) is built only for the rows of the page asked for,
so 100,000 clients with their 108,000 contracts take about 75 MB (generated in about 2 s). The
last filtered and sorted listing is cached until the next change, so reading a large table page
by page does not filter and sort it again for every page.

Counters: ``requests`` per "METHOD /route" (kept by the app) and ``writes`` per contract
(``cliente_contrato/<id>``, ``alterar``: the ``PATCH /_sim/contracts/{id}`` that changed it).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date, timedelta
from typing import Any

from reconciler.sim import erp_data
from reconciler.sim.wire import ApiError as WireError
from reconciler.sim.wire import Counters

FORMAT_VERSION = 1
MAX_CLIENTS = 1_000_000
MAX_ROWS = 5000  # ``rp`` 1..5000 (ASSUMED bound)
MAX_PAGE = 10**9
GENERIC = "Ocorreu um erro ao processar. Contate o suporte IXC Soft."

CONTRACT_STATUSES = ("P", "A", "I", "N", "D")
INTERNET_STATUSES = ("A", "D", "CM", "CA", "FA", "AA")
OPERATORS = ("=", "L", ">", ">=", "<", "<=", "!=")
YES_NO = ("S", "N")
NO_DATE = "0000-00-00"  # how IXC shows an empty date
NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
DIGITS = re.compile(r"^\d+$")


class ApiError(WireError):
    """A refusal IXC answers ``{"type": "error", "message": <Portuguese text>}``; ``status`` is
    the HTTP status (IXC answers most errors with 200)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(status, message)
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"type": "error", "message": self.message}


def generic_error() -> ApiError:
    """IXC's answer to a query it cannot run (bad qtype, sortname, oper, grid_param...)."""
    return ApiError(200, GENERIC)


@dataclass(slots=True)
class Cliente:
    """One row of ``cliente``; text fields are "" when empty, as IXC keeps them."""

    id: int
    razao: str
    fantasia: str
    cnpj_cpf: str  # formatted: 123.456.789-09 / 12.345.678/0001-90
    tipo_pessoa: str  # F | J
    email: str
    telefone_celular: str
    fone: str
    ativo: str  # S | N


@dataclass(slots=True)
class Contrato:
    """One row of ``cliente_contrato``. ``login`` is the PPPoE login, which real IXC keeps in
    ``radusuarios``: here it is on the contract (a simplification, see the sim's docstring)."""

    id: int
    id_cliente: int
    contrato: str  # the plan's name
    status: str  # P | A | I | N | D
    status_internet: str  # A | D | CM | CA | FA | AA
    bloqueio_automatico: str  # S | N
    data_ativacao: str  # YYYY-MM-DD, or 0000-00-00
    login: str


Record = Cliente | Contrato
CLIENTE_FIELDS = tuple(f.name for f in fields(Cliente))
CONTRATO_FIELDS = tuple(f.name for f in fields(Contrato))
TABLES: dict[str, tuple[str, ...]] = {"cliente": CLIENTE_FIELDS, "cliente_contrato": CONTRATO_FIELDS}
NUMERIC = frozenset({"id", "id_cliente"})


def wire_row(record: Record, names: Sequence[str]) -> dict[str, str]:
    """A record as IXC sends it: every value a string."""
    return {name: str(getattr(record, name)) for name in names}


# -- listing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filter:
    field: str
    oper: str
    value: str


@dataclass(frozen=True)
class Query:
    """One listing request, checked: AND filters, the sort, and the 1-based page of ``rp``."""

    filters: tuple[Filter, ...] = ()
    sortname: str = "id"
    descending: bool = False
    page: int = 1
    rp: int = 20


def _matches(value: str, oper: str, wanted: str) -> bool:
    """One filter on one wire value: numbers compare as numbers, text without case (MySQL's
    default collation); ``L`` is "contains" (LIKE '%value%')."""
    if oper == "L":
        return wanted.casefold() in value.casefold()
    left: Any
    right: Any
    if NUMBER.match(value) and NUMBER.match(wanted):
        left, right = float(value), float(wanted)
    else:
        left, right = value.casefold(), wanted.casefold()
    if oper == "=":
        return bool(left == right)
    if oper == "!=":
        return bool(left != right)
    if oper == ">":
        return bool(left > right)
    if oper == ">=":
        return bool(left >= right)
    if oper == "<":
        return bool(left < right)
    return bool(left <= right)


def _sort_key(name: str) -> Callable[[Record], Any]:
    if name in NUMERIC:
        return lambda record: getattr(record, name)
    return lambda record: (str(getattr(record, name)).casefold(), record.id)


# -- the store ---------------------------------------------------------------------------------


class Store(Counters):
    """Everything the simulated ERP holds, plus its counters. ``origin`` is the ``(count,
    seed)`` of a generated estate, which :meth:`reset` generates again (None: reset empties)."""

    def __init__(self) -> None:
        self.origin: tuple[int, int] | None = None
        self.reset()

    def reset(self) -> None:
        """Back to the generated estate (or empty, when it was loaded); counters start again."""
        self.clientes: dict[int, Cliente] = {}
        self.contratos: dict[int, Contrato] = {}
        self.version = 0
        self._cache: tuple[Any, list[Record]] | None = None
        self.reset_counters()
        if self.origin is not None:
            self.generate(*self.origin)

    # -- persistence -------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The ERP's data (not its counters) as JSON-ready objects, rows in IXC's wire form."""
        return {
            "version": FORMAT_VERSION,
            "origin": list(self.origin) if self.origin is not None else None,
            "clientes": [wire_row(c, CLIENTE_FIELDS) for c in self.clientes.values()],
            "contratos": [wire_row(c, CONTRATO_FIELDS) for c in self.contratos.values()],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Store:
        """A store holding what :meth:`to_json` wrote."""
        if data.get("version") != FORMAT_VERSION:
            raise ValueError(f"unsupported ixc store version {data.get('version')!r}")
        store = cls()
        store.load(data.get("clientes") or (), data.get("contratos") or ())
        origin = data.get("origin")
        if origin is not None:
            count, seed = origin
            store.origin = (int(count), int(seed))
        return store

    # -- contents ----------------------------------------------------------------------------

    def generate(self, count: int, seed: int = 0) -> None:
        """Replace the estate with ``erp_data.estate(count, seed)`` in IXC's shape."""
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_CLIENTS:
            raise ValueError(f"generate must be a number of clients between 1 and {MAX_CLIENTS}")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError("seed must be an integer")
        clientes: dict[int, Cliente] = {}
        contratos: dict[int, Contrato] = {}
        for person in erp_data.estate(count, seed):
            cliente, rows = from_person(person)
            clientes[cliente.id] = cliente
            contratos.update((row.id, row) for row in rows)
        self._replace(clientes, dict(sorted(contratos.items())))
        self.origin = (count, seed)

    def load(self, clientes: Iterable[Any], contratos: Iterable[Any]) -> None:
        """Replace the estate with these rows (wire form), checked: ValueError says what is
        wrong and leaves the estate as it was."""
        loaded_clientes: dict[int, Cliente] = {}
        for index, item in enumerate(_rows(clientes, "clientes")):
            cliente = _cliente(item, f"clientes[{index}]")
            if cliente.id in loaded_clientes:
                raise ValueError(f"clientes[{index}]: id {cliente.id} appears twice")
            loaded_clientes[cliente.id] = cliente
        loaded_contratos: dict[int, Contrato] = {}
        for index, item in enumerate(_rows(contratos, "contratos")):
            contrato = _contrato(item, f"contratos[{index}]")
            if contrato.id in loaded_contratos:
                raise ValueError(f"contratos[{index}]: id {contrato.id} appears twice")
            if contrato.id_cliente not in loaded_clientes:
                raise ValueError(f"contratos[{index}]: id_cliente {contrato.id_cliente} is no "
                                 f"cliente")
            loaded_contratos[contrato.id] = contrato
        if len(loaded_clientes) > MAX_CLIENTS or len(loaded_contratos) > 2 * MAX_CLIENTS:
            raise ValueError(f"at most {MAX_CLIENTS} clientes (and twice as many contratos)")
        self._replace(dict(sorted(loaded_clientes.items())), dict(sorted(loaded_contratos.items())))
        self.origin = None

    def change_contract(self, contract_id: int, changes: Mapping[str, Any]) -> Contrato:
        """Change a contract's ``status``, ``status_internet``, ``contrato`` or ``login``
        (ValueError for a bad field or value, KeyError for an unknown contract)."""
        contrato = self.contratos[contract_id]
        unknown = set(changes) - {"status", "status_internet", "contrato", "login"}
        if unknown or not changes:
            raise ValueError("give any of status, status_internet, contrato, login"
                             + (f"; unknown: {', '.join(sorted(unknown))}" if unknown else ""))
        checked = {
            "status": lambda v: _choice(v, CONTRACT_STATUSES, "status"),
            "status_internet": lambda v: _choice(v, INTERNET_STATUSES, "status_internet"),
            "contrato": lambda v: _text(v, "contrato", blank=False),
            "login": lambda v: _text(v, "login"),
        }
        values = {name: checked[name](value) for name, value in changes.items()}
        if any(getattr(contrato, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(contrato, name, value)
            self.wrote(f"cliente_contrato/{contract_id}", "alterar")
            self._changed()
        return contrato

    # -- reads -------------------------------------------------------------------------------

    def listing(self, table: str, query: Query) -> tuple[list[dict[str, str]], int]:
        """One page of ``table`` as wire rows, and how many rows match in all."""
        matched = self._matched(table, query)
        start = (query.page - 1) * query.rp
        names = TABLES[table]
        return [wire_row(r, names) for r in matched[start : start + query.rp]], len(matched)

    def _matched(self, table: str, query: Query) -> list[Record]:
        key = (self.version, table, query.filters, query.sortname, query.descending)
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        records: list[Record] = list(self.clientes.values() if table == "cliente"
                                     else self.contratos.values())
        for item in query.filters:
            name, oper, value = item.field, item.oper, item.value
            records = [r for r in records if _matches(str(getattr(r, name)), oper, value)]
        if query.sortname != "id":
            records.sort(key=_sort_key(query.sortname))
        if query.descending:
            records.reverse()
        self._cache = (key, records)
        return records

    # -- helpers -----------------------------------------------------------------------------

    def _replace(self, clientes: dict[int, Cliente], contratos: dict[int, Contrato]) -> None:
        self.clientes, self.contratos = clientes, contratos
        self._changed()

    def _changed(self) -> None:
        """Something changed: listings are computed again."""
        self.version += 1
        self._cache = None


# -- the generated estate ----------------------------------------------------------------------

#: erp_data's neutral states -> (contract status, internet status); the pairs of a state with
#: two outcomes alternate by the contract's id (see :func:`contract_status`).
STATE_STATUS: dict[str, tuple[tuple[str, str], ...]] = {
    "enabled": (("A", "A"),),
    "suspended_debt": (("A", "CA"),),  # one in five is negativado instead (N)
    "suspended_partial": (("A", "FA"),),
    "suspended_request": (("A", "CM"),),
    "cancelled": (("D", "D"), ("I", "D")),
    "inactive": (("I", "D"),),
    "awaiting": (("P", "AA"), ("A", "AA")),
}
_EPOCH = date(2018, 1, 1)


def contract_status(state: str, contract_id: int) -> tuple[str, str]:
    """``(status, status_internet)`` of a generated contract in erp_data's ``state``."""
    if state == "suspended_debt" and contract_id % 5 == 0:
        return "N", "CA"
    choices = STATE_STATUS[state]
    return choices[contract_id % len(choices)]


def from_person(person: erp_data.Person) -> tuple[Cliente, list[Contrato]]:
    """One generated client as IXC rows. Deterministic gaps: one client in 50 has no
    ``telefone_celular`` (half of those have a ``fone``), one in 100 no ``email``."""
    number = person.number
    no_mobile = number % 50 == 7
    mobile = "" if no_mobile else format_phone(person.phone)
    fixed = format_phone(f"{person.phone[:2]}3{person.phone[-7:]}") if (
        no_mobile and (number // 50) % 2 == 0) else ""
    contratos = []
    for service in person.services:
        status, internet = contract_status(service.state, service.number)
        pending = status == "P"
        activated = NO_DATE if pending else sys.intern(
            (_EPOCH + timedelta(days=service.number * 37 % 2500)).isoformat())
        contratos.append(Contrato(service.number, number, service.plan, status, internet,
                                  "S", activated, service.login))
    ativo = "N" if all(c.status in ("I", "D") for c in contratos) else "S"
    cliente = Cliente(
        id=number,
        razao=person.name,
        fantasia=person.name if person.company else "",
        cnpj_cpf=format_document(person.document),
        tipo_pessoa="J" if person.company else "F",
        email="" if number % 100 == 42 else person.email,
        telefone_celular=mobile,
        fone=fixed,
        ativo=ativo,
    )
    return cliente, contratos


def format_document(digits: str) -> str:
    """A CPF as 123.456.789-09, a CNPJ as 12.345.678/0001-90 (how IXC stores them)."""
    if len(digits) == 11:
        return f"{digits[:3]}.{digits[3:6]}.{digits[6:9]}-{digits[9:]}"
    if len(digits) == 14:
        return f"{digits[:2]}.{digits[2:5]}.{digits[5:8]}/{digits[8:12]}-{digits[12:]}"
    return digits


def format_phone(digits: str) -> str:
    """A DDD + number as (11) 91234-5678 or (11) 3123-4567."""
    return f"({digits[:2]}) {digits[2:-4]}-{digits[-4:]}"


# -- checking loaded rows ----------------------------------------------------------------------


def _rows(items: Any, name: str) -> list[Mapping[str, Any]]:
    if isinstance(items, str | bytes | Mapping) or not isinstance(items, Iterable):
        raise ValueError(f"{name} must be a list of objects")
    rows = list(items)
    for index, item in enumerate(rows):
        if not isinstance(item, Mapping):
            raise ValueError(f"{name}[{index}] must be an object")
    return rows


def _cliente(item: Mapping[str, Any], where: str) -> Cliente:
    _known(item, CLIENTE_FIELDS, where)
    document = _text(item.get("cnpj_cpf"), f"{where}.cnpj_cpf", blank=False)
    digits = re.sub(r"\D", "", document)
    tipo = item.get("tipo_pessoa") or ("J" if len(digits) == 14 else "F")
    return Cliente(
        id=_id(item.get("id"), f"{where}.id"),
        razao=_text(item.get("razao"), f"{where}.razao", blank=False),
        fantasia=_text(item.get("fantasia", ""), f"{where}.fantasia"),
        cnpj_cpf=document,
        tipo_pessoa=_choice(tipo, ("F", "J"), f"{where}.tipo_pessoa"),
        email=_text(item.get("email", ""), f"{where}.email"),
        telefone_celular=_text(item.get("telefone_celular", ""), f"{where}.telefone_celular"),
        fone=_text(item.get("fone", ""), f"{where}.fone"),
        ativo=_choice(item.get("ativo", "S"), YES_NO, f"{where}.ativo"),
    )


def _contrato(item: Mapping[str, Any], where: str) -> Contrato:
    _known(item, CONTRATO_FIELDS, where)
    return Contrato(
        id=_id(item.get("id"), f"{where}.id"),
        id_cliente=_id(item.get("id_cliente"), f"{where}.id_cliente"),
        contrato=_text(item.get("contrato"), f"{where}.contrato", blank=False),
        status=_choice(item.get("status"), CONTRACT_STATUSES, f"{where}.status"),
        status_internet=_choice(item.get("status_internet", "A"), INTERNET_STATUSES,
                                f"{where}.status_internet"),
        bloqueio_automatico=_choice(item.get("bloqueio_automatico", "S"), YES_NO,
                                    f"{where}.bloqueio_automatico"),
        data_ativacao=_date(item.get("data_ativacao", NO_DATE), f"{where}.data_ativacao"),
        login=_text(item.get("login", ""), f"{where}.login"),
    )


def _known(item: Mapping[str, Any], names: Sequence[str], where: str) -> None:
    unknown = set(item) - set(names)
    if unknown:
        raise ValueError(f"{where}: unknown fields {', '.join(sorted(map(str, unknown)))}; "
                         f"known: {', '.join(names)}")


def _id(value: Any, where: str) -> int:
    if isinstance(value, str) and DIGITS.match(value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value < 2**63:
        raise ValueError(f"{where} must be a positive whole number, not {value!r}")
    return value


def _text(value: Any, where: str, *, blank: bool = True) -> str:
    if not isinstance(value, str) or len(value) > 1000 or (not blank and not value.strip()):
        raise ValueError(f"{where} must be {'' if blank else 'non-empty '}text "
                         f"(up to 1000 characters)")
    return value


def _choice(value: Any, choices: Sequence[str], where: str) -> str:
    if value not in choices:
        raise ValueError(f"{where} must be one of {', '.join(choices)}, not {value!r}")
    return str(value)


def _date(value: Any, where: str) -> str:
    if value != NO_DATE:
        try:
            date.fromisoformat(value)
        except (TypeError, ValueError):
            raise ValueError(f"{where} must be YYYY-MM-DD or {NO_DATE}, not {value!r}") from None
    return str(value)
