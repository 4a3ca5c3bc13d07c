"""IXC Soft simulator: the ERP's ``webservice/v1`` API for tables ``cliente`` and
``cliente_contrato``, read-only, as ``reconcile erp export`` reads it.

FOUND (PLATFORMS.md §3.1-§3.2, from public IXC client code):

- Base ``https://<host>/webservice/v1/<table>``; ``Authorization: Basic <base64>`` of the API
  token an IXC user generates (commonly ``"<user_id>:<token>"``; that composition is INFERRED);
  ``Content-Type: application/json``.
- Listing is a POST, or a GET with a body, carrying the header ``ixcsoft: listar`` and a body
  ``{qtype: "<table>.<field>", query, oper: "=" | "L" | ">" | ">=" | "<" | "<=" | "!=", page,
  rp, sortname: "<table>.<field>", sortorder: "asc" | "desc", grid_param}`` (``grid_param``:
  extra AND filters ``[{TB, OP, P}]``). The answer is ``{page, total, registros: [...]}``,
  numbers as strings. A POST without the header is an insert.
- Errors are ``{"type": "error", "message": "..."}``; a query IXC cannot run answers "Ocorreu
  um erro ao processar. Contate o suporte IXC Soft."
- ``cliente_contrato.status``: P, A, I, N, D; ``status_internet``: A, D, CM, CA, FA, AA;
  fields ``id``, ``id_cliente``, ``contrato`` (the plan's name), ``bloqueio_automatico``.

ASSUMED (INFERRED), the place to correct once a real capture exists:

- The token is checked as the whole header ``Basic base64(token)``; a missing or different one
  -> HTTP 401 ``{"type": "error", "message": "Token de acesso inválido."}`` with
  ``www-authenticate: Basic``.
- Error statuses: a query error (unknown table field in ``qtype``/``sortname``/``grid_param``,
  an unknown ``oper`` or ``sortorder``, a ``page`` or ``rp`` that is not a whole number in
  range) and a write answer **HTTP 200** with ``type: error``, as IXC does; a body that is not
  a JSON object -> 400, an unknown route -> 404, a wrong method -> 405, all ``type: error``.
- ``page`` is 1-based (1..10^9), ``rp`` 1..5000 (default 20), either a string or a number; a
  page past the end -> ``registros: []`` with the ``total``. ``registros`` is always present.
  ``page`` and ``total`` come back as strings.
- No ``qtype`` (or an empty one) -> no filter; with a ``qtype`` the filter applies even to an
  empty ``query``. ``oper`` defaults to ``=``. Comparisons: two numbers compare as numbers,
  anything else as text without case (MySQL's default collation); ``L`` is "contains"
  (``LIKE '%query%'``). ``grid_param`` is a JSON text (a list is accepted too) of ``{TB, OP,
  P}`` with ``OP`` defaulting to ``=``; all filters AND. ``sortname`` defaults to
  ``<table>.id``, ``sortorder`` to ``asc``; ties sort by id.
- Rows: ``cliente`` {id, razao, fantasia, cnpj_cpf (formatted 123.456.789-09 or
  12.345.678/0001-90), tipo_pessoa F|J, email, telefone_celular, fone, ativo S|N};
  ``cliente_contrato`` {id, id_cliente, contrato, status, status_internet, bloqueio_automatico
  S|N, data_ativacao YYYY-MM-DD or 0000-00-00, login}. Empty text is "", never null.
- ``login`` (the PPPoE login) is on the contract: real IXC keeps it in ``radusuarios``
  (``login``, ``id_contrato``), a simplification. Products/packages on a contract are not
  simulated (the reader exports none).
- Writes are not simulated: a POST without ``ixcsoft: listar`` (an insert), a PUT or DELETE of
  ``/<table>/<id>`` -> HTTP 200 ``type: error`` saying the simulator is read-only. Other
  tables are unknown routes.

The generated estate (``erp_data.estate(N, seed)``, see :mod:`reconciler.sources.ixc.sim_store`)
maps erp_data's neutral states: enabled -> A/A; suspended_debt -> A/CA (one contract in five N,
negativado); suspended_partial -> A/FA; suspended_request -> A/CM; cancelled -> D or I;
inactive -> I; awaiting -> P or A/AA (alternating by contract id). One client in 50 has no
``telefone_celular`` (half of those a ``fone``), one in 100 no ``email``. Without ``store`` or
``clients``, the ERP starts with ``DEFAULT_CLIENTS`` generated clients.

Simulator-only admin endpoints, unauthenticated and never faulted, under ``/_sim/``: counters
(``requests`` per "METHOD /route", ``writes`` per contract changed), reset (back to the
generated estate, or empty after a load), config (GET/POST: the fault settings), ``POST
/_sim/clients`` ``{"generate": N, "seed": S}`` (1 <= N <= 1,000,000) or ``{"clientes": [...],
"contratos": [...]}`` (wire rows, checked) to replace the estate, and ``PATCH
/_sim/contracts/{id}`` with any of ``{status, status_internet, contrato, login}`` (a write).
Bad admin input -> 422 ``type: error``, an unknown contract -> 404.
"""

