"""Geosite simulator: the network-documentation (GIS) platform whose CTOs HubSoft links client
services to, port by port.

Geosite publishes no API reference, so this wire contract is ours (PLATFORMS.md §6.3: "API
unknown"; the whole of it is in docs/platforms/geosite.md). What is FOUND (seed 001, HubSoft's
mapping integrations, and PLATFORMS.md §6.1, §6.3, §6.5): the integration takes ``api_url``,
``usuario`` and ``senha``; it is linked to exactly one project; the ERP mostly reads the
network (a selection of element kinds, synced daily at 04:00 and on demand) and writes only
informative client data, when a client service is linked to a customer port and when it is
removed from one; clients are identified by CPF/CNPJ and id_cliente_servico; a port holds one
client and reserved ports are not assignable; adding a client to a port holding another removes
the old one; a feasibility search by radius exists for Geosite, and boxes in design are not
viable.

Everything below is ASSUMED (INFERRED) and is the place to correct once a real capture exists:

- Paths under ``/api/v1`` of the ISP's Geosite address; Portuguese field names throughout.
- ``POST /api/v1/auth/login {usuario, senha}`` -> ``{token, tipo: "Bearer", validade (seconds),
  expira_em (ISO 8601 UTC)}``; wrong credentials -> 401 ``credenciais_invalidas``. Every other
  route needs ``Authorization: Bearer <token>``; a bad or expired one -> 401 ``token_invalido``,
  and logging in again is the cure (no refresh token). Tokens live ``token_ttl`` seconds (3600)
  by the simulator's clock and are never persisted.
- Errors are ``{"erro": <code>, "mensagem": <Portuguese text>}`` with real HTTP statuses, plus
  on a 409 what it conflicts with: token_invalido, credenciais_invalidas 401; projeto_inexistente,
  elemento_inexistente, cto_inexistente, porta_inexistente, cliente_inexistente, rota_inexistente
  404; porta_ocupada (``cliente``), porta_reservada, cliente_em_outra_porta (``cto``, ``porta``),
  elemento_existente (admin) 409; json_invalido 400; dados_invalidos, documento_invalido,
  parametro_invalido 422.
- Listings take ``pagina`` (from 1) and ``por_pagina`` (1..1000, default 100) and answer
  ``{itens, pagina, por_pagina, total, paginas}``; a page past the end is empty.
- ``GET /projetos[?nome=]`` (exact name), ``GET /projetos/{id}``: ``{id, nome}``. Projects are
  drawn on the platform, never created through the API.
- Elements: kinds ``cto``, ``ceo`` (splice closure), ``poste``. ``GET /elementos[?projeto=<id>]
  [&tipo=]`` by id, ``GET /elementos/{id}``, ``GET /ctos/{id}`` (a CTO only). An element is
  ``{id, tipo, nome, projeto, latitude, longitude, status: implantado | em_projeto,
  observacao}``; a CTO adds ``total_portas``, ``portas_livres`` and ``portas: [{numero,
  reservada, observacao, cliente: {codigo, documento, nome, observacao} | null}]``. A CTO's
  ports are its customer ports ("portas de atendimento"): no splitter is modelled, so no
  distribution/customer distinction arises. A port is free when neither reserved nor occupied.
- ``PUT /ctos/{id}/portas/{numero}/cliente {codigo, documento, nome, observacao?,
  substituir?}``: ``codigo`` is the ERP's id_cliente_servico, unique on the platform (a client
  is on one port at most); ``documento`` 11 (CPF) or 14 (CNPJ) digits. Free port -> 201; the
  same client there -> 200 (its fields updated, or nothing changes); a reserved port -> 409
  ``porta_reservada``; the client on another port -> 409 ``cliente_em_outra_porta``; another
  client there -> 409 ``porta_ocupada`` unless ``substituir: true`` (201, the old one removed
  and answered as ``substituido``). Allowed on a CTO in design.
- ``DELETE /ctos/{id}/portas/{numero}/cliente[?codigo=]`` -> 200 ``{cto, porta, removido}``; a
  free port -> 200 with ``removido: null`` (so a repeat is harmless); with ``codigo`` another
  client there -> 409 ``porta_ocupada`` and nothing removed.
- ``GET /clientes[?projeto=][&documento=]`` (occupied ports by CTO id, then port) and
  ``GET /clientes/{codigo}``: ``{codigo, documento, nome, observacao, projeto, cto, cto_nome,
  porta}``.
- ``GET /viabilidade?latitude=&longitude=[&raio=][&projeto=][&limite=]``: the implanted CTOs
  with a free port within ``raio`` metres (default ``default_radius``, 300; at most 10,000) by
  great-circle distance, nearest first, ties by id, at most ``limite`` (1..1000, 100): ``{latitude,
  longitude, raio, viavel, ctos: [{id, nome, projeto, latitude, longitude, distancia (metres,
  0.1), total_portas, portas_livres}]}``.

Simulator-only admin endpoints, unauthenticated and never faulted, under ``/_sim/``: counters
(``requests`` per "METHOD /route", ``writes`` per ``cto/<id>/<porta>`` counting only calls
that changed something, ``logins``), reset (empties the platform), config (GET/POST: fault
settings, ``token_ttl``, ``default_radius``), ``tokens/expire``, ``seed`` (a project and N
CTOs drawn from a seed) and ``elementos`` (one element exactly as given).
"""

