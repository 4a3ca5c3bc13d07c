"""What the simulated HubSoft ERP holds: its clients, their services and packages.

The wire contract and every assumption behind it are listed in :mod:`reconciler.sources.hubsoft.sim`;
this module is the data model, free of HTTP. Records are compact (slotted, values shared where an
estate repeats them: plan names, package records, statuses) and turned into the wire's JSON only
when a page asks for them, so a store of 100,000 clients stays small.

A generated estate comes from :func:`reconciler.sim.erp_data.estate` (neutral states mapped to
HubSoft's ``status_prefixo`` by :data:`PREFIXO`); about one client in 50 gets an empty
``telefone_primario`` and one in 100 an empty ``email_principal``, drawn from a random source of
its own seeded by the estate's seed, so the same seed always leaves out the same ones.

Counters: ``requests`` per "METHOD /route" (kept by the app), ``writes`` per
``id_cliente_servico`` for the admin PATCH (only when it changed something), ``logins``
(password grants) and ``refreshes`` (refresh grants).
"""

from __future__ import annotations

import random
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise
from typing import Any

from reconciler.sim import erp_data
from reconciler.sim.clock import Clock, SystemClock
from reconciler.sim.wire import ApiError as WireError
from reconciler.sim.wire import Counters
from reconciler.sources.hubsoft import STATUSES

FORMAT_VERSION = 1
MAX_GENERATED = 1_000_000
UNAUTHENTICATED = "Unauthenticated."

#: erp_data's neutral states -> HubSoft ``status_prefixo``.
PREFIXO = {
    "enabled": "servico_habilitado",
    "suspended_debt": "suspenso_debito",
    "suspended_partial": "suspenso_parcialmente",
    "suspended_request": "suspenso_pedido_cliente",
    "cancelled": "cancelado",
    "inactive": "inativo",
    "awaiting": "aguardando_instalacao",
}

#: ``id_servico_status`` of each status (ASSUMED: numbered in alphabetical order from 1).
STATUS_IDS = {prefixo: number for number, prefixo in enumerate(sorted(STATUSES), start=1)}

