"""What the simulated Geosite platform holds: projects, network elements (CTOs with their
customer ports, CEOs, poles), the clients on the ports, and the seeding of a network.

The wire contract and every assumption behind it are in :mod:`reconciler.platforms.geosite.sim`
and docs/platforms/geosite.md; this module is the data model and its rules, free of HTTP. Every
refusal is an :class:`ApiError`: ``{"erro", "mensagem"}`` in Portuguese and a real HTTP status,
plus, on a conflict, what it conflicts with.

A CTO keeps its ports compactly, as the number of ports, the reserved ones and the occupied
ones: a network of 80,000 ports seeds, lists and persists in well under a second. Listings are
built once per change of what they list and then sliced, so paging through every client or
element costs one pass, not one per page.

Counters: ``requests`` per "METHOD /route" (kept by the app), ``writes`` per port
(``cto/<id>/<porta>``) counting only calls that changed something (``create``, ``update``,
``replace``, ``delete``), ``logins``.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from reconciler.sim.records import fields_of
from reconciler.sim.wire import Counters, PortugueseError

FORMAT_VERSION = 1
CTO, CEO, POLE = "cto", "ceo", "poste"
KINDS = (CTO, CEO, POLE)
IMPLANTED, IN_DESIGN = "implantado", "em_projeto"
STATUSES = (IMPLANTED, IN_DESIGN)
DEFAULT_PORTS = 16
MAX_PORTS = 64
MAX_SEEDED = 200_000  # elements one seed call may create
DOCUMENT = re.compile(r"^(\d{11}|\d{14})$")  # CPF or CNPJ, digits only
EARTH_RADIUS = 6_371_008.8  # metres, the mean radius (IUGG)
METRES_PER_DEGREE = EARTH_RADIUS * math.pi / 180
RESERVED_NOTE = "Reservada pela operação"
PREFIXES = {CTO: "CTO", CEO: "CEO", POLE: "POSTE"}
T = TypeVar("T")


class ApiError(PortugueseError):
    """A refusal: ``{"erro", "mensagem", ...extra}`` with a real HTTP status; a conflict names
    what it conflicts with in ``extra`` (the client on the port, the port a client is on)."""

    def __init__(self, status: int, erro: str, mensagem: str, **extra: Any) -> None:
        super().__init__(status, erro, mensagem)
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {**super().body(), **self.extra}


# -- records -----------------------------------------------------------------------------------


@dataclass(slots=True)
class Client:
    """A client service as the ERP pushes it onto a port: ``codigo`` is the ERP's
    id_cliente_servico, ``documento`` the CPF or CNPJ."""

    codigo: str
    documento: str
    nome: str
    observacao: str | None


@dataclass(slots=True)
class Project:
    id: int
    nome: str


@dataclass(slots=True)
class Element:
    """A network element. Only a CTO has (customer) ports, numbered 1..``total_portas``: a port
    is free unless it is ``reservadas`` (number -> note) or holds one of ``clientes``; the two
    never overlap."""

    id: int
    tipo: str
    nome: str
    projeto: int
    latitude: float
    longitude: float
    status: str
    observacao: str | None
    total_portas: int = 0
    reservadas: dict[int, str | None] = field(default_factory=dict)
    clientes: dict[int, Client] = field(default_factory=dict)

    @property
    def portas_livres(self) -> int:
        return self.total_portas - len(self.reservadas) - len(self.clientes)

    def port_wire(self, numero: int) -> dict[str, Any]:
        client = self.clientes.get(numero)
        return {"numero": numero, "reservada": numero in self.reservadas,
                "observacao": self.reservadas.get(numero),
                "cliente": fields_of(client) if client is not None else None}

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "tipo": self.tipo, "nome": self.nome,
                               "projeto": self.projeto, "latitude": self.latitude,
                               "longitude": self.longitude, "status": self.status,
                               "observacao": self.observacao}
        if self.tipo == CTO:
            out["total_portas"] = self.total_portas
            out["portas_livres"] = self.portas_livres
            out["portas"] = [self.port_wire(n) for n in range(1, self.total_portas + 1)]
        return out

    def dump(self) -> dict[str, Any]:
        """The element for the persisted store: ports as ``[numero, note]`` and ``[numero,
        codigo, documento, nome, observacao]`` lists."""
        out = {name: getattr(self, name) for name in (
            "id", "tipo", "nome", "projeto", "latitude", "longitude", "status", "observacao",
            "total_portas")}
        out["reservadas"] = [[n, note] for n, note in self.reservadas.items()]
        out["clientes"] = [[n, c.codigo, c.documento, c.nome, c.observacao]
                           for n, c in self.clientes.items()]
        return out

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> Element:
        plain = {k: v for k, v in data.items() if k not in ("reservadas", "clientes")}
        return cls(**plain, reservadas={int(n): note for n, note in data["reservadas"]},
                   clientes={int(n): Client(*rest) for n, *rest in data["clientes"]})


@dataclass(frozen=True)
class NetworkSeed:
    """What ``POST /_sim/seed`` draws: in project ``projeto``, ``ctos`` CTOs of ``portas`` ports
    (each CTO in design with probability ``em_projeto``, each port reserved with probability
    ``reservadas``), ``ceos`` splice closures and ``postes`` poles, scattered uniformly over the
    disc of ``raio`` metres around (``latitude``, ``longitude``); names ``<prefixo>-0001``...
    (CEO-0001, POSTE-0001). The same values give the same network."""

    projeto: str
    ctos: int = 0
    portas: int = DEFAULT_PORTS
    em_projeto: float = 0.1
    reservadas: float = 0.05
    ceos: int = 0
    postes: int = 0
    latitude: float = -27.5954  # Florianópolis
    longitude: float = -48.5480
    raio: float = 2000.0
    prefixo: str = PREFIXES[CTO]
    seed: int = 0


def distance(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS * math.asin(min(1.0, math.sqrt(h)))


# -- the store ---------------------------------------------------------------------------------


class Store(Counters):
    """Everything the simulated platform holds, plus its counters."""

    def __init__(self) -> None:
        self.default_radius = 300.0  # metres, a setting: the feasibility radius when none is given
        self.reset()

    def reset(self) -> None:
        """Back to an empty platform (no project, no element) and zero counters."""
        self.projects: dict[int, Project] = {}
        self.elements: dict[int, Element] = {}  # by id, in id order
        self.next_project_id = 1
        self.next_element_id = 1
        self._project_ids: dict[str, int] = {}  # nome -> id
        self._names: set[tuple[int, str, str]] = set()  # (projeto, tipo, nome)
        self._client_at: dict[str, tuple[int, int]] = {}  # codigo -> (CTO id, porta)
        self._element_lists: dict[tuple[int | None, str | None], list[Element]] = {}
        self._client_lists: dict[tuple[int | None, str | None], list[tuple[Element, int]]] = {}
        self.reset_counters()
        self.logins = 0

    # -- persistence -------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The platform's data (not its counters, settings or tokens) as JSON-ready objects."""
        return {
            "version": FORMAT_VERSION,
            "next_project_id": self.next_project_id,
            "next_element_id": self.next_element_id,
            "projects": [fields_of(p) for p in self.projects.values()],
            "elements": [e.dump() for e in self.elements.values()],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Store:
        """A store holding what :meth:`to_json` wrote."""
        if data.get("version") != FORMAT_VERSION:
            raise ValueError(f"unsupported geosite store version {data.get('version')!r}")
        store = cls()
        for item in data["projects"]:
            store._hold_project(Project(**item))
        for item in data["elements"]:
            store._hold_element(Element.load(item))
        store.next_project_id = int(data["next_project_id"])
        store.next_element_id = int(data["next_element_id"])
        return store

    # -- projects ----------------------------------------------------------------------------

    def project_listing(self, nome: str | None) -> list[Project]:
        """Every project by id, or the one named exactly ``nome``."""
        if nome is None:
            return list(self.projects.values())
        found = self._project_ids.get(nome)
        return [self.projects[found]] if found is not None else []

    def get_project(self, project_id: int) -> Project:
        return _known(self.projects.get(project_id), "projeto_inexistente",
                      f"Projeto {project_id} inexistente.")

    def project_named(self, nome: str) -> Project:
        """The project named ``nome``, created when there is none (the admin routes' way)."""
        found = self._project_ids.get(nome)
        if found is not None:
            return self.projects[found]
        project = Project(self.next_project_id, nome)
        self.next_project_id += 1
        self._hold_project(project)
        return project

    def _hold_project(self, project: Project) -> None:
        self.projects[project.id] = project
        self._project_ids[project.nome] = project.id

    # -- elements ----------------------------------------------------------------------------

    def element_listing(self, projeto: int | None, tipo: str | None) -> list[Element]:
        """The elements of a project (or all) of a kind (or all), by id; built once per change
        of the network, not per page."""
        if projeto is not None:
            self.get_project(projeto)
        key = (projeto, tipo)
        listing = self._element_lists.get(key)
        if listing is None:
            listing = self._element_lists[key] = [
                e for e in self.elements.values()
                if (projeto is None or e.projeto == projeto) and (tipo is None or e.tipo == tipo)]
        return listing

    def get_element(self, element_id: int) -> Element:
        return _known(self.elements.get(element_id), "elemento_inexistente",
                      f"Elemento {element_id} inexistente.")

    def get_cto(self, cto_id: int) -> Element:
        found = self.elements.get(cto_id)
        return _known(found if found is not None and found.tipo == CTO else None,
                      "cto_inexistente", f"CTO {cto_id} inexistente.")

    def add_elements(self, project: Project, drafts: Iterable[Element]) -> list[Element]:
        """Add new elements to ``project`` (their ``id`` and ``projeto`` are set here); a name
        already taken in the project by an element of the same kind, or twice among them, is a
        409 ``elemento_existente`` and nothing is added."""
        drafts = list(drafts)
        taken = self._first_taken(project, drafts)
        if taken is not None:
            raise ApiError(409, "elemento_existente", f"Já existe {taken[1].upper()} "
                           f"'{taken[2]}' no projeto '{project.nome}'.", nome=taken[2])
        for element in drafts:
            element.id, element.projeto = self.next_element_id, project.id
            self.next_element_id += 1
            self._hold_element(element)
        return drafts

    def _first_taken(self, project: Project,
                     drafts: list[Element]) -> tuple[int, str, str] | None:
        seen: set[tuple[int, str, str]] = set()
        for element in drafts:
            name = (project.id, element.tipo, element.nome)
            if name in self._names or name in seen:
                return name
            seen.add(name)
        return None

    def seed(self, plan: NetworkSeed) -> dict[str, Any]:
        """Draw the network ``plan`` describes into its project (created when absent); what
        was added, counted."""
        project = self.project_named(plan.projeto)
        rng = random.Random(f"{plan.seed}/{plan.projeto}/{plan.prefixo}")
        drafts: list[Element] = []
        for tipo, count, prefix in ((CTO, plan.ctos, plan.prefixo), (CEO, plan.ceos, PREFIXES[CEO]),
                                    (POLE, plan.postes, PREFIXES[POLE])):
            width = max(4, len(str(count)))
            for i in range(1, count + 1):
                lat, lon = _scatter(rng, plan.latitude, plan.longitude, plan.raio)
                element = Element(0, tipo, f"{prefix}-{i:0{width}d}", project.id, lat, lon,
                                  IMPLANTED, None)
                if tipo == CTO:
                    if rng.random() < plan.em_projeto:
                        element.status = IN_DESIGN
                    element.total_portas = plan.portas
                    element.reservadas = {n: RESERVED_NOTE for n in range(1, plan.portas + 1)
                                          if rng.random() < plan.reservadas}
                drafts.append(element)
        added = self.add_elements(project, drafts)
        ctos = [e for e in added if e.tipo == CTO]
        return {
            "projeto": fields_of(project),
            "ctos": len(ctos),
            "ctos_em_projeto": sum(e.status == IN_DESIGN for e in ctos),
            "portas": sum(e.total_portas for e in ctos),
            "portas_reservadas": sum(len(e.reservadas) for e in ctos),
            "ceos": plan.ceos,
            "postes": plan.postes,
            "ids": [added[0].id, added[-1].id] if added else [],
        }

    def _hold_element(self, element: Element) -> None:
        self.elements[element.id] = element
        self._names.add((element.projeto, element.tipo, element.nome))
        for numero, client in element.clientes.items():
            self._client_at[client.codigo] = (element.id, numero)
        self._element_lists.clear()
        self._client_lists.clear()

    # -- clients on ports --------------------------------------------------------------------

    def port(self, cto_id: int, numero: int) -> Element:
        """The CTO, once its port ``numero`` is known to exist."""
        cto = self.get_cto(cto_id)
        if not 1 <= numero <= cto.total_portas:
            raise ApiError(404, "porta_inexistente", f"A CTO {cto.nome} não tem a porta "
                           f"{numero} (portas 1 a {cto.total_portas}).")
        return cto

    def put_client(self, cto_id: int, numero: int, client: Client,
                   replace: bool) -> tuple[bool, Client | None]:
        """Put ``client`` on a port: whether it was placed there by this call (not already
        there), and the client it replaced. A reserved port, a client on another port, or a
        port holding another client without ``replace`` is a 409 and changes nothing."""
        cto = self.port(cto_id, numero)
        key = f"cto/{cto_id}/{numero}"
        if numero in cto.reservadas:
            raise ApiError(409, "porta_reservada", f"A porta {numero} da CTO {cto.nome} está "
                           f"reservada: {cto.reservadas[numero] or 'sem observação'}.")
        where = self._client_at.get(client.codigo)
        if where is not None and where != (cto_id, numero):
            other = self.elements[where[0]]
            raise ApiError(409, "cliente_em_outra_porta", f"O cliente {client.codigo} já está "
                           f"na porta {where[1]} da CTO {other.nome}: remova-o de lá antes.",
                           cto=where[0], porta=where[1])
        current = cto.clientes.get(numero)
        if current is not None and current.codigo == client.codigo:
            if current != client:
                cto.clientes[numero] = client
                self._client_lists.clear()  # the document filter may now choose otherwise
                self.wrote(key, "update")
            return False, None
        if current is not None and not replace:
            raise ApiError(409, "porta_ocupada", f"A porta {numero} da CTO {cto.nome} já tem o "
                           f"cliente {current.codigo}: envie 'substituir': true para trocá-lo.",
                           cliente=fields_of(current))
        if current is not None:
            del self._client_at[current.codigo]
        cto.clientes[numero] = client
        self._client_at[client.codigo] = (cto_id, numero)
        self._client_lists.clear()
        self.wrote(key, "replace" if current is not None else "create")
        return True, current

    def remove_client(self, cto_id: int, numero: int, codigo: str | None) -> Client | None:
        """Free a port; the client removed, or None when it was free. ``codigo``: only if that
        client is the one there (another: 409 ``porta_ocupada``, nothing removed)."""
        cto = self.port(cto_id, numero)
        current = cto.clientes.get(numero)
        if current is None:
            return None
        if codigo is not None and current.codigo != codigo:
            raise ApiError(409, "porta_ocupada", f"A porta {numero} da CTO {cto.nome} tem o "
                           f"cliente {current.codigo}, não {codigo}.", cliente=fields_of(current))
        del cto.clientes[numero]
        del self._client_at[current.codigo]
        self._client_lists.clear()
        self.wrote(f"cto/{cto_id}/{numero}", "delete")
        return current

    def client_listing(self, projeto: int | None,
                       documento: str | None) -> list[tuple[Element, int]]:
        """The occupied ports (CTO, port number) of a project (or all), by CTO id and port,
        optionally only those of one document; built once per change of the clients."""
        if projeto is not None:
            self.get_project(projeto)
        key = (projeto, documento)
        listing = self._client_lists.get(key)
        if listing is None:
            listing = self._client_lists[key] = [
                (cto, n) for cto in self.element_listing(projeto, CTO) for n in sorted(cto.clientes)
                if documento is None or cto.clientes[n].documento == documento]
        return listing

    def find_client(self, codigo: str) -> tuple[Element, int]:
        cto_id, numero = _known(self._client_at.get(codigo), "cliente_inexistente",
                                f"Cliente {codigo} não está em nenhuma porta.")
        return self.elements[cto_id], numero

    def client_wire(self, cto: Element, numero: int) -> dict[str, Any]:
        return {**fields_of(cto.clientes[numero]), "projeto": cto.projeto, "cto": cto.id,
                "cto_nome": cto.nome, "porta": numero}

    # -- feasibility -------------------------------------------------------------------------

    def feasibility(self, lat: float, lon: float, radius: float, projeto: int | None,
                    limit: int) -> list[tuple[float, Element]]:
        """The implanted CTOs with a free port within ``radius`` metres, nearest first (then
        by id), at most ``limit``."""
        band = radius / METRES_PER_DEGREE  # no point further in latitude is within the radius
        near = []
        for cto in self.element_listing(projeto, CTO):
            if (cto.status == IMPLANTED and cto.portas_livres > 0
                    and abs(cto.latitude - lat) <= band):
                metres = distance(lat, lon, cto.latitude, cto.longitude)
                if metres <= radius:
                    near.append((metres, cto))
        near.sort(key=lambda found: (found[0], found[1].id))
        return near[:limit]


def _known(found: T | None, erro: str, mensagem: str) -> T:
    """``found``, or a 404 ``erro`` when there is none."""
    if found is None:
        raise ApiError(404, erro, mensagem)
    return found


def _scatter(rng: random.Random, lat: float, lon: float, radius: float) -> tuple[float, float]:
    """A point drawn uniformly on the disc of ``radius`` metres around (lat, lon), to 6 places
    (about 10 cm)."""
    r, angle = radius * math.sqrt(rng.random()), 2 * math.pi * rng.random()
    dlat = r * math.cos(angle) / METRES_PER_DEGREE
    dlon = r * math.sin(angle) / (METRES_PER_DEGREE * max(math.cos(math.radians(lat)), 1e-6))
    return round(lat + dlat, 6), round(lon + dlon, 6)

