"""HubSoft simulator: the ERP whose clients and client services ``reconcile erp export`` reads.

FOUND (PLATFORMS.md §2, from HubSoft's integration docs and Postman collection):

- ``POST /oauth/token`` with JSON ``{grant_type: "password", client_id, client_secret, username,
  password}`` -> 200 ``{access_token, expires_in: 2592000, refresh_token, token_type: "Bearer"}``;
  wrong credentials -> HTTP 401 ``{error: "invalid_credentials", error_description, message}``.
  Every other call sends ``Authorization: Bearer <access_token>``; without it -> HTTP 401.
- Envelopes: ``{"status": "success", "msg", <collection>}``; errors ``{"status": "error", "msg",
  "errors"}``, validation errors with **HTTP 200** ("Favor preencher os campos obrigatórios...").
- ``GET /api/v1/integracao/cliente/todos``: ``pagina`` (0-based) and ``itens_por_pagina``
  (1..500) both required; the answer adds ``paginacao {primeira_pagina, ultima_pagina,
  pagina_atual, total_registros}``; an optional ``cancelado`` filter (``sim``/``nao``).
- The client fields (``id_cliente``, ``codigo_cliente``, ``nome_razaosocial``,
  ``nome_fantasia``, ``tipo_pessoa`` pf|pj, ``cpf_cnpj`` digits, ``telefone_primario``,
  ``email_principal``, ``data_cadastro``, ``servicos``) and the service fields
  (``id_cliente_servico``, ``id_servico``, ``numero_plano``, ``nome``, ``valor``, ``status``
  label, ``status_prefixo``, ``tecnologia``, ``login``, ``referencia``, ``pacotes [{id_pacote,
  codigo, descricao, valor (text)}]``, ``porta_atendimento {numero, equipamento}``).
- ``GET /api/v1/integracao/configuracao/servico_status`` -> ``{id_servico_status, descricao,
  prefixo}`` for the 13 statuses (:data:`reconciler.sources.hubsoft.STATUSES`).

ASSUMED (INFERRED; the place to correct once a real capture exists):

- One secret: ``token`` is both the ``client_secret`` and the user's ``password`` the login
  accepts, unless ``password`` is given apart. Wrong client or wrong user both answer
  ``invalid_credentials``. A grant other than ``password``/``refresh_token`` -> 400
  ``unsupported_grant_type``; missing fields or an unreadable body -> 400 ``invalid_request``.
  The body may be JSON or form-encoded (Laravel Passport reads both).
- ``grant_type: "refresh_token"`` (Laravel Passport style, never documented by HubSoft) with
  ``refresh_token``, ``client_id``, ``client_secret``: a new pair, the old refresh token revoked;
  an unknown, used or expired one -> 401 ``invalid_request`` "The refresh token is invalid.".
  Refresh tokens live twice ``token_ttl``; the old access token stays valid until it expires.
  ``/_sim/tokens/expire`` invalidates access tokens only (a "system update" revoking them).
- A missing, unknown, expired or revoked bearer token -> 401 ``{"message": "Unauthenticated."}``
  (Laravel's auth guard), no ``www-authenticate`` header.
- ``cliente/todos`` without ``cancelado`` lists every client; ``cancelado=sim`` only the clients
  all of whose services are cancelled, ``nao`` the others (a client without services counts as
  not cancelled); services are never filtered inside a client. Clients come in ``id_cliente``
  order; a page past the end is a success with no clients; ``ultima_pagina`` is
  ``max(0, ceil(total / itens_por_pagina) - 1)``. A missing, non-integer or out-of-range
  ``pagina`` (0..10^9) / ``itens_por_pagina`` (1..500) or another ``cancelado`` value -> HTTP 200
  ``{"status": "error", "msg": "Favor preencher os campos obrigatórios...", "errors": [...]}``,
  one Portuguese line per problem.
- ``valor`` of a service is a number, of a package a text; ``id_servico_status`` numbers the
  statuses alphabetically from 1; ``senha`` is never sent (the simulator never keeps one).
  A generated estate's plan and package catalog is in :mod:`.sim_store`.
- Unknown routes answer 404 ``{"status": "error", "msg", "errors"}``.

Simulator-only admin endpoints, unauthenticated and never faulted, under ``/_sim/``: counters
(``requests`` per "METHOD /route", ``writes`` per id_cliente_servico, ``logins``,
``refreshes``), reset (an ERP without clients), config (GET/POST: fault settings,
``token_ttl``), ``tokens/expire``, ``POST /_sim/clients`` (``{"generate": N, "seed": S}``, N in 0..1,000,000:
the estate becomes :func:`reconciler.sim.erp_data.estate` (N, S) in HubSoft's shape; or
``{"clientes": [...]}`` in the wire shape, checked) and ``PATCH /_sim/services/{id}`` (any of
``status_prefixo``, ``login``, ``nome``, ``pacotes``: an ERP change between two exports).
"""