from __future__ import annotations

import base64
import hmac
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reconciler.errors import SecretError
from reconciler.sim import wire
from reconciler.sim.faults import Faults
from reconciler.sources.ixc.sim_store import (
    CONTRATO_FIELDS,
    MAX_PAGE,
    MAX_ROWS,
    OPERATORS,
    TABLES,
    ApiError,
    Filter,
    Query,
    Store,
    generic_error,
    wire_row,
)

ERP = "ixc"
API = "/webservice/v1"
DEFAULT_CLIENTS = 50
DEFAULT_ROWS = 20
LISTAR = "listar"
READ_ONLY = "Simulador IXC somente leitura: inserção, alteração e exclusão não são suportadas."
DIALECT = wire.Dialect(
    lambda status, _erro, text: ApiError(status, text),
    {**wire.PORTUGUESE, "unauthorized": "Token de acesso inválido."},
    lambda choices: ", ".join(choices),
    lambda value: not value.strip(),
    challenge="Basic",
)

Sim = wire.Sim[Store]
Handler = Callable[[Sim, Request], Awaitable[Response]]


def create_app(
    token: str,
    *,
    faults: Faults | None = None,
    store: Store | None = None,
    seed: int | None = None,
    clients: int | Mapping[str, Any] | None = None,
) -> Starlette:
    """The simulator as a Starlette app; ``token`` is the ``"<user_id>:<token>"`` text whose
    base64 the ``Authorization: Basic`` header must carry.

    ``app.state.store`` and ``app.state.faults`` are live. ``store`` resumes a persisted ERP;
    otherwise ``clients`` is how many clients to generate (``seed``, default 0, seeds them), or
    ``{"clientes", "contratos"}`` rows to load; 0: an empty ERP; None: ``DEFAULT_CLIENTS``.
    ``seed`` also seeds the fault layer when ``faults`` is not given.
    """
    if not token:
        raise SecretError("the ixc simulator needs a token ('<user_id>:<token>')")
    if store is None:
        store = Store()
        if isinstance(clients, Mapping):
            store.load(clients.get("clientes") or (), clients.get("contratos") or ())
        elif clients != 0:
            store.generate(DEFAULT_CLIENTS if clients is None else clients, seed or 0)
    sim = Sim(store, faults or Faults(seed=seed))
    return wire.app(sim, DIALECT, _routes(sim, token))


def embedded_app(credentials: Mapping[str, str], data: Mapping[str, Any] | None) -> Starlette:
    """The app behind an ``endpoint: embedded`` source, resuming persisted ``data``."""
    token = credentials.get("token")
    if not token:
        raise SecretError("an ixc source needs credentials.token ('<user_id>:<token>')")
    store = Store.from_json(data) if data else None
    return create_app(token, store=store)


def basic_header(token: str) -> str:
    """The ``Authorization`` value for ``token``: ``Basic base64(token)``."""
    return "Basic " + base64.b64encode(token.encode("utf-8")).decode("ascii")


def _routes(sim: Sim, token: str) -> list[Route]:
    """The two tables (listing, and the writes refused), then the admin routes."""
    api: list[tuple[str, str, Handler]] = []
    for table in TABLES:
        path = f"{API}/{table}"
        api += [("GET", path, _lister(table)), ("POST", path, _lister(table)),
                ("PUT", f"{path}/{{id}}", _write), ("DELETE", f"{path}/{{id}}", _write)]
    admin = wire.admin_routes(DIALECT, settings=(), config=lambda _sim: {},
                              check=lambda _changes: {})
    admin += [("POST", "/_sim/clients", _replace_clients),
              ("PATCH", "/_sim/contracts/{id}", _change_contract)]
    return wire.routes(sim, DIALECT, api, admin, authorized=_basic(token))