from __future__ import annotations

import hmac
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import fields
from typing import Any, TypeVar

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reconciler.errors import SecretError
from reconciler.platforms.geosite.sim_store import (
    CTO,
    DEFAULT_PORTS,
    DOCUMENT,
    IMPLANTED,
    KINDS,
    MAX_PORTS,
    MAX_SEEDED,
    STATUSES,
    ApiError,
    Client,
    Element,
    NetworkSeed,
    Store,
)
from reconciler.sim import wire
from reconciler.sim.clock import Clock, iso8601
from reconciler.sim.faults import Faults
from reconciler.sim.records import fields_of
from reconciler.sim.tokens import DEFAULT_TTL, TokenIssuer

PLATFORM = "geosite"
DEFAULT_USERNAME = "sim-user"
API = "/api/v1"
LOGIN = f"{API}/auth/login"
DEFAULT_RADIUS = 300.0
MAX_RADIUS = 10_000.0
SETTINGS = ("token_ttl", "default_radius")
LIMITS = {"codigo": 64, "nome": 200, "observacao": 1000}  # the longest text each field takes
DIALECT = wire.portuguese(ApiError, unauthorized="Token de acesso inválido ou expirado: "
                          "autentique-se novamente.", blank=lambda value: not value.strip())

Sim = wire.LoginSim[Store]
Handler = Callable[[Sim, Request], Awaitable[Response]]
T = TypeVar("T")


def create_app(
    token: str,
    *,
    username: str = DEFAULT_USERNAME,
    clock: Clock | None = None,
    faults: Faults | None = None,
    store: Store | None = None,
    seed: int | None = None,
    token_ttl: float = DEFAULT_TTL,
    default_radius: float = DEFAULT_RADIUS,
) -> Starlette:
    """The simulator as a Starlette app; ``token`` is the password (senha) it accepts for
    ``username`` (usuario).

    ``app.state.store``, ``.faults`` and ``.tokens`` are live. ``store`` resumes a persisted
    platform; ``seed`` seeds the fault layer when ``faults`` is not given (the network is
    seeded through ``POST /_sim/seed``, which takes its own). Tokens live ``token_ttl`` seconds
    by ``clock``.
    """
    store = store if store is not None else Store()
    store.default_radius = _positive(default_radius, "default_radius", MAX_RADIUS)
    tokens = TokenIssuer(_positive(token_ttl, "token_ttl", math.inf), clock)
    sim = Sim(store, faults or Faults(seed=seed), tokens, (username, token))
    return wire.app(sim, DIALECT, _routes(sim))


# What an embedded Geosite starts with (the examples' network): project "Demo FTTH" with 12 CTOs
# of 16 ports, none in design or reserved, and 6 poles.
DEMO_NETWORK = NetworkSeed(projeto="Demo FTTH", ctos=12, portas=16, em_projeto=0.0,
                           reservadas=0.0, postes=6, seed=1)


def embedded_app(credentials: Mapping[str, str], data: Mapping[str, Any] | None) -> Starlette:
    """The app behind an ``endpoint: embedded`` integration, resuming persisted ``data`` (a new
    one holds :data:`DEMO_NETWORK`);
    ``credentials`` are the integration's ``username`` and ``password`` (usuario, senha)."""
    for name in ("username", "password"):
        if not credentials.get(name):
            raise SecretError(f"a geosite integration needs credentials.{name}")
    if data:
        store = Store.from_json(data)
    else:
        store = Store()
        store.seed(DEMO_NETWORK)
    return create_app(credentials["password"], username=credentials["username"], store=store)