from __future__ import annotations

import dataclasses
import hmac
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reconciler.errors import SecretError
from reconciler.sim import wire
from reconciler.sim.clock import Clock
from reconciler.sim.faults import Faults
from reconciler.sim.tokens import TokenIssuer
from reconciler.sources.hubsoft import STATUSES
from reconciler.sources.hubsoft.sim_store import (
    STATUS_IDS,
    ApiError,
    Store,
    StoreClock,
    generated,
    load_clients,
    packages,
    status_prefixo,
)

ERP = "hubsoft"
DEFAULT_CLIENT_ID = "sim-client"
DEFAULT_USERNAME = "sim@isp.example"
DEFAULT_TTL = 2592000.0  # 30 days, as HubSoft announces
EMBEDDED_CLIENTS = 100  # the estate of an embedded ERP opened without saved data (seed 0)
LOGIN = "/oauth/token"
API = "/api/v1/integracao"
CLIENTS = f"{API}/cliente/todos"
MAX_PAGE_SIZE = 500
MAX_PAGE = 10**9
REQUIRED = "Favor preencher os campos obrigatórios corretamente."
SERVICE_FIELDS = ("status_prefixo", "login", "nome", "pacotes")

DIALECT = dataclasses.replace(
    wire.portuguese(lambda status, _erro, text: ApiError(status, text),
                    unauthorized="Unauthenticated.", blank=lambda value: not value.strip()),
    challenge=None,
)


@dataclasses.dataclass
class Sim(wire.LoginSim[Store]):
    """The shared login simulator (``login`` is (client_id, client_secret)) plus the user's
    credentials and the refresh tokens."""

    username: str = DEFAULT_USERNAME
    password: str = ""
    refresh: TokenIssuer = dataclasses.field(default_factory=TokenIssuer)


Handler = Callable[[Sim, Request], Awaitable[Response]]


def create_app(
    token: str,
    *,
    client_id: str = DEFAULT_CLIENT_ID,
    username: str = DEFAULT_USERNAME,
    password: str | None = None,
    clock: Clock | None = None,
    faults: Faults | None = None,
    store: Store | None = None,
    seed: int | None = None,
    token_ttl: float = DEFAULT_TTL,
    clients: int | Sequence[Mapping[str, Any]] | None = None,
) -> Starlette:
    """The simulator as a Starlette app. ``token`` is the client_secret it accepts, and the
    user's password too unless ``password`` is given.

    ``clients`` is the estate: a number of generated clients (of ``seed``, 0 when None) or
    clients in the wire shape; None keeps ``store``'s (an empty ERP without one). ``seed`` also
    seeds the fault layer when ``faults`` is not given. ``app.state.store``, ``.faults`` and
    ``.tokens`` are live.
    """
    ttl = wire.seconds(token_ttl, "token_ttl")
    if store is None:
        store = Store(clock=clock)
    if clock is not None:
        store.clock = clock
    if isinstance(clients, int):
        store.replace(generated(clients, seed or 0))
    elif clients is not None:
        store.replace(load_clients(list(clients)))
    tokens = TokenIssuer(ttl, StoreClock(store))
    sim = Sim(store, faults or Faults(seed=seed), tokens, (client_id, token), username=username,
              password=token if password is None else password,
              refresh=TokenIssuer(2 * ttl, StoreClock(store)))
    return wire.app(sim, DIALECT, _routes(sim))


