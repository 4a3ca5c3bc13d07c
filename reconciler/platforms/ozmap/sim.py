"""OZmap simulator: the fibre-network documentation platform (API v2) HubSoft links client
services to splitter ports on (PLATFORMS.md §6; seed 001). The whole contract, source by source,
is in docs/platforms/ozmap.md.

What is FOUND (the public SDK ``ozmap/ozmap-sdk``: ``src/util/Api.ts``, ``src/proxy/*``,
``src/interface/**``, ``docs/*.md``; ``ozmap/node-red-contrib-ozmap``; OZmap's integration pages
for SGP, RBX, Telco, Odoo and OZneutral; PLATFORMS.md §6.2):

- every route under ``/api/v2``; the API key sent raw in ``Authorization`` (no scheme), or
  ``POST /api/v2/users/login?type=API {login, password}`` -> ``{authorization}`` whose value is
  then sent the same way; a client re-logs in once on a 401;
- listings ``GET /<resource>?page=&limit=&select=&populate=`` with ``{filter, sort}`` in the GET
  body (or, in the old SDK's URL mode, ``filter``/``sort`` as JSON query parameters), answered
  ``{total, count, start, limit, rows, hasNextPage, nextUrl}``; the SDK's ``findAll`` asks pages
  of 100 until one is empty; ``limit=-1`` (the old SDK's ``getAllByFilter``) is everything;
  filter items ``{property, operator, value}`` with the operators ``=``, ``!=``, ``like``, ``<``,
  ``<=``, ``>``, ``>=``, ``in``, ``notin``, ``all``, ``exists``, ``near``; nested arrays are OR
  groups; sort ``{property, direction: 1 | -1}``;
- ``GET``/``PATCH``/``DELETE`` ``/<resource>/{id}``, ``POST /<resource>``; PATCH answers no body;
  an unknown id is 404; ids are 24-hex ObjectIds; every record has ``id``, ``external_id``,
  ``createdAt``, ``updatedAt``, ``creatorData {id, name, username}``; re-sending a record's own
  ``external_id`` on a PATCH is refused (the SDK strips it for that reason);
- the fields of projects, boxes (``coords [lng, lat]``, ``implanted``, ``draft``,
  ``default_reserve``...), splitters (``parent``, ``isDrop``, ``ratio``, ``implanted``,
  ``connectables {input, output}`` with null for a free port and the connected fibre's id
  otherwise, ``ports [{id, blocked, tags}]``), properties (``client``, ``box``, ``drop``,
  ``connections [{id, name, kind, port (from 1), implanted, fiber}]``, ``history.clients``;
  created with ``connector`` + ``port``, ``auto_connect``, ``force``) and FTTH clients (``code``,
  ``name``, ``observation``, ``implanted``, ``certified``, ``status`` 0 = OK / 1 = ERROR,
  ``onu {user_PPPoE, serial_number, mac_address}``); ``ftth-clients/batch-update``;
- a port occupied by a client or a property refuses another; a removed client leaves its
  property, which keeps occupying the port; viability by radius lists the boxes not in design
  ("em projeto") with a customer splitter holding free ports, by straight-line distance, the
  radius defaulting to a tenant setting.

Everything below is ASSUMED (INFERRED) and is the place to correct once a real capture exists:

- Errors: ``{"message", "code", "errors": [{"message", "field"?}]}`` (the SDK's
  ``CustomError.serializeErrors`` gives ``[{message, field?}]``) with real statuses: 400
  INVALID_JSON, INVALID_ID, INVALID_FILTER, INVALID_SORT, INVALID_QUERY; 401 UNAUTHORIZED,
  INVALID_CREDENTIALS; 404 NOT_FOUND; 409 PORT_IN_USE, PORT_BLOCKED, PORT_RESERVED, NO_FREE_PORT,
  DUPLICATE_CODE, DUPLICATE_EXTERNAL_ID, DUPLICATE_NAME, DUPLICATE_ID, CLIENT_IN_USE, IN_USE;
  413 PAYLOAD_TOO_LARGE; 422 VALIDATION_ERROR. No ``www-authenticate`` challenge.
- Login tokens live ``token_ttl`` seconds (3600) and are never persisted; the API key never
  expires. ``GET /api/v2/authenticated`` (the old SDK's key check) answers
  ``{"authenticated": true}``.
- Listings: ``limit`` defaults to 100; ``nextUrl`` is the path and query of the next page;
  ``select`` names top-level fields (comma or space separated; ``id`` always kept);
  ``populate`` replaces ``project``/``box``/``parent``/``client`` by their record; records come
  in creation order unless sorted (a ``near`` filter sorts by distance). ``like`` is a
  case-insensitive substring, or an SQL pattern when it holds ``%`` or ``_``; ``ne`` is ``!=``.
- Creates answer 201 with the record; DELETE answers 200 with the deleted record; PATCH 204.
- Project names and FTTH client codes are unique. A splitter's ``ports`` entries also carry
  ``index`` and ``observation``; a box's ``default_reserve`` reserves the last ports of each of
  its customer splitters, which only ``force: true`` takes (never a blocked or occupied port).
  A property connects to a port of any splitter (a network drawn without ``isDrop`` has its
  customers on unflagged splitters, which an integration's ``customer_splitters`` names);
  ``auto_connect`` and viability take ``isDrop`` splitters only: ``auto_connect`` the first
  free port of the ``connector`` or of the ``box``'s customer splitters. Connecting makes a drop
  cable and a fibre id (the fibre is what ``connectables.output`` holds). A property PATCH with
  ``connector: null`` frees its port; with another ``connector``/``port`` moves it. Deleting a
  property frees its port and keeps its client; deleting a box, splitter or project still in use
  is 409 IN_USE.
- Viability: ``{viable, lat, lng, radius, boxes: [{id, name, project, coords, lat, lng,
  implanted, distance, availablePorts, splitters: [{id, name, ratio, availablePorts: [n]}]}],
  boxesWithoutViability: [{..., reason: not_implanted | draft | no_customer_splitter |
  no_free_port}]}``; radius default 250 m (``viability_radius``), at most 50 km.

Simulator-only admin endpoints, unauthenticated and never faulted, under ``/_sim/``: counters,
reset, config (GET/POST: fault settings, ``token_ttl``, ``viability_radius``), ``tokens/expire``
and ``seed`` (bulk records and/or a generated network, :meth:`Store.seed`).
"""