def _routes(sim: Sim) -> list[Route]:
    """The platform's routes (bearer token, the login excepted) and the admin ones."""
    port = f"{API}/ctos/{{cto_id:int}}/portas/{{porta:int}}/cliente"
    api: list[tuple[str, str, Handler]] = [
        ("POST", LOGIN, _login),
        ("GET", f"{API}/projetos", _list_projects),
        ("GET", f"{API}/projetos/{{projeto_id:int}}", _get_project),
        ("GET", f"{API}/elementos", _list_elements),
        ("GET", f"{API}/elementos/{{elemento_id:int}}", _get_element),
        ("GET", f"{API}/ctos/{{cto_id:int}}", _get_cto),
        ("PUT", port, _put_client),
        ("DELETE", port, _remove_client),
        ("GET", f"{API}/clientes", _list_clients),
        ("GET", f"{API}/clientes/{{codigo}}", _get_client),
        ("GET", f"{API}/viabilidade", _feasibility),
    ]
    admin = wire.admin_routes(DIALECT, settings=SETTINGS, config=_config, check=_check_settings,
                              tokens=True)
    admin += [("POST", "/_sim/seed", _seed), ("POST", "/_sim/elementos", _add_element)]
    return wire.routes(sim, DIALECT, api, admin, authorized=wire.token_check(sim.tokens),
                       public=(LOGIN,))


# -- request parsing ---------------------------------------------------------------------------

_body, _field, _query_int, _query_choice = (
    DIALECT.body, DIALECT.field, DIALECT.query_int, DIALECT.query_choice)


def _invalid(message: str, code: str = "dados_invalidos") -> ApiError:
    return ApiError(422, code, message)


def _text(body: Mapping[str, Any], name: str, default: Any = ...) -> Any:
    """A text field (blank refused; ``default`` makes it optional), within its length."""
    value = _field(body, name, str) if default is ... else _field(body, name, str, default)
    if isinstance(value, str) and len(value) > LIMITS.get(name, 200):
        raise _invalid(f"Campo '{name}' deve ter no máximo {LIMITS.get(name, 200)} caracteres.")
    return value


def _number(value: Any, name: str, kind: type, low: float, high: float) -> Any:
    """An int (``kind`` int) or a number (float: an int is one too) within low..high."""
    ok = not isinstance(value, bool) and isinstance(value, int if kind is int else int | float)
    if not ok or not low <= value <= high or (kind is float and not math.isfinite(value)):
        what = "um inteiro" if kind is int else "um número"
        raise _invalid(f"Campo '{name}' deve ser {what} entre {low:g} e {high:g}.")
    return float(value) if kind is float else value


def _choice(body: Mapping[str, Any], name: str, choices: Sequence[str], default: str) -> str:
    value = _field(body, name, str, default)
    if value not in choices:
        raise _invalid(f"Campo '{name}' deve ser um de {', '.join(choices)}.")
    return str(value)


def _query_id(request: Request, name: str) -> int | None:
    """An optional id in the query (a whole number >= 1)."""
    raw = request.query_params.get(name) or None
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise DIALECT.refuse("bad_int", name=name, low=1, high=10**9)
    return int(raw)


def _query_number(request: Request, name: str, low: float, high: float,
                  default: float | None = None) -> float:
    raw = request.query_params.get(name) or None
    if raw is None and default is not None:
        return default
    try:
        value = float(raw) if raw is not None else math.nan
    except ValueError:
        value = math.nan
    if not low <= value <= high:  # NaN (absent, not a number) fails too
        raise ApiError(422, "parametro_invalido",
                       f"Parâmetro '{name}' deve ser um número entre {low:g} e {high:g}.")
    return value