def embedded_app(credentials: Mapping[str, str], data: Mapping[str, Any] | None) -> Starlette:
    """The app behind an ``endpoint: embedded`` ERP source, resuming persisted ``data`` (without
    any: :data:`EMBEDDED_CLIENTS` generated clients, seed 0). It accepts the source's own four
    credentials."""
    names = ("client_id", "client_secret", "username", "password")
    missing = [name for name in names if not credentials.get(name)]
    if missing:
        raise SecretError(f"a hubsoft ERP source needs credentials "
                          f"{', '.join(f'credentials.{name}' for name in missing)}")
    store = Store.from_json(data) if data else Store()
    return create_app(credentials["client_secret"], client_id=credentials["client_id"],
                      username=credentials["username"], password=credentials["password"],
                      store=store, clients=None if data else EMBEDDED_CLIENTS)


def _routes(sim: Sim) -> list[Route]:
    api: list[tuple[str, str, Handler]] = [
        ("POST", LOGIN, _login),
        ("GET", CLIENTS, _list_clients),
        ("GET", f"{API}/configuracao/servico_status", _statuses),
    ]
    admin = wire.admin_routes(DIALECT, settings=("token_ttl",), config=_config,
                              check=_check_settings, tokens=True, extra_counters=("refreshes",))
    admin += [("POST", "/_sim/clients", _load),
              ("PATCH", "/_sim/services/{id_cliente_servico:int}", _change_service)]
    return wire.routes(sim, DIALECT, api, admin, authorized=wire.token_check(sim.tokens),
                       public=(LOGIN,))


# -- auth --------------------------------------------------------------------------------------


