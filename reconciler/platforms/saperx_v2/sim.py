"""SaperX v2 simulator: the VoIP platform IXC Soft creates SIP extensions, DIDs and ranges on.

SaperX publishes no API reference, so this wire contract is ours (PLATFORMS.md §5.6, §11; the
whole of it is in docs/platforms/saperx-v2.md). What is FOUND (IXC Soft's page, seed 002, and
PLATFORMS.md §5.1-§5.5): the integration takes URL, user, password, API key and API secret; an
access token "with a limited lifetime" and a refresh token that renews it without a new login;
an environment, production or homologation (whose details SaperX hands over); number ranges
(name, DDI+DDD, first and last number; each number available or in use); SIP extensions with a
6-digit account code (filled in by the platform when absent), line type new or portability,
password, active, simultaneous-call limit, plan and international plan (catalogs on the
platform, the plan's description filled in), invoice closing day, prepaid/postpaid, route
SCM/STFC/custom, caller id, LC/LDN/LDI/VC1/VC2/VC3 permissions and DIDs (number, monthly value
in BRL, collect calls, city filled in); CDRs imported daily or monthly; cancelling the contract
inactivates the extension.

Everything below is ASSUMED (INFERRED) and is the place to correct once a real capture exists:

- Environments: production under ``/api/v2``, homologation under ``/homolog/api/v2`` (a
  distinct base URL, ``<url>/homolog``), with their own data, credentials (the same as
  production's unless ``homologation_credentials`` is given) and tokens: a token of one is
  refused (401) by the other.
- ``POST /api/v2/auth/token {username, password, api_key, api_secret}`` -> ``{access_token,
  refresh_token, token_type: "Bearer", expires_in, refresh_expires_in}``; wrong credentials ->
  401 ``credenciais_invalidas``. ``POST /api/v2/auth/refresh {refresh_token}`` -> the same shape,
  a new refresh token, and the old one revoked (401 ``refresh_token_invalido`` if used again);
  access tokens already issued stay valid until they lapse. Access tokens live ``token_ttl``
  seconds (300), refresh tokens ``refresh_ttl`` (7 days); bad or expired access token -> 401
  ``token_invalido`` on every other route. Tokens are never persisted.
- Errors are SaperX's ``{"erro": <code>, "mensagem": <Portuguese text>}`` (as the STFC flavour)
  with real HTTP statuses: token_invalido, credenciais_invalidas, refresh_token_invalido 401;
  ramal_inexistente, range_inexistente, rota_inexistente 404; codigo_em_uso, did_em_uso,
  range_sobreposta, range_em_uso 409; json_invalido 400; dados_invalidos, parametro_invalido,
  plano_inexistente, did_fora_da_range, bina_invalida 422.
- Listings (ranges, extensions, CDRs): ``page`` from 1, ``per_page`` 1..1000 (default 100) ->
  ``{items, page, per_page, total, pages}``; a page past the end is empty.
- Ranges ``{id, name, prefix ("55"+DDD), start, end (8 or 9 digits, same length), status:
  available|in_use}``; a DID number is prefix + subscriber number. Overlap (same prefix and
  length, intersecting) -> 409 ``range_sobreposta``; PUT that leaves a used number out, or
  DELETE of a range in use -> 409 ``range_em_uso``.
- Plans ``{id, name, allowance_minutes: {LC..VC3}, price_per_minute: {LC..VC3: "0.10"}}``;
  international plans the same with LDI only.
- Extensions: POST creates (all fields; ``account_code`` optional), PUT changes the fields given
  (``permissions`` merged, ``dids`` replaced whole; ``active: true`` reactivates), ``POST
  .../deactivate`` is idempotent. The password is write-only (only a SHA-256 digest is kept).
- CDRs are generated, never stored: per extension and day, 0..``cdr_max_per_day`` calls drawn
  from (seed, environment, account code, day), for the days from its creation day (by the
  simulator clock; ``/_sim/backdate`` moves it back) to today on which it was active at some
  time; ``cost`` = price per minute of its call type x started minutes.

Simulator-only admin endpoints, unauthenticated and never faulted, under ``/_sim/``: counters
(``requests`` per "METHOD /route", ``writes`` per ``<environment>/<account_code>`` or
``<environment>/range/<id>`` counting only calls that changed something, ``logins``,
``refreshes``), reset, config (GET/POST: fault settings, ``token_ttl``, ``refresh_ttl``,
``plans``, ``international_plans``, ``cdr_max_per_day``), ``tokens/expire`` (access tokens),
``tokens/expire-refresh`` (refresh tokens) and ``backdate``.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reconciler.errors import SecretError
from reconciler.platforms.saperx_v2.sim_store import (
    ACCOUNT_CODE,
    BILLING,
    CALL_TYPES,
    ENVIRONMENTS,
    LINE_TYPES,
    MAX_CDR_DAYS,
    ROUTES,
    ApiError,
    Environment,
    Store,
    catalog,
    city_of,
    money,
    password_digest,
)
from reconciler.sim import wire
from reconciler.sim.clock import Clock
from reconciler.sim.faults import Faults
from reconciler.sim.tokens import TokenIssuer, bearer

PLATFORM = "saperx-v2"
DEFAULT_USERNAME = "sim-user"
DEFAULT_PASSWORD = "sim-password"
DEFAULT_API_KEY = "sim-key"
ACCESS_TTL = 300.0
REFRESH_TTL = 7 * 86400.0
HOMOLOG = "/homolog"
BASES = {"production": "", "homologation": HOMOLOG}
TAGS = {"production": "prd.", "homologation": "hml."}  # token prefixes: which data set it opens
LOGIN, REFRESH = "/api/v2/auth/token", "/api/v2/auth/refresh"
CREDENTIALS = ("username", "password", "api_key", "api_secret")
SETTINGS = ("token_ttl", "refresh_ttl", "plans", "international_plans", "cdr_max_per_day")
DIALECT = wire.portuguese(ApiError, unauthorized="Token de acesso inválido ou expirado.",
                          blank=lambda value: not value.strip())
Credentials = tuple[str, str, str, str]


@dataclass
class Sim(wire.LoginSim[Store]):
    """The shared login simulator plus the refresh tokens and each environment's credentials."""

    refresh: TokenIssuer
    credentials: dict[str, Credentials]