from __future__ import annotations

import hmac
import json
import math
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reconciler.errors import SecretError
from reconciler.platforms.ozmap.sim_store import (
    CLIENTS,
    DEFAULT_RADIUS,
    MAX_RADIUS,
    OBJECT_ID,
    RESOURCES,
    ApiError,
    Query,
    Store,
)
from reconciler.sim import wire
from reconciler.sim.clock import Clock
from reconciler.sim.faults import Faults
from reconciler.sim.tokens import DEFAULT_TTL, TokenIssuer

PLATFORM = "ozmap"
API = "/api/v2"
LOGIN = f"{API}/users/login"
DEFAULT_USERNAME = "sim-user"
DEFAULT_PASSWORD = "sim-password"
DEFAULT_LIMIT = 100
SETTINGS = ("token_ttl", "viability_radius")
# the shared refusals' codes (wire.py's Portuguese ones) as this dialect names them
CODES = {"token_invalido": "UNAUTHORIZED", "json_invalido": "INVALID_JSON",
         "dados_invalidos": "VALIDATION_ERROR", "parametro_invalido": "INVALID_QUERY",
         "requisicao_muito_grande": "PAYLOAD_TOO_LARGE", wire.NO_ROUTE: "NOT_FOUND"}
DIALECT = wire.Dialect(
    lambda status, erro, text: ApiError(status, CODES.get(erro, erro), text),
    {**wire.ENGLISH, "unauthorized": "missing, invalid or expired authorization"},
    ", ".join, lambda value: not value.strip(), challenge=None)


@dataclass
class Sim(wire.LoginSim[Store]):
    """The shared login simulator (``login`` is the user's (login, password)) plus the API
    key, which never expires."""

    api_key: str


Handler = Callable[[Sim, Request], Awaitable[Response]]


def create_app(
    token: str,
    *,
    username: str = DEFAULT_USERNAME,
    password: str = DEFAULT_PASSWORD,
    clock: Clock | None = None,
    faults: Faults | None = None,
    store: Store | None = None,
    seed: int | None = None,
    token_ttl: float = DEFAULT_TTL,
    viability_radius: float | None = None,
    network: Mapping[str, Any] | None = None,
) -> Starlette:
    """The simulator as a Starlette app; ``token`` is the API key it accepts.

    ``app.state.store``, ``.faults`` and ``.tokens`` (the login tokens) are live. ``username``
    and ``password`` are what ``users/login`` accepts. ``store`` resumes a persisted platform;
    for a new one, ``network`` is a seed body (``/_sim/seed``'s) applied now and on every reset.
    ``seed`` seeds the fault layer when ``faults`` is not given.
    """
    if store is None:
        store = Store(clock=clock, viability_radius=viability_radius or DEFAULT_RADIUS,
                      network=network)
    else:
        if clock is not None:
            store.clock = clock
        if viability_radius is not None:
            store.viability_radius = _radius(viability_radius, "viability_radius")
    tokens = TokenIssuer(wire.seconds(token_ttl, "token_ttl"), store.clock)
    sim = Sim(store, faults or Faults(seed=seed), tokens, (username, password), token)
    return wire.app(sim, DIALECT, _routes(sim))