def _oauth_error(status: int, error: str, text: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": text, "message": text}, status)


def _same(given: Any, expected: str) -> bool:
    return isinstance(given, str) and hmac.compare_digest(given.encode(), expected.encode())


async def _login(sim: Sim, request: Request) -> Response:
    """The password grant, or a refresh; answers in OAuth's own error format."""
    form = await wire.login_form(request)
    if form is None:
        return _oauth_error(400, "invalid_request", "The request is missing a required parameter.")
    grant = form.get("grant_type")
    if grant not in ("password", "refresh_token"):
        return _oauth_error(400, "unsupported_grant_type",
                            "The authorization grant type is not supported.")
    needed = ["client_id", "client_secret"]
    needed += ["username", "password"] if grant == "password" else ["refresh_token"]
    if not all(form.get(name) for name in needed):
        return _oauth_error(400, "invalid_request", "The request is missing a required parameter.")
    client_id, client_secret = sim.login
    client = _same(form["client_id"], client_id) & _same(form["client_secret"], client_secret)
    if grant == "refresh_token":
        if not client:
            return _oauth_error(401, "invalid_credentials", "Client authentication failed.")
        if not isinstance(form["refresh_token"], str) or not sim.refresh.revoke(
                form["refresh_token"]):
            return _oauth_error(401, "invalid_request", "The refresh token is invalid.")
        sim.store.refreshes += 1
    else:
        user = _same(form["username"], sim.username) & _same(form["password"], sim.password)
        if not (client and user):
            return _oauth_error(401, "invalid_credentials", "The user credentials were incorrect.")
        sim.store.logins += 1
    access, _ = sim.tokens.issue()
    sim.refresh.ttl = 2 * sim.tokens.ttl
    refresh, _ = sim.refresh.issue()
    ttl = sim.tokens.ttl
    return JSONResponse({"access_token": access, "expires_in": int(ttl) if ttl.is_integer() else ttl,
                         "refresh_token": refresh, "token_type": "Bearer"})


# -- ERP endpoints -----------------------------------------------------------------------------


def _query_int(request: Request, name: str, low: int, high: int, problems: list[str]) -> int:
    """A required integer parameter; a problem line (Laravel's wording) when it is not one."""
    label = name.replace("_", " ")
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        problems.append(f"O campo {label} é obrigatório.")
    elif not raw.isdigit():
        problems.append(f"O campo {label} deve ser um número inteiro.")
    elif not low <= int(raw) <= high:
        problems.append(f"O campo {label} deve estar entre {low} e {high}.")
    else:
        return int(raw)
    return low


async def _list_clients(sim: Sim, request: Request) -> Response:
    problems: list[str] = []
    pagina = _query_int(request, "pagina", 0, MAX_PAGE, problems)
    itens = _query_int(request, "itens_por_pagina", 1, MAX_PAGE_SIZE, problems)
    cancelado = request.query_params.get("cancelado") or None
    if cancelado not in (None, "sim", "nao"):
        problems.append("O campo cancelado selecionado é inválido (use sim ou nao).")
    if problems:  # HubSoft's quirk: a validation error is an HTTP 200
        return JSONResponse({"status": "error", "msg": REQUIRED, "errors": problems})
    page, total = sim.store.page(pagina, itens, cancelado)
    return JSONResponse({
        "status": "success",
        "msg": "Dados consultados com sucesso",
        "clientes": [client.to_wire() for client in page],
        "paginacao": {
            "primeira_pagina": 0,
            "ultima_pagina": max(0, -(-total // itens) - 1),
            "pagina_atual": pagina,
            "total_registros": total,
        },
    })


async def _statuses(sim: Sim, request: Request) -> Response:
    return JSONResponse({
        "status": "success",
        "msg": "Dados consultados com sucesso",
        "servico_status": [{"id_servico_status": STATUS_IDS[prefixo], "descricao": label,
                            "prefixo": prefixo} for prefixo, label in STATUSES.items()],
    })


# -- admin endpoints ---------------------------------------------------------------------------


async def _load(sim: Sim, request: Request) -> Response:
    """Replace the estate: ``{"generate": N, "seed": S}`` or ``{"clientes": [...]}``."""
    body = await DIALECT.body(request)
    if ("generate" in body) == ("clientes" in body) or set(body) - {"generate", "seed",
                                                                     "clientes"}:
        raise ApiError(422, "Envie {\"generate\": N, \"seed\": S} ou {\"clientes\": [...]}.")
    try:
        if "generate" in body:
            chosen = generated(body["generate"], body.get("seed", 0))
        else:
            chosen = load_clients(body["clientes"])
        sim.store.replace(chosen)
    except ValueError as exc:
        raise ApiError(422, str(exc)) from None
    return JSONResponse({"clientes": len(sim.store.clients),
                         "servicos": len(sim.store.services)})


async def _change_service(sim: Sim, request: Request) -> Response:
    number = int(request.path_params["id_cliente_servico"])
    body = await DIALECT.body(request)
    unknown = sorted(set(body) - set(SERVICE_FIELDS))
    if unknown or not body:
        raise ApiError(422, f"Campos alteráveis: {', '.join(SERVICE_FIELDS)}"
                            + (f"; desconhecidos: {', '.join(unknown)}." if unknown else "."))
    where = f"servico {number}"
    changes: dict[str, Any] = {}
    try:
        if "status_prefixo" in body:
            changes["status_prefixo"] = status_prefixo(body["status_prefixo"], where)
        if "login" in body:
            if body["login"] is not None and not isinstance(body["login"], str):
                raise ValueError(f"{where}: login must be text or null")
            changes["login"] = body["login"]
        if "nome" in body:
            if not isinstance(body["nome"], str) or not body["nome"].strip():
                raise ValueError(f"{where}: nome must be text and not empty")
            changes["nome"] = body["nome"]
        if "pacotes" in body:
            changes["pacotes"] = packages(body["pacotes"] or [], where)
    except ValueError as exc:
        raise ApiError(422, str(exc)) from None
    return JSONResponse(sim.store.change_service(number, changes).to_wire())


def _config(sim: Sim) -> dict[str, Any]:
    return {"token_ttl": sim.tokens.ttl}


def _check_settings(changes: Mapping[str, Any]) -> dict[str, Any]:
    if "token_ttl" in changes:
        return {"token_ttl": wire.seconds(changes["token_ttl"], "token_ttl")}
    return {}