Handler = Callable[[Sim, Request], Awaitable[Response]]


def create_app(
    token: str,
    *,
    username: str = DEFAULT_USERNAME,
    password: str = DEFAULT_PASSWORD,
    api_key: str = DEFAULT_API_KEY,
    homologation_credentials: Mapping[str, str] | None = None,
    clock: Clock | None = None,
    faults: Faults | None = None,
    store: Store | None = None,
    seed: int | None = None,
    token_ttl: float = ACCESS_TTL,
    refresh_ttl: float = REFRESH_TTL,
    plans: Sequence[Mapping[str, Any]] | None = None,
    international_plans: Sequence[Mapping[str, Any]] | None = None,
) -> Starlette:
    """The simulator as a Starlette app; ``token`` is the api_secret it accepts.

    ``app.state.store``, ``.faults`` and ``.tokens`` (access tokens) are live. ``store`` resumes
    a persisted platform (its catalogs replaced only when given); ``seed`` seeds the fault layer
    when ``faults`` is not given, and the CDRs of a new store.
    """
    if store is None:
        store = Store(plans, international_plans, clock=clock, cdr_seed=seed or 0)
    else:
        if plans is not None:
            store.plans = store.initial_plans = catalog(plans, "plans")
        if international_plans is not None:
            store.international_plans = store.initial_international = catalog(
                international_plans, "international_plans")
        if clock is not None:
            store.clock = clock
    store.refresh_ttl = wire.seconds(refresh_ttl, "refresh_ttl")
    production = (username, password, api_key, token)
    homologation = production if homologation_credentials is None else _credentials(
        homologation_credentials, "homologation_credentials")
    tokens = TokenIssuer(wire.seconds(token_ttl, "token_ttl"), store.clock)
    refresh = TokenIssuer(store.refresh_ttl, store.clock)
    sim = Sim(store, faults or Faults(seed=seed), tokens, (username, token), refresh,
              {"production": production, "homologation": homologation})
    return wire.app(sim, DIALECT, _routes(sim))