# What an embedded OZmap starts with (the examples' network): project "Demo FTTH", 12 boxes of
# a 1x16 customer splitter (the last 2 ports reserved) and a 1x8 distribution one, CTO-0006 and
# CTO-0012 in design.
DEMO_NETWORK = {"generate": {"project": "Demo FTTH", "boxes": 12, "ports": 16, "reserve": 2,
                             "design_every": 6, "distribution": True, "seed": 1}}


def embedded_app(credentials: Mapping[str, str], data: Mapping[str, Any] | None) -> Starlette:
    """The app behind an ``endpoint: embedded`` integration, resuming persisted ``data`` (a new
    one holds :data:`DEMO_NETWORK`): the integration's ``api_key``, or its ``username`` and
    ``password`` (the login), or both."""
    api_key = credentials.get("api_key") or ""
    username, password = credentials.get("username") or "", credentials.get("password") or ""
    if not api_key and not (username and password):
        raise SecretError("an ozmap integration needs credentials.api_key, or "
                          "credentials.username and credentials.password")
    store = Store.from_json(data) if data else Store(network=DEMO_NETWORK)
    return create_app(api_key or secrets.token_urlsafe(32),
                      username=username or secrets.token_urlsafe(16),
                      password=password or secrets.token_urlsafe(32), store=store)


def _routes(sim: Sim) -> list[Route]:
    api: list[tuple[str, str, Handler]] = [
        ("POST", LOGIN, _login),
        ("GET", f"{API}/authenticated", _authenticated),
        ("POST", f"{API}/{CLIENTS}/batch-update", _batch_update),
        ("GET", f"{API}/ftth-viability/radius", _viability),
    ]
    for resource in RESOURCES:
        base = f"{API}/{resource}"
        api += [("GET", base, _lister(resource)), ("POST", base, _creator(resource)),
                ("GET", base + "/{id}", _getter(resource)),
                ("PATCH", base + "/{id}", _patcher(resource)),
                ("DELETE", base + "/{id}", _deleter(resource))]
    admin = wire.admin_routes(DIALECT, settings=SETTINGS, config=_config, check=_check_settings,
                              tokens=True)
    admin.append(("POST", "/_sim/seed", _seed))
    return wire.routes(sim, DIALECT, api, admin, authorized=_authorized(sim), public=(LOGIN,))


def _authorized(sim: Sim) -> Callable[[Request], bool]:
    """The raw ``Authorization`` header: the API key, or a live login token."""
    key = sim.api_key.encode()

    def authorized(request: Request) -> bool:
        given = request.headers.get("authorization") or ""
        return bool(given) and (hmac.compare_digest(given.encode(), key)
                                or sim.tokens.valid(given))

    return authorized


# -- request parsing ---------------------------------------------------------------------------


def _bad_query(name: str, text: str) -> ApiError:
    return ApiError(400, "INVALID_QUERY", f"parameter '{name}' {text}", name)


def _whole(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name) or ""
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise _bad_query(name, "must be a whole number >= 1")
    return int(raw)


def _paging(request: Request) -> tuple[int, int | None]:
    """``page`` (from 1) and ``limit`` (None for ``-1``: everything)."""
    if request.query_params.get("limit") == "-1":
        return 1, None
    return _whole(request, "page", 1), _whole(request, "limit", DEFAULT_LIMIT)


def _names(request: Request, name: str) -> list[str]:
    return [part for part in re.split(r"[\s,]+", request.query_params.get(name) or "") if part]


def _json_param(request: Request, name: str) -> Any:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise _bad_query(name, "must be JSON") from None


async def _query(request: Request) -> Query:
    """The listing's filter and sort: from the GET body, else from the query string."""
    raw = await request.body()
    data: Any = {}
    if raw.strip():
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            raise DIALECT.refuse("not_json") from None
        if not isinstance(data, dict):
            raise DIALECT.refuse("not_object")
    filter_raw = data.get("filter")
    sort_raw = data.get("sort")
    return Query(_json_param(request, "filter") if filter_raw is None else filter_raw,
                 _json_param(request, "sort") if sort_raw is None else sort_raw)


def _id(request: Request) -> str:
    record_id = str(request.path_params["id"])
    if not OBJECT_ID.match(record_id):
        raise ApiError(400, "INVALID_ID", f"{record_id!r} is not an id (24 hexadecimal digits)",
                       "id")
    return record_id