def _basic(token: str) -> Callable[[Request], bool]:
    """Whether a request carries ``Authorization: Basic base64(token)`` (the static token)."""
    expected = basic_header(token).partition(" ")[2].encode("ascii")

    def authorized(request: Request) -> bool:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "basic" and hmac.compare_digest(given.strip().encode(), expected)

    return authorized


# -- the API -----------------------------------------------------------------------------------


def _lister(table: str) -> Handler:
    async def listing(sim: Sim, request: Request) -> Response:
        if request.headers.get("ixcsoft", "").strip().lower() != LISTAR:
            if request.method == "POST":
                return await _write(sim, request)  # an insert
            raise ApiError(200, "Para listar registros envie o cabeçalho 'ixcsoft: listar'.")
        query = _query(table, await DIALECT.body(request))
        rows, total = sim.store.listing(table, query)
        return JSONResponse({"page": str(query.page), "total": str(total), "registros": rows})

    return listing


async def _write(sim: Sim, request: Request) -> Response:
    raise ApiError(200, READ_ONLY)


def _query(table: str, body: Mapping[str, Any]) -> Query:
    """A listing body, checked; anything IXC could not run is its generic error."""
    filters = []
    qtype = body.get("qtype")
    if qtype not in (None, ""):
        filters.append(Filter(_column(table, qtype), _oper(body.get("oper")),
                              _value(body.get("query", ""))))
    filters += _grid(table, body.get("grid_param"))
    sortname = body.get("sortname")
    order = body.get("sortorder") or "asc"
    if not isinstance(order, str) or order.lower() not in ("asc", "desc"):
        raise generic_error()
    return Query(
        filters=tuple(filters),
        sortname=_column(table, sortname) if sortname not in (None, "") else "id",
        descending=order.lower() == "desc",
        page=_number(body.get("page"), 1, MAX_PAGE, 1),
        rp=_number(body.get("rp"), 1, MAX_ROWS, DEFAULT_ROWS),
    )


def _column(table: str, value: Any) -> str:
    """The field of ``"<table>.<field>"``, which must be one of this table's."""
    if not isinstance(value, str):
        raise generic_error()
    prefix, dot, name = value.strip().partition(".")
    if not dot or prefix != table or name not in TABLES[table]:
        raise generic_error()
    return name


def _oper(value: Any) -> str:
    oper = "=" if value in (None, "") else value
    if oper not in OPERATORS:
        raise generic_error()
    return str(oper)


def _value(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise generic_error()
    return str(value)


def _number(value: Any, low: int, high: int, default: int) -> int:
    if value in (None, ""):
        return default
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise generic_error()
    return value


def _grid(table: str, value: Any) -> list[Filter]:
    """``grid_param``: a JSON text (or a list) of ``{TB, OP, P}`` AND filters."""
    if value in (None, "", []):
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            raise generic_error() from None
    if not isinstance(value, list):
        raise generic_error()
    out = []
    for item in value:
        if not isinstance(item, Mapping):
            raise generic_error()
        out.append(Filter(_column(table, item.get("TB")), _oper(item.get("OP")),
                          _value(item.get("P", ""))))
    return out


# -- admin endpoints ---------------------------------------------------------------------------


async def _replace_clients(sim: Sim, request: Request) -> Response:
    body = await DIALECT.body(request)
    try:
        if "generate" in body:
            if set(body) - {"generate", "seed"}:
                raise ValueError("give {generate, seed} or {clientes, contratos}, not both")
            sim.store.generate(body["generate"], body.get("seed", 0))
        elif set(body) <= {"clientes", "contratos"} and "clientes" in body:
            sim.store.load(body["clientes"], body.get("contratos") or ())
        else:
            raise ValueError("give {generate: N, seed: S} or {clientes: [...], contratos: [...]}")
    except ValueError as exc:
        raise DIALECT.refuse("bad_setting", reason=str(exc)) from None
    return JSONResponse({"clientes": len(sim.store.clientes),
                         "contratos": len(sim.store.contratos)})


async def _change_contract(sim: Sim, request: Request) -> Response:
    raw = str(request.path_params["id"])
    contract_id = int(raw) if raw.isdigit() else -1
    if contract_id not in sim.store.contratos:
        raise ApiError(404, f"Contrato {raw} não encontrado.")
    body = await DIALECT.body(request)
    try:
        contrato = sim.store.change_contract(contract_id, body)
    except ValueError as exc:
        raise DIALECT.refuse("bad_setting", reason=str(exc)) from None
    return JSONResponse(wire_row(contrato, CONTRATO_FIELDS))