def embedded_app(credentials: Mapping[str, str], data: Mapping[str, Any] | None) -> Starlette:
    """The app behind an ``endpoint: embedded`` integration, resuming persisted ``data``."""
    username, password, api_key, api_secret = _credentials(credentials, "credentials")
    store = Store.from_json(data) if data else Store()
    return create_app(api_secret, username=username, password=password, api_key=api_key,
                      store=store)


def _credentials(given: Mapping[str, str], where: str) -> Credentials:
    missing = [name for name in CREDENTIALS if not given.get(name)]
    if missing:
        raise SecretError(f"a saperx-v2 integration needs {', '.join(f'{where}.{m}' for m in missing)}")
    return given["username"], given["password"], given["api_key"], given["api_secret"]


def _routes(sim: Sim) -> list[Route]:
    """Every platform route twice (production, homologation), then the admin ones."""
    api: list[tuple[str, str, Handler]] = [
        ("POST", LOGIN, _login),
        ("POST", REFRESH, _refresh),
        ("GET", "/api/v2/plans", _list_plans),
        ("GET", "/api/v2/international-plans", _list_international_plans),
        ("GET", "/api/v2/ranges", _list_ranges),
        ("POST", "/api/v2/ranges", _create_range),
        ("GET", "/api/v2/ranges/{range_id:int}", _get_range),
        ("PUT", "/api/v2/ranges/{range_id:int}", _update_range),
        ("DELETE", "/api/v2/ranges/{range_id:int}", _delete_range),
        ("GET", "/api/v2/extensions", _list_extensions),
        ("POST", "/api/v2/extensions", _create_extension),
        ("GET", "/api/v2/extensions/{account_code}", _get_extension),
        ("POST", "/api/v2/extensions/{account_code}", _create_extension),
        ("PUT", "/api/v2/extensions/{account_code}", _update_extension),
        ("POST", "/api/v2/extensions/{account_code}/deactivate", _deactivate),
        ("GET", "/api/v2/cdr", _list_cdrs),
    ]
    both = [(method, base + path, handler) for base in BASES.values()
            for method, path, handler in api]
    admin = wire.admin_routes(DIALECT, settings=SETTINGS, config=_config,
                              check=lambda changes: _check_settings(sim, changes), tokens=True,
                              extra_counters=("refreshes",))
    admin += [("POST", "/_sim/tokens/expire-refresh", _expire_refresh),
              ("POST", "/_sim/backdate", _backdate)]
    public = [base + path for base in BASES.values() for path in (LOGIN, REFRESH)]
    return wire.routes(sim, DIALECT, both, admin, authorized=_authorized(sim), public=public)


def _authorized(sim: Sim) -> Callable[[Request], bool]:
    def authorized(request: Request) -> bool:
        token = bearer(request.headers.get("authorization"))
        return (sim.tokens.valid(token) and token is not None
                and token.startswith(TAGS[_env_name(request)]))

    return authorized


def _env_name(request: Request) -> str:
    return "homologation" if request.url.path.startswith(HOMOLOG + "/") else "production"


def _env(sim: Sim, request: Request) -> Environment:
    return sim.store.envs[_env_name(request)]


# -- request parsing ---------------------------------------------------------------------------

_body, _field, _query_int = DIALECT.body, DIALECT.field, DIALECT.query_int


REQUIRED: Any = object()  # a field a create must give


def _choice(body: Mapping[str, Any], name: str, choices: Sequence[str], default: Any) -> Any:
    value = _field(body, name, str) if default is REQUIRED else _field(body, name, str, default)
    if value not in choices:
        raise ApiError(422, "dados_invalidos",
                       f"Campo '{name}' deve ser um de {', '.join(choices)}.")
    return value