def _page(request: Request, items: Sequence[T], show: Callable[[T], Any]) -> JSONResponse:
    """One page of ``items`` (``pagina`` from 1, ``por_pagina`` 1..1000)."""
    page = _query_int(request, "pagina", 1, 1, 10**9)
    size = _query_int(request, "por_pagina", 100, 1, 1000)
    chosen = items[(page - 1) * size:page * size]
    return JSONResponse({"itens": [show(item) for item in chosen], "pagina": page,
                         "por_pagina": size, "total": len(items), "paginas": -(-len(items) // size)})


def _client(body: Mapping[str, Any]) -> Client:
    documento = _field(body, "documento", str)
    if not DOCUMENT.match(documento):
        raise _invalid(f"Documento {documento!r} inválido: o CPF tem 11 dígitos e o CNPJ 14, "
                       "sem pontuação.", "documento_invalido")
    return Client(_text(body, "codigo"), documento, _text(body, "nome"),
                  _text(body, "observacao", None))


# -- auth --------------------------------------------------------------------------------------


async def _login(sim: Sim, request: Request) -> Response:
    body = await _body(request)
    given = (_field(body, "usuario", str), _field(body, "senha", str))
    if not all(hmac.compare_digest(g.encode(), e.encode())
               for g, e in zip(given, sim.login, strict=True)):
        raise ApiError(401, "credenciais_invalidas", "Usuário ou senha inválidos.")
    token, expires_at = sim.tokens.issue()
    sim.store.logins += 1
    ttl = sim.tokens.ttl
    return JSONResponse({"token": token, "tipo": "Bearer",
                         "validade": int(ttl) if float(ttl).is_integer() else ttl,
                         "expira_em": iso8601(expires_at)})


# -- projects and elements ---------------------------------------------------------------------


async def _list_projects(sim: Sim, request: Request) -> Response:
    nome = request.query_params.get("nome") or None
    return _page(request, sim.store.project_listing(nome), fields_of)


async def _get_project(sim: Sim, request: Request) -> Response:
    return JSONResponse(fields_of(sim.store.get_project(request.path_params["projeto_id"])))


async def _list_elements(sim: Sim, request: Request) -> Response:
    tipo = _query_choice(request, "tipo", KINDS)
    listing = sim.store.element_listing(_query_id(request, "projeto"), tipo)
    return _page(request, listing, Element.to_wire)


async def _get_element(sim: Sim, request: Request) -> Response:
    return JSONResponse(sim.store.get_element(request.path_params["elemento_id"]).to_wire())


async def _get_cto(sim: Sim, request: Request) -> Response:
    return JSONResponse(sim.store.get_cto(request.path_params["cto_id"]).to_wire())


# -- clients on ports --------------------------------------------------------------------------


def _port_of(request: Request) -> tuple[int, int]:
    return request.path_params["cto_id"], request.path_params["porta"]


async def _put_client(sim: Sim, request: Request) -> Response:
    cto_id, numero = _port_of(request)
    sim.store.port(cto_id, numero)  # 404 before validating the body
    body = await _body(request)
    client = _client(body)
    placed, replaced = sim.store.put_client(cto_id, numero, client,
                                            _field(body, "substituir", bool, False))
    cto = sim.store.get_cto(cto_id)
    return JSONResponse({"cto": cto_id, "porta": cto.port_wire(numero),
                         "substituido": fields_of(replaced) if replaced is not None else None},
                        201 if placed else 200)


async def _remove_client(sim: Sim, request: Request) -> Response:
    cto_id, numero = _port_of(request)
    removed = sim.store.remove_client(cto_id, numero, request.query_params.get("codigo") or None)
    return JSONResponse({"cto": cto_id, "porta": sim.store.get_cto(cto_id).port_wire(numero),
                         "removido": fields_of(removed) if removed is not None else None})


async def _list_clients(sim: Sim, request: Request) -> Response:
    documento = request.query_params.get("documento") or None
    listing = sim.store.client_listing(_query_id(request, "projeto"), documento)
    return _page(request, listing, lambda where: sim.store.client_wire(*where))


async def _get_client(sim: Sim, request: Request) -> Response:
    return JSONResponse(sim.store.client_wire(*sim.store.find_client(
        request.path_params["codigo"])))


# -- feasibility -------------------------------------------------------------------------------


async def _feasibility(sim: Sim, request: Request) -> Response:
    lat = _query_number(request, "latitude", -90, 90)
    lon = _query_number(request, "longitude", -180, 180)
    radius = _query_number(request, "raio", 1, MAX_RADIUS, sim.store.default_radius)
    limit = _query_int(request, "limite", 100, 1, 1000)
    near = sim.store.feasibility(lat, lon, radius, _query_id(request, "projeto"), limit)
    return JSONResponse({
        "latitude": lat, "longitude": lon, "raio": radius, "viavel": bool(near),
        "ctos": [{"id": cto.id, "nome": cto.nome, "projeto": cto.projeto,
                  "latitude": cto.latitude, "longitude": cto.longitude,
                  "distancia": round(metres, 1), "total_portas": cto.total_portas,
                  "portas_livres": cto.portas_livres} for metres, cto in near],
    })


# -- admin endpoints ---------------------------------------------------------------------------


def _config(sim: Sim) -> dict[str, Any]:
    return {"token_ttl": sim.tokens.ttl, "default_radius": sim.store.default_radius}


def _check_settings(changes: Mapping[str, Any]) -> dict[str, Any]:
    highs = {"token_ttl": math.inf, "default_radius": MAX_RADIUS}
    return {name: _positive(value, name, highs[name]) for name, value in changes.items()}


def _positive(value: Any, name: str, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= high:
        raise ValueError(f"{name} must be a number > 0" + (f" and <= {high:g}"
                                                           if math.isfinite(high) else ""))
    return float(value)


# The numeric fields of a seed: (int or float, lowest, highest).
SEED_NUMBERS: dict[str, tuple[type, float, float]] = {
    "ctos": (int, 0, MAX_SEEDED), "ceos": (int, 0, MAX_SEEDED), "postes": (int, 0, MAX_SEEDED),
    "portas": (int, 1, MAX_PORTS), "em_projeto": (float, 0, 1), "reservadas": (float, 0, 1),
    "latitude": (float, -90, 90), "longitude": (float, -180, 180),
    "raio": (float, 1, 1_000_000), "seed": (int, -(2**63), 2**63 - 1),
}


async def _seed(sim: Sim, request: Request) -> Response:
    """``{projeto, ctos?, portas?, em_projeto?, reservadas?, ceos?, postes?, latitude?,
    longitude?, raio?, prefixo?, seed?}`` (:class:`NetworkSeed`) -> 201 what was added."""
    body = await _body(request)
    unknown = set(body) - {f.name for f in fields(NetworkSeed)}
    if unknown:
        raise _invalid(f"Campos desconhecidos: {', '.join(sorted(unknown))}.")
    given = {name: _number(body[name], name, *SEED_NUMBERS[name])
             for name in SEED_NUMBERS if body.get(name) is not None}
    plan = NetworkSeed(projeto=_text(body, "projeto"),
                       prefixo=_text(body, "prefixo", NetworkSeed.prefixo), **given)
    if plan.ctos + plan.ceos + plan.postes > MAX_SEEDED:
        raise _invalid(f"Um seed cria no máximo {MAX_SEEDED} elementos.")
    return JSONResponse(sim.store.seed(plan), 201)


async def _add_element(sim: Sim, request: Request) -> Response:
    """``{projeto, nome, latitude, longitude, tipo?, status?, observacao?, portas?,
    reservadas?: [numero | {numero, observacao?}]}`` -> 201 the element (its project created
    when absent)."""
    body = await _body(request)
    tipo = _choice(body, "tipo", KINDS, CTO)
    element = Element(0, tipo, _text(body, "nome"), 0,
                      _number(body.get("latitude"), "latitude", float, -90, 90),
                      _number(body.get("longitude"), "longitude", float, -180, 180),
                      _choice(body, "status", STATUSES, IMPLANTED),
                      _text(body, "observacao", None))
    if tipo == CTO:
        ports = body.get("portas")
        element.total_portas = _number(DEFAULT_PORTS if ports is None else ports, "portas", int,
                                       1, MAX_PORTS)
        element.reservadas = _reserved(body.get("reservadas") or [], element.total_portas)
    elif body.get("portas") is not None or body.get("reservadas") is not None:
        raise _invalid("Só uma CTO tem portas.")
    project = sim.store.project_named(_text(body, "projeto"))
    added = sim.store.add_elements(project, [element])
    return JSONResponse(added[0].to_wire(), 201)


def _reserved(given: Any, ports: int) -> dict[int, str | None]:
    if not isinstance(given, list):
        raise _invalid("Campo 'reservadas' deve ser uma lista.")
    out: dict[int, str | None] = {}
    for item in given:
        entry = item if isinstance(item, dict) else {"numero": item}
        numero = _number(entry.get("numero"), "reservadas.numero", int, 1, ports)
        out[numero] = _text(entry, "observacao", None)
    return out