#: The plan catalog of a generated estate: nome -> (id_servico, valor, tecnologia). ASSUMED.
PLANS: dict[str, tuple[int, float, str]] = {
    "FIBRA 300MB": (1, 99.9, "FIBRA"),
    "FIBRA 500MB": (2, 129.9, "FIBRA"),
    "FIBRA 1GB": (3, 199.9, "FIBRA"),
    "FIBRA 500MB COMBO": (4, 159.9, "FIBRA"),
    "RADIO 50MB": (5, 79.9, "RADIO"),
}
FIRST_REGISTERED = date(2015, 1, 1)  # data_cadastro of a generated estate's first client
DIGITS = re.compile(r"^\d+$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
PORTS_PER_BOX = 16


class ApiError(WireError):
    """A refusal answered as HubSoft does: 401 ``{"message": "Unauthenticated."}`` (Laravel's
    auth guard), anything else ``{"status": "error", "msg", "errors"}`` with the HTTP status
    given (the API's validation refusals are HTTP 200; the simulator's own are 4xx)."""

    def __init__(self, status: int, msg: str, errors: Sequence[str] | None = None) -> None:
        super().__init__(status, f"{status}: {msg}")
        self.msg = msg
        self.errors = list(errors) if errors is not None else [msg]

    def body(self) -> dict[str, Any]:
        if self.status == 401:
            return {"message": UNAUTHENTICATED}
        return {"status": "error", "msg": self.msg, "errors": self.errors}


@dataclass(frozen=True, slots=True)
class Package:
    """A ``pacote`` on a client service; equal packages are one shared object in a store."""

    id_pacote: int
    codigo: str
    descricao: str
    valor: str  # HubSoft sends it as text ("19.90")

    def to_wire(self) -> dict[str, Any]:
        return {"id_pacote": self.id_pacote, "codigo": self.codigo, "descricao": self.descricao,
                "valor": self.valor}


#: The packages of a generated estate, by codigo (erp_data.PACKAGES). ASSUMED values.
PACKAGES = {
    code: Package(number, code, code.replace("-", " ").title(), "19.90")
    for number, code in enumerate(erp_data.PACKAGES, start=1)
}


@dataclass(slots=True)
class Service:
    """One ``cliente_servico``; ``porta`` is ``porta_atendimento`` as (numero, equipamento)."""

    id_cliente_servico: int
    id_servico: int
    numero_plano: int
    nome: str
    valor: float
    status_prefixo: str
    tecnologia: str
    login: str | None
    referencia: str | None
    pacotes: tuple[Package, ...]
    porta: tuple[int, str] | None

    def to_wire(self) -> dict[str, Any]:
        """The service as ``cliente/todos`` shows it (never a ``senha``)."""
        porta = self.porta
        return {
            "id_cliente_servico": self.id_cliente_servico,
            "id_servico": self.id_servico,
            "numero_plano": self.numero_plano,
            "nome": self.nome,
            "valor": self.valor,
            "status": STATUSES[self.status_prefixo],
            "status_prefixo": self.status_prefixo,
            "tecnologia": self.tecnologia,
            "login": self.login,
            "referencia": self.referencia,
            "pacotes": [p.to_wire() for p in self.pacotes],
            "porta_atendimento": (
                {"numero": porta[0], "equipamento": porta[1]} if porta is not None else None
            ),
        }


@dataclass(slots=True)
class Client:
    """One ``cliente``; empty text stands for a missing phone (HubSoft sends ``""``)."""

    id_cliente: int
    codigo_cliente: int
    nome_razaosocial: str
    nome_fantasia: str | None
    tipo_pessoa: str  # pf | pj
    cpf_cnpj: str  # digits
    telefone_primario: str
    email_principal: str | None
    data_cadastro: str  # YYYY-MM-DD
    servicos: tuple[Service, ...]

    def to_wire(self) -> dict[str, Any]:
        return {
            "id_cliente": self.id_cliente,
            "codigo_cliente": self.codigo_cliente,
            "nome_razaosocial": self.nome_razaosocial,
            "nome_fantasia": self.nome_fantasia,
            "tipo_pessoa": self.tipo_pessoa,
            "cpf_cnpj": self.cpf_cnpj,
            "telefone_primario": self.telefone_primario,
            "email_principal": self.email_principal,
            "data_cadastro": self.data_cadastro,
            "servicos": [s.to_wire() for s in self.servicos],
        }

    def cancelled(self) -> bool:
        """Whether every service is cancelled (ASSUMED meaning of ``cancelado=sim``); a client
        without services is not."""
        return bool(self.servicos) and all(s.status_prefixo == "cancelado" for s in self.servicos)


class Store(Counters):
    """Every client of the simulated ERP (in id_cliente order), and the counters."""

    def __init__(self, clients: Iterable[Client] = (), *, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or SystemClock()
        self.reset()
        self.replace(clients)

    def reset(self) -> None:
        """Back to an ERP without clients; counters start again."""
        self.clients: list[Client] = []
        self.services: dict[int, Service] = {}
        self.version = 0
        self._filtered: dict[str | None, tuple[int, list[Client]]] = {}
        self.reset_counters()
        self.logins = 0
        self.refreshes = 0

    def replace(self, clients: Iterable[Client]) -> None:
        """The whole estate becomes ``clients`` (ValueError for a repeated id)."""
        ordered = sorted(clients, key=lambda c: c.id_cliente)
        services: dict[int, Service] = {}
        for before, after in pairwise(ordered):
            if before.id_cliente == after.id_cliente:
                raise ValueError(f"id_cliente {after.id_cliente} appears twice")
        for client in ordered:
            for service in client.servicos:
                if service.id_cliente_servico in services:
                    raise ValueError(f"id_cliente_servico {service.id_cliente_servico} appears "
                                     f"twice")
                services[service.id_cliente_servico] = service
        self.clients, self.services = ordered, services
        self.version += 1

    # -- persistence -------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The ERP's clients (not its tokens, settings or counters) as JSON-ready objects."""
        return {"version": FORMAT_VERSION, "clientes": [c.to_wire() for c in self.clients]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, clock: Clock | None = None) -> Store:
        if data.get("version") != FORMAT_VERSION:
            raise ValueError(f"unsupported hubsoft store version {data.get('version')!r}")
        return cls(load_clients(data["clientes"]), clock=clock)

    # -- reads -------------------------------------------------------------------------------

    def page(self, pagina: int, itens: int, cancelado: str | None) -> tuple[list[Client], int]:
        """One page (0-based) of the clients ``cancelado`` selects (None: all), and their
        count."""
        chosen = self._selection(cancelado)
        start = pagina * itens
        return chosen[start : start + itens], len(chosen)

    def _selection(self, cancelado: str | None) -> list[Client]:
        if cancelado is None:
            return self.clients
        cached = self._filtered.get(cancelado)
        if cached is None or cached[0] != self.version:
            wanted = cancelado == "sim"
            cached = (self.version, [c for c in self.clients if c.cancelled() == wanted])
            self._filtered[cancelado] = cached
        return cached[1]

    # -- admin writes ------------------------------------------------------------------------

    def change_service(self, id_cliente_servico: int, changes: Mapping[str, Any]) -> Service:
        """Apply the checked ``changes`` (status_prefixo, login, nome, pacotes) to a service;
        a write is counted only when something changed."""
        service = self.services.get(id_cliente_servico)
        if service is None:
            raise ApiError(404, f"Serviço do cliente de ID {id_cliente_servico} não encontrado.")
        changed = False
        for name, value in changes.items():
            if getattr(service, name) != value:
                setattr(service, name, value)
                changed = True
        if "nome" in changes and changes["nome"] in PLANS:
            service.id_servico, service.valor, service.tecnologia = PLANS[changes["nome"]]
        if changed:
            self.version += 1
            self.wrote(str(id_cliente_servico), "alterar")
        return service


class StoreClock:
    """The store's clock, read at each call, so replacing ``store.clock`` moves tokens too."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def now(self) -> float:
        return self.store.clock.now()


# -- a generated estate --------------------------------------------------------------------------


def generated(count: int, seed: int = 0) -> list[Client]:
    """``count`` clients of :func:`erp_data.estate` in HubSoft's shape (see the module doc)."""
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_GENERATED:
        raise ValueError(f"generate must be a whole number between 0 and {MAX_GENERATED}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError("seed must be a whole number")
    contacts = random.Random(f"hubsoft-contacts:{seed}")
    span = max(count, 1)
    out: list[Client] = []
    for person in erp_data.estate(count, seed):
        no_phone, no_email = contacts.random() < 1 / 50, contacts.random() < 1 / 100
        registered = FIRST_REGISTERED + timedelta(days=(person.number - 1) * 3650 // span)
        services = tuple(_service(s, n) for n, s in enumerate(person.services, start=1))
        trade = person.name.removesuffix(" Ltda") if person.company else None
        out.append(Client(
            id_cliente=person.number,
            codigo_cliente=person.number,
            nome_razaosocial=sys.intern(person.name),  # names repeat: one copy each
            nome_fantasia=sys.intern(trade) if trade is not None else None,
            tipo_pessoa="pj" if person.company else "pf",
            cpf_cnpj=person.document,
            telefone_primario="" if no_phone else person.phone,
            email_principal=None if no_email else person.email,
            data_cadastro=sys.intern(registered.isoformat()),
            servicos=services,
        ))
    return out


def _service(service: erp_data.Service, numero_plano: int) -> Service:
    id_servico, valor, tecnologia = PLANS[service.plan]
    number = service.number
    box = sys.intern(f"CTO-{(number - 1) // PORTS_PER_BOX + 1:05d}")
    porta = ((number - 1) % PORTS_PER_BOX + 1, box) if tecnologia == "FIBRA" else None
    return Service(
        id_cliente_servico=number,
        id_servico=id_servico,
        numero_plano=numero_plano,
        nome=sys.intern(service.plan),
        valor=valor,
        status_prefixo=PREFIXO[service.state],
        tecnologia=tecnologia,
        login=service.login,
        referencia=None,
        pacotes=tuple(PACKAGES[code] for code in service.packages),
        porta=porta,
    )


# -- clients in the wire shape, checked ---------------------------------------------------------


def load_clients(items: Any) -> list[Client]:
    """Clients in the wire shape of ``cliente/todos``, checked (ValueError says what is wrong);
    a ``senha`` given for a service is dropped, never kept."""
    if not isinstance(items, list):
        raise ValueError("clientes must be a list of clients")
    shared: dict[Package, Package] = {p: p for p in PACKAGES.values()}
    return [_client(item, shared) for item in items]


def _client(item: Any, shared: dict[Package, Package]) -> Client:
    if not isinstance(item, Mapping):
        raise ValueError("each cliente must be an object")
    number = _int(item, "id_cliente", "cliente")
    where = f"cliente {number}"
    document = _text(item, "cpf_cnpj", where)
    if not DIGITS.match(document) or len(document) not in (11, 14):
        raise ValueError(f"{where}: cpf_cnpj must be 11 or 14 digits")
    kind = item.get("tipo_pessoa") or ("pf" if len(document) == 11 else "pj")
    if kind not in ("pf", "pj"):
        raise ValueError(f"{where}: tipo_pessoa must be pf or pj")
    registered = item.get("data_cadastro") or FIRST_REGISTERED.isoformat()
    if not isinstance(registered, str) or not ISO_DATE.match(registered):
        raise ValueError(f"{where}: data_cadastro must be YYYY-MM-DD")
    servicos = item.get("servicos") or []
    if not isinstance(servicos, list):
        raise ValueError(f"{where}: servicos must be a list")
    return Client(
        id_cliente=number,
        codigo_cliente=_int(item, "codigo_cliente", where, number),
        nome_razaosocial=_text(item, "nome_razaosocial", where),
        nome_fantasia=_text(item, "nome_fantasia", where, None),
        tipo_pessoa=kind,
        cpf_cnpj=document,
        telefone_primario=_text(item, "telefone_primario", where, ""),
        email_principal=_text(item, "email_principal", where, None),
        data_cadastro=registered,
        servicos=tuple(_wire_service(s, n, where, shared)
                       for n, s in enumerate(servicos, start=1)),
    )


def _wire_service(item: Any, position: int, where: str, shared: dict[Package, Package]
                  ) -> Service:
    if not isinstance(item, Mapping):
        raise ValueError(f"{where}: each servico must be an object")
    number = _int(item, "id_cliente_servico", where)
    where = f"{where}, servico {number}"
    nome = _text(item, "nome", where)
    id_servico, valor, tecnologia = PLANS.get(nome, (0, 0.0, "FIBRA"))
    raw_valor = item.get("valor", valor)
    if isinstance(raw_valor, bool) or not isinstance(raw_valor, int | float):
        raise ValueError(f"{where}: valor must be a number")
    return Service(
        id_cliente_servico=number,
        id_servico=_int(item, "id_servico", where, id_servico, low=0),
        numero_plano=_int(item, "numero_plano", where, position),
        nome=sys.intern(nome),
        valor=float(raw_valor),
        status_prefixo=status_prefixo(item.get("status_prefixo"), where),
        tecnologia=sys.intern(_text(item, "tecnologia", where, tecnologia)),
        login=_text(item, "login", where, None),
        referencia=_text(item, "referencia", where, None),
        pacotes=packages(item.get("pacotes"), where, shared),
        porta=_porta(item.get("porta_atendimento"), where),
    )


def status_prefixo(value: Any, where: str) -> str:
    if value not in STATUSES:
        raise ValueError(f"{where}: status_prefixo {value!r} is not one of "
                         f"{', '.join(STATUSES)}")
    return str(value)


def packages(items: Any, where: str, shared: dict[Package, Package] | None = None
             ) -> tuple[Package, ...]:
    """``pacotes``: objects ``{id_pacote?, codigo, descricao?, valor?}`` or bare codigos (a
    known codigo takes the catalog's package)."""
    if items is None:
        return ()
    if not isinstance(items, list):
        raise ValueError(f"{where}: pacotes must be a list")
    pool = shared if shared is not None else {p: p for p in PACKAGES.values()}
    out = []
    for item in items:
        if isinstance(item, str):
            item = PACKAGES[item].to_wire() if item in PACKAGES else {"codigo": item}
        if not isinstance(item, Mapping):
            raise ValueError(f"{where}: each pacote must be an object or a codigo")
        codigo = _text(item, "codigo", f"{where}, pacote")
        known = PACKAGES.get(codigo)
        package = Package(
            id_pacote=_int(item, "id_pacote", f"{where}, pacote {codigo}",
                           known.id_pacote if known else 0, low=0),
            codigo=codigo,
            descricao=_text(item, "descricao", where, known.descricao if known else codigo),
            valor=str(item.get("valor", known.valor if known else "0.00")),
        )
        out.append(pool.setdefault(package, package))
    return tuple(out)


def _porta(item: Any, where: str) -> tuple[int, str] | None:
    if item is None:
        return None
    if not isinstance(item, Mapping):
        raise ValueError(f"{where}: porta_atendimento must be an object or null")
    return (_int(item, "numero", f"{where}, porta_atendimento", low=0),
            sys.intern(_text(item, "equipamento", f"{where}, porta_atendimento")))


_REQUIRED: Any = object()


def _int(item: Mapping[str, Any], name: str, where: str, default: Any = _REQUIRED, *,
         low: int = 1) -> int:
    value = item.get(name)
    if value is None and default is not _REQUIRED:
        return int(default)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{where}: {name} must be a whole number >= {low}")
    return value


def _text(item: Mapping[str, Any], name: str, where: str, default: Any = _REQUIRED) -> Any:
    value = item.get(name)
    if value is None and default is not _REQUIRED:
        return default
    if not isinstance(value, str) or (default is _REQUIRED and not value.strip()):
        raise ValueError(f"{where}: {name} must be text" +
                         ("" if default is not _REQUIRED else " and not empty"))
    return value