def _permissions(body: Mapping[str, Any], *, partial: bool) -> dict[str, bool]:
    given = body.get("permissions")
    if not isinstance(given, dict) or not set(given) <= set(CALL_TYPES) or not all(
            isinstance(v, bool) for v in given.values()):
        raise ApiError(422, "dados_invalidos", "Campo 'permissions' deve ser um objeto de "
                       f"booleanos com as chaves {', '.join(CALL_TYPES)}.")
    if not partial and set(given) != set(CALL_TYPES):
        raise ApiError(422, "dados_invalidos",
                       f"Campo 'permissions' deve dar {', '.join(CALL_TYPES)}.")
    return dict(given)


def _dids(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    given = body.get("dids")
    if not isinstance(given, list) or len(given) > 100:
        raise ApiError(422, "dados_invalidos", "Campo 'dids' deve ser uma lista (até 100).")
    out = []
    for item in given:
        if not isinstance(item, dict):
            raise ApiError(422, "dados_invalidos", "Cada DID deve ser um objeto.")
        number = _field(item, "number", str)
        if not number.isdigit() or not 12 <= len(number) <= 13:
            raise ApiError(422, "dados_invalidos", f"DID {number!r} deve ser DDI+DDD+número.")
        try:
            value = money(_field(item, "monthly_value", str))
        except ValueError as exc:
            raise ApiError(422, "dados_invalidos", f"DID {number}: monthly_value {exc}.") from None
        out.append({"number": number, "monthly_value": value,
                    "collect_calls": _field(item, "collect_calls", bool, False),
                    "city": _field(item, "city", str, None) or city_of(number)})
    return out


def _extension_fields(body: Mapping[str, Any], *, partial: bool) -> dict[str, Any]:
    """The writable fields a body gives, typed; on a create (not ``partial``) the required ones
    must be there and the others take their defaults. Absent = not given on a PUT."""
    out: dict[str, Any] = {}

    def given(name: str) -> bool:
        return not partial or name in body

    if given("password") and (not partial or body.get("password") is not None):
        out["password_sha256"] = password_digest(_field(body, "password", str))
    plain: tuple[tuple[str, type, Any], ...] = (
        ("active", bool, True), ("blocked", bool, False), ("call_limit", int, 1),
        ("plan_id", int, REQUIRED), ("closing_day", int, REQUIRED),
        ("international_plan_id", int, None), ("caller_id", str, None), ("contract", int, None))
    for name, kind, default in plain:
        if given(name):
            out[name] = (_field(body, name, kind) if default is REQUIRED
                         else _field(body, name, kind, default))
    for name, choices, default in (("billing", BILLING, REQUIRED), ("route", ROUTES, REQUIRED),
                                   ("line_type", LINE_TYPES, "new")):
        if given(name):
            out[name] = _choice(body, name, choices, default)
    if "permissions" in body or not partial:
        out["permissions"] = (_permissions(body, partial=partial) if "permissions" in body
                              else dict(DEFAULT_PERMISSIONS))
    if "dids" in body or not partial:
        out["dids"] = _dids(body) if "dids" in body else []
    return out


DEFAULT_PERMISSIONS = {"LC": True, "LDN": True, "LDI": False, "VC1": True, "VC2": True,
                       "VC3": True}


def _account_code(value: Any) -> str:
    if not isinstance(value, str) or not ACCOUNT_CODE.match(value):
        raise ApiError(422, "dados_invalidos",
                       f"Código da conta {value!r} inválido: deve ter 6 dígitos.")
    return value


def _day(request: Request, name: str) -> date:
    raw = request.query_params.get(name)
    try:
        if raw is not None and len(raw) == 10:
            return date.fromisoformat(raw)
    except ValueError:
        pass
    raise ApiError(422, "parametro_invalido", f"Parâmetro '{name}' deve ser uma data AAAA-MM-DD.")


def _page(request: Request, items: Sequence[Any], total: int, page: int,
          size: int) -> JSONResponse:
    return JSONResponse({"items": list(items), "page": page, "per_page": size, "total": total,
                         "pages": -(-total // size)})


def _paging(request: Request) -> tuple[int, int]:
    return _query_int(request, "page", 1, 1, 10**9), _query_int(request, "per_page", 100, 1, 1000)


# -- auth --------------------------------------------------------------------------------------


async def _login(sim: Sim, request: Request) -> Response:
    body = await _body(request)
    given = [_field(body, name, str) for name in CREDENTIALS]
    expected = sim.credentials[_env_name(request)]
    if not all(hmac.compare_digest(g.encode(), e.encode()) for g, e in zip(given, expected,
                                                                           strict=True)):
        raise ApiError(401, "credenciais_invalidas",
                       "Usuário, senha, API key ou API secret inválidos.")
    sim.store.logins += 1
    return _tokens(sim, request)


async def _refresh(sim: Sim, request: Request) -> Response:
    body = await _body(request)
    old = _field(body, "refresh_token", str)
    if not old.startswith(TAGS[_env_name(request)]) or not sim.refresh.revoke(old):
        raise ApiError(401, "refresh_token_invalido", "Refresh token inválido, expirado ou já "
                       "utilizado: autentique-se novamente.")
    sim.store.refreshes += 1
    return _tokens(sim, request)


def _tokens(sim: Sim, request: Request) -> JSONResponse:
    tag = TAGS[_env_name(request)]
    sim.refresh.ttl = sim.store.refresh_ttl
    access, _ = sim.tokens.issue(tag)
    refresh, _ = sim.refresh.issue(tag)
    return JSONResponse({"access_token": access, "refresh_token": refresh,
                         "token_type": "Bearer", "expires_in": _seconds(sim.tokens.ttl),
                         "refresh_expires_in": _seconds(sim.refresh.ttl)})


def _seconds(ttl: float) -> int | float:
    return int(ttl) if float(ttl).is_integer() else ttl


# -- catalogs and ranges -----------------------------------------------------------------------


async def _list_plans(sim: Sim, request: Request) -> Response:
    return JSONResponse({"items": sim.store.plans})


async def _list_international_plans(sim: Sim, request: Request) -> Response:
    return JSONResponse({"items": sim.store.international_plans})


async def _list_ranges(sim: Sim, request: Request) -> Response:
    env = _env(sim, request)
    page, size = _paging(request)
    ranges = [env.ranges[i] for i in sorted(env.ranges)]
    chosen = ranges[(page - 1) * size:page * size]
    return _page(request, [sim.store.range_wire(env, r) for r in chosen], len(ranges), page, size)


async def _range_body(request: Request) -> tuple[str, str, str, str]:
    body = await _body(request)
    return (_field(body, "name", str), _field(body, "prefix", str), _field(body, "start", str),
            _field(body, "end", str))


async def _create_range(sim: Sim, request: Request) -> Response:
    env = _env(sim, request)
    created = sim.store.create_range(env, *await _range_body(request))
    return JSONResponse(sim.store.range_wire(env, created), 201)


def _range_id(request: Request) -> int:
    return int(request.path_params["range_id"])


async def _get_range(sim: Sim, request: Request) -> Response:
    env = _env(sim, request)
    return JSONResponse(sim.store.range_wire(env, sim.store.get_range(env, _range_id(request))))


async def _update_range(sim: Sim, request: Request) -> Response:
    env = _env(sim, request)
    sim.store.get_range(env, _range_id(request))
    updated = sim.store.update_range(env, _range_id(request), *await _range_body(request))
    return JSONResponse(sim.store.range_wire(env, updated))


async def _delete_range(sim: Sim, request: Request) -> Response:
    sim.store.delete_range(_env(sim, request), _range_id(request))
    return JSONResponse({"deleted": _range_id(request)})


# -- extensions --------------------------------------------------------------------------------


async def _list_extensions(sim: Sim, request: Request) -> Response:
    page, size = _paging(request)
    raw = request.query_params.get("contract")
    if raw is not None and not raw.isdigit():
        raise ApiError(422, "parametro_invalido", "Parâmetro 'contract' deve ser um inteiro.")
    items, total = sim.store.listing(_env(sim, request), int(raw) if raw else None,
                                     (page - 1) * size, size)
    return _page(request, [sim.store.extension_wire(e) for e in items], total, page, size)


async def _get_extension(sim: Sim, request: Request) -> Response:
    ext = sim.store.get_extension(_env(sim, request), _path_code(request))
    return JSONResponse(sim.store.extension_wire(ext))


def _path_code(request: Request) -> str:
    return _account_code(request.path_params["account_code"])


async def _create_extension(sim: Sim, request: Request) -> Response:
    body = await _body(request)
    code = body.get("account_code")
    if code is not None:
        code = _account_code(code)
    if "account_code" in request.path_params:
        in_path = _path_code(request)
        if code not in (None, in_path):
            raise ApiError(422, "dados_invalidos",
                           f"Código da conta {code} do corpo difere do caminho ({in_path}).")
        code = in_path
    ext = sim.store.create_extension(_env(sim, request), code,
                                     _extension_fields(body, partial=False))
    return JSONResponse(sim.store.extension_wire(ext), 201)


async def _update_extension(sim: Sim, request: Request) -> Response:
    env, code = _env(sim, request), _path_code(request)
    sim.store.get_extension(env, code)  # 404 before validating the body
    body = await _body(request)
    if body.get("account_code") not in (None, code):
        raise ApiError(422, "dados_invalidos", "O código da conta não pode ser alterado.")
    ext = sim.store.update_extension(env, code, _extension_fields(body, partial=True))
    return JSONResponse(sim.store.extension_wire(ext))


async def _deactivate(sim: Sim, request: Request) -> Response:
    ext = sim.store.deactivate(_env(sim, request), _path_code(request))
    return JSONResponse(sim.store.extension_wire(ext))


# -- CDRs --------------------------------------------------------------------------------------


async def _list_cdrs(sim: Sim, request: Request) -> Response:
    first, last = _day(request, "from"), _day(request, "to")
    if last < first or (last - first).days >= MAX_CDR_DAYS:
        raise ApiError(422, "parametro_invalido", "O período deve ter 'from' <= 'to' e no "
                       f"máximo {MAX_CDR_DAYS} dias.")
    code = request.query_params.get("account_code") or None
    if code is not None:
        code = _account_code(code)
    page, size = _paging(request)
    items, total = sim.store.cdr_page(_env(sim, request), first, last, code, (page - 1) * size,
                                      size)
    return _page(request, items, total, page, size)


# -- admin endpoints ---------------------------------------------------------------------------


def _config(sim: Sim) -> dict[str, Any]:
    return {"token_ttl": sim.tokens.ttl, "refresh_ttl": sim.store.refresh_ttl,
            "plans": sim.store.plans, "international_plans": sim.store.international_plans,
            "cdr_max_per_day": sim.store.cdr_max_per_day}


def _check_settings(sim: Sim, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Every setting checked before any is applied (ValueError says what is wrong); a catalog
    must keep every plan an extension uses."""
    checked: dict[str, Any] = {}
    for name, value in changes.items():
        if name in ("token_ttl", "refresh_ttl"):
            checked[name] = wire.seconds(value, name)
        elif name == "cdr_max_per_day":
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 50:
                raise ValueError("cdr_max_per_day must be an integer from 0 to 50")
            checked[name] = value
        else:
            plans = catalog(value, name)
            international = name == "international_plans"
            dropped = sim.store.plans_in_use(international=international) - {
                p["id"] for p in plans}
            if dropped:
                raise ValueError(f"{name}: plans {sorted(dropped)} are used by extensions")
            checked[name] = plans
    return checked


async def _expire_refresh(sim: Sim, request: Request) -> Response:
    return JSONResponse({"expired": sim.refresh.expire_all()})


async def _backdate(sim: Sim, request: Request) -> Response:
    """``{environment?, account_code, created_on}``: the extension existed (and was as active
    as at its creation) since ``created_on``."""
    body = await _body(request)
    env_name = _field(body, "environment", str, "production")
    if env_name not in ENVIRONMENTS:
        raise DIALECT.refuse("bad_choice", name="environment", choices=str(list(ENVIRONMENTS)))
    raw = _field(body, "created_on", str)
    try:
        created_on = date.fromisoformat(raw).isoformat()
        ext = sim.store.backdate(sim.store.envs[env_name],
                                 _account_code(_field(body, "account_code", str)), created_on)
    except ValueError as exc:
        raise DIALECT.refuse("bad_setting", reason=str(exc)) from None
    return JSONResponse(sim.store.extension_wire(ext))