def _next_url(request: Request, page: int, limit: int) -> str:
    params = {**request.query_params, "page": str(page + 1), "limit": str(limit)}
    return f"{request.url.path}?{urlencode(params)}"


def _number(request: Request, name: str, default: float | None = None) -> float | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise _bad_query(name, "must be a number")
    return value


# -- platform endpoints ------------------------------------------------------------------------


async def _login(sim: Sim, request: Request) -> Response:
    """``{login, password}``; other keys (the SDK posts its whole options object) are ignored."""
    body = await DIALECT.body(request)
    given = (DIALECT.field(body, "login", str), DIALECT.field(body, "password", str))
    if not all(hmac.compare_digest(g.encode(), e.encode())
               for g, e in zip(given, sim.login, strict=True)):
        raise ApiError(401, "INVALID_CREDENTIALS", "invalid login or password")
    token, _ = sim.tokens.issue()
    sim.store.logins += 1
    return JSONResponse({"authorization": token})


async def _authenticated(sim: Sim, request: Request) -> Response:
    return JSONResponse({"authenticated": True})


def _lister(resource: str) -> Handler:
    async def handler(sim: Sim, request: Request) -> Response:
        page, limit = _paging(request)
        query = await _query(request)
        start = 0 if limit is None else (page - 1) * limit
        rows, total = sim.store.listing(resource, query, start, limit)
        select, populate = _names(request, "select"), _names(request, "populate")
        more = start + len(rows) < total
        return JSONResponse({
            "total": total, "count": len(rows), "start": start,
            "limit": -1 if limit is None else limit,
            "rows": [sim.store.shape(resource, row, select, populate) for row in rows],
            "hasNextPage": more,
            "nextUrl": _next_url(request, page, limit) if more and limit else None,
        })

    return handler


def _getter(resource: str) -> Handler:
    async def handler(sim: Sim, request: Request) -> Response:
        record = sim.store.get(resource, _id(request))
        return JSONResponse(sim.store.shape(resource, record, _names(request, "select"),
                                            _names(request, "populate")))

    return handler


def _creator(resource: str) -> Handler:
    async def handler(sim: Sim, request: Request) -> Response:
        record = sim.store.create(resource, await DIALECT.body(request))
        return JSONResponse(record, 201)

    return handler


def _patcher(resource: str) -> Handler:
    async def handler(sim: Sim, request: Request) -> Response:
        record_id = _id(request)
        sim.store.get(resource, record_id)  # 404 before the body is looked at
        sim.store.update(resource, record_id, await DIALECT.body(request))
        return Response(status_code=204)

    return handler


def _deleter(resource: str) -> Handler:
    async def handler(sim: Sim, request: Request) -> Response:
        return JSONResponse(sim.store.delete(resource, _id(request)))

    return handler


async def _batch_update(sim: Sim, request: Request) -> Response:
    """``{filter, data: {implanted?, certified?, status?}}`` -> ``{matched, modified}``."""
    body = await DIALECT.body(request)
    matched, modified = sim.store.batch_update_clients(Query(body.get("filter"), None),
                                                        body.get("data"))
    return JSONResponse({"matched": matched, "modified": modified})


async def _viability(sim: Sim, request: Request) -> Response:
    lat, lng = _number(request, "lat"), _number(request, "lng")
    if lat is None or lng is None or not (-90 <= lat <= 90 and -180 <= lng <= 180):
        raise _bad_query("lat", "and 'lng' are required: -90 <= lat <= 90, -180 <= lng <= 180")
    radius = _number(request, "radius")
    if radius is not None and not 0 < radius <= MAX_RADIUS:
        raise _bad_query("radius", f"must be metres, more than 0 and at most {MAX_RADIUS:g}")
    project = request.query_params.get("project") or None
    if project is not None and not OBJECT_ID.match(project):
        raise _bad_query("project", "must be an id (24 hexadecimal digits)")
    return JSONResponse(sim.store.viability(lat, lng, radius, project))


# -- admin endpoints ---------------------------------------------------------------------------


async def _seed(sim: Sim, request: Request) -> Response:
    return JSONResponse(sim.store.seed(await DIALECT.body(request)))


def _config(sim: Sim) -> dict[str, Any]:
    return {"token_ttl": sim.tokens.ttl, "viability_radius": sim.store.viability_radius}


def _check_settings(changes: Mapping[str, Any]) -> dict[str, Any]:
    return {name: (wire.seconds if name == "token_ttl" else _radius)(value, name)
            for name, value in changes.items()}


def _radius(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= MAX_RADIUS:
        raise ValueError(f"{name} must be metres, more than 0 and at most {MAX_RADIUS:g}")
    return float(value)
